namespace NotebookVgg.Data;

/// <summary>CIFAR-10 (or a data set in its layout) loaded into memory: train and test splits and class names.</summary>
public sealed class Cifar10Dataset : IDisposable
{
    internal Cifar10Dataset(string directory, Cifar10Split train, Cifar10Split test, string[] classNames, string sourceName, bool isSynthetic)
    {
        Directory = directory;
        Train = train;
        Test = test;
        ClassNames = classNames;
        SourceName = sourceName;
        IsSynthetic = isSynthetic;
    }

    /// <summary>The cifar-10-batches-bin folder the files were read from.</summary>
    public string Directory { get; }

    /// <summary>data_batch_1.bin … data_batch_5.bin.</summary>
    public Cifar10Split Train { get; }

    /// <summary>test_batch.bin.</summary>
    public Cifar10Split Test { get; }

    /// <summary>From batches.meta.txt, in label order.</summary>
    public string[] ClassNames { get; }

    /// <summary>
    /// What the images are, for titles and reports: "CIFAR-10", "CIFAR-10 sample", or
    /// <see cref="Cifar10.SyntheticSourceName"/> for generated data (never anything else for those).
    /// </summary>
    public string SourceName { get; }

    /// <summary>True when the folder was written by <see cref="SyntheticCifar"/>.</summary>
    public bool IsSynthetic { get; }

    /// <summary>Disposes both splits.</summary>
    public void Dispose()
    {
        Train.Dispose();
        Test.Dispose();
    }
}
