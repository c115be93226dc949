namespace NotebookVgg.Training;

/// <summary>
/// The learning-rate multiplier at any point of training, computed from the step alone (no scheduler state),
/// so a resumed run gets exactly the rates an uninterrupted one would.
/// </summary>
internal static class LearningRateSchedule
{
    /// <summary>Multiplier in [0,1] for the <paramref name="step"/>-th optimizer step (0-based) of <paramref name="stepsPerEpoch"/>·epochs.</summary>
    public static double Factor(TrainingOptions options, long step, long stepsPerEpoch)
    {
        ArgumentNullException.ThrowIfNull(options);
        double epoch = (double)step / Math.Max(1, stepsPerEpoch); // fractional epoch
        if (options.WarmupEpochs > 0 && epoch < options.WarmupEpochs)
            return (step + 1.0) / (options.WarmupEpochs * (double)stepsPerEpoch);
        double after = epoch - options.WarmupEpochs;
        return options.Schedule switch
        {
            ScheduleKind.Constant => 1.0,
            ScheduleKind.Step => Math.Pow(options.StepGamma, Math.Floor(after / options.StepEpochs)),
            ScheduleKind.Cosine => 0.5 * (1 + Math.Cos(Math.PI * Math.Min(1.0, after / Math.Max(1, options.Epochs - options.WarmupEpochs)))),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Schedule, "unknown schedule"),
        };
    }
}
