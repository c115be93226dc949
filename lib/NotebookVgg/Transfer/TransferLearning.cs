using NotebookVgg.Data;
using NotebookVgg.Runtime;
using NotebookVgg.Training;

namespace NotebookVgg.Transfer;

/// <summary>
/// The tutorial's recipe, end to end: loads the data and takes the settings' splits, then runs the recipe the options'
/// mode names — <see cref="FeatureRecipe"/> (the frozen <see cref="Backbone"/>'s features, cached, and a new head) or
/// <see cref="FineTuneRecipe"/> (the whole network, from the pretrained weights or from scratch) — and tests the result.
/// </summary>
public sealed class TransferLearning
{
    /// <summary>One-line messages about what the run is doing (for logs and notebooks).</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Progress of feature extraction, per batch (features mode only, and only for features not already cached).</summary>
    public IProgress<ExtractionProgress>? Extraction { get; init; }

    /// <summary>Progress of training, after every batch and epoch; passed on to the <see cref="Trainer"/>.</summary>
    public IProgress<TrainingProgress>? Training { get; init; }

    /// <summary>
    /// Runs the recipe <paramref name="settings"/> describe: loads the data and splits it, builds the model, trains it in the
    /// options' mode (checkpointing and resuming as the settings say) and evaluates it on the test split.
    /// </summary>
    public TransferResult Run(TransferSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Options.Validate();
        var device = Devices.Resolve(settings.Options.Device);
        // A checkpoint that cannot be written fails before the features and the training, not after them.
        using var writing = settings.CheckpointPath is null ? null : Checkpoint.BeginWriting(settings.CheckpointPath, 0);
        using var data = Cifar10.Load(settings.DataDirectory);
        using var splits = RunSplits.Of(settings, data);
        Say($"data: {data.SourceName}: {splits.Train.Count:N0} train, {splits.Validation.Count:N0} validation, {splits.Test.Count:N0} test images");
        var description = ModelDescription.For(settings, data);
        return settings.Options.Mode == TrainingMode.Features
            ? new FeatureRecipe(this).Run(settings, description, splits, device, cancellationToken)
            : new FineTuneRecipe(this).Run(settings, description, splits, device, cancellationToken);
    }

    /// <summary>
    /// The frozen network's features (the settings' cut: fc7 or pool5) of the train, validation and test splits that
    /// <see cref="Run"/> would use with these settings, whatever their mode, through the same feature cache, precision
    /// choice and splits: computed and stored when not cached yet, so that a later <see cref="Run"/> in features mode
    /// reads them instead of computing them again. The caller disposes the result.
    /// </summary>
    public SplitFeatures Features(TransferSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Options.Validate();
        var device = Devices.Resolve(settings.Options.Device);
        using var data = Cifar10.Load(settings.DataDirectory);
        using var splits = RunSplits.Of(settings, data);
        var f = new FeatureRecipe(this).Extract(settings with { Options = settings.Options with { Mode = TrainingMode.Features } }, splits, device, cancellationToken);
        return new SplitFeatures(f.Train, f.Validation, f.Test, f.Backbone, f.Precision, data.ClassNames, data.SourceName);
    }

    internal void Say(string message) => Log?.Invoke(message);

    /// <summary>
    /// One line when <paramref name="s"/> reproduce the tutorial's companion notebook rather than the correct recipe (its
    /// double softmax, its inputs without mean and std), so a run's log says what it trains; null otherwise.
    /// </summary>
    internal static string? TutorialVariant(TransferSettings s)
    {
        var parts = new List<string>();
        if (s.Options.Loss == LossKind.DoubleSoftmax)
            parts.Add("the loss on softmax(logits), softmax applied twice");
        if (s.Normalization == InputNormalization.None)
            parts.Add("inputs in [0, 1] without the weights' mean and std");
        return parts.Count == 0 ? null : "as the tutorial's companion notebook: " + string.Join("; ", parts);
    }
}

/// <summary>A run's three splits and the data's class names; disposing it disposes the splits.</summary>
internal sealed record RunSplits(Cifar10Split Train, Cifar10Split Validation, Cifar10Split Test, string[] ClassNames) : IDisposable
{
    public static RunSplits Of(TransferSettings settings, Cifar10Dataset data)
    {
        var (train, validation, test) = settings.Splits(data);
        return new RunSplits(train, validation, test, data.ClassNames);
    }

    public void Dispose()
    {
        Train.Dispose();
        Validation.Dispose();
        Test.Dispose();
    }
}
