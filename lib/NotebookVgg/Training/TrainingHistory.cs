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
    public TrainingHistory(string dataName = "", IEnumerable<EpochRecord>? epochs = null)
    {
        DataName = dataName;
        Epochs = [.. epochs ?? []];
    }

    /// <summary>Which data the run used ("CIFAR-10", "CIFAR-10 sample", "synthetic ..."), for titles.</summary>
    public string DataName { get; set; }

    public List<EpochRecord> Epochs { get; }

    public EpochRecord? Best => Epochs.Where(e => e.ValidationAccuracy is not null).MaxBy(e => e.ValidationAccuracy);

    public DataFrame ToDataFrame() => new(
        new Int32DataFrameColumn("epoch", Epochs.Select(e => e.Epoch)),
        new DoubleDataFrameColumn("train_loss", Epochs.Select(e => e.TrainLoss)),
        new DoubleDataFrameColumn("train_accuracy", Epochs.Select(e => e.TrainAccuracy)),
        new DoubleDataFrameColumn("val_loss", Epochs.Select(e => e.ValidationLoss)),
        new DoubleDataFrameColumn("val_accuracy", Epochs.Select(e => e.ValidationAccuracy)),
        new DoubleDataFrameColumn("learning_rate", Epochs.Select(e => e.LearningRate)),
        new DoubleDataFrameColumn("seconds", Epochs.Select(e => e.Seconds)));
}
