using Microsoft.Data.Analysis;

namespace NotebookVgg.Training;

/// <summary>One finished epoch.</summary>
public sealed record EpochRecord(
    int Epoch,
    double TrainLoss,
    double TrainAccuracy,
    double? ValidationLoss,
    double? ValidationAccuracy,
    double LearningRate,
    double Seconds);

/// <summary>Per-epoch figures of a run, for tables, charts and JSON.</summary>
public sealed class TrainingHistory
{
    /// <summary>An empty history, or one continuing a copy of <paramref name="epochs"/> (a resumed run's).</summary>
    /// <param name="dataName">See <see cref="DataName"/>.</param>
    /// <param name="epochs">Epochs already finished, copied; null for none.</param>
    public TrainingHistory(string dataName = "", IEnumerable<EpochRecord>? epochs = null)
    {
        DataName = dataName;
        Epochs = [.. epochs ?? []];
    }

    /// <summary>Which data the run used ("CIFAR-10", "CIFAR-10 sample", "synthetic ..."), for titles.</summary>
    public string DataName { get; set; }

    /// <summary>One record per finished epoch, in order; the trainer appends to it.</summary>
    public List<EpochRecord> Epochs { get; }

    /// <summary>The epoch with the highest validation accuracy (the earliest on a tie); null when no epoch was validated.</summary>
    public EpochRecord? Best => Epochs.Where(e => e.ValidationAccuracy is not null).MaxBy(e => e.ValidationAccuracy);

    /// <summary>
    /// One row per epoch: epoch, train_loss, train_accuracy, val_loss, val_accuracy (null where not validated),
    /// learning_rate, seconds. Rounded for reading (<paramref name="digits"/> decimals; the learning rate to 3 significant
    /// digits, seconds to 2 decimals); <see cref="Epochs"/> keeps the exact values.
    /// </summary>
    public DataFrame ToDataFrame(int digits = 4) => new(
        new Int32DataFrameColumn("epoch", Epochs.Select(e => e.Epoch)),
        new DoubleDataFrameColumn("train_loss", Epochs.Select(e => Math.Round(e.TrainLoss, digits))),
        new DoubleDataFrameColumn("train_accuracy", Epochs.Select(e => Math.Round(e.TrainAccuracy, digits))),
        new DoubleDataFrameColumn("val_loss", Epochs.Select(e => e.ValidationLoss is { } v ? Math.Round(v, digits) : (double?)null)),
        new DoubleDataFrameColumn("val_accuracy", Epochs.Select(e => e.ValidationAccuracy is { } v ? Math.Round(v, digits) : (double?)null)),
        new DoubleDataFrameColumn("learning_rate", Epochs.Select(e => Significant(e.LearningRate, 3))),
        new DoubleDataFrameColumn("seconds", Epochs.Select(e => Math.Round(e.Seconds, 2))));

    private static double Significant(double value, int figures) =>
        value == 0 || !double.IsFinite(value) ? value
        : Math.Round(value, Math.Clamp(figures - 1 - (int)Math.Floor(Math.Log10(Math.Abs(value))), 0, 15));
}
