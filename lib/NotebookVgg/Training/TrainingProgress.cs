namespace NotebookVgg.Training;

/// <summary>Reported after every batch (<see cref="EpochDone"/> null) and after every epoch (<see cref="EpochDone"/> set).</summary>
public sealed record TrainingProgress(
    int Epoch,
    int Epochs,
    int Batch,
    int Batches,
    double RunningLoss,
    double RunningAccuracy,
    double ItemsPerSecond,
    TimeSpan Elapsed,
    TimeSpan? Remaining,
    EpochRecord? EpochDone)
{
    /// <summary>Fraction of the whole run done, in [0,1].</summary>
    public double Fraction => Epochs == 0 || Batches == 0 ? 0 : ((Epoch - 1) + (double)Batch / Batches) / Epochs;
}

/// <summary>An <see cref="IProgress{T}"/> that calls back synchronously on the training thread (Progress&lt;T&gt; posts to the thread pool, out of order).</summary>
public sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    /// <summary>Calls the callback with <paramref name="value"/> before returning, on the caller's thread.</summary>
    public void Report(T value) => report(value);
}
