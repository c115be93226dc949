namespace NotebookVgg.Training;

/// <summary>The loss became NaN or infinite; training stops with the epoch and batch where it happened.</summary>
public sealed class TrainingDivergedException : Exception
{
    public TrainingDivergedException(string message) : base(message) { }
    public TrainingDivergedException() { }
    public TrainingDivergedException(string message, Exception inner) : base(message, inner) { }
}
