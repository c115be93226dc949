namespace NotebookVgg.Training;

/// <summary>The loss became NaN or infinite; training stops with the epoch and batch where it happened.</summary>
public sealed class TrainingDivergedException : Exception
{
    /// <summary>With a message saying where the loss diverged (the trainer names the epoch, batch and loss value).</summary>
    public TrainingDivergedException(string message) : base(message) { }

    /// <summary>Without a message of its own; the trainer always passes one.</summary>
    public TrainingDivergedException() { }

    /// <summary>With a message and the exception that caused this one.</summary>
    public TrainingDivergedException(string message, Exception inner) : base(message, inner) { }
}
