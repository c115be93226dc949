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
    /// learning_rate, seconds.
    /// </summary>
    public DataFrame ToDataFrame() => new(
        new Int32DataFrameColumn("epoch", Epochs.Select(e => e.Epoch)),
        new DoubleDataFrameColumn("train_loss", Epochs.Select(e => e.TrainLoss)),
        new DoubleDataFrameColumn("train_accuracy", Epochs.Select(e => e.TrainAccuracy)),
        new DoubleDataFrameColumn("val_loss", Epochs.Select(e => e.ValidationLoss)),
        new DoubleDataFrameColumn("val_accuracy", Epochs.Select(e => e.ValidationAccuracy)),
        new DoubleDataFrameColumn("learning_rate", Epochs.Select(e => e.LearningRate)),
        new DoubleDataFrameColumn("seconds", Epochs.Select(e => e.Seconds)));
}
