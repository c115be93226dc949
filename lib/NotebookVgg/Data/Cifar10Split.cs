using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Data;

/// <summary>
/// One split of CIFAR-10 held in memory: images as uint8 N×3×32×32 (RGB planes, row-major, as in the
/// binary files) and labels as int64 N. Every record remembers which batch file it came from, so a
/// validation split can be taken per file the way the tutorial does.
/// </summary>
public sealed class Cifar10Split : IDisposable
{
    private readonly byte[] _labels;        // managed copy of Labels, for counting and selecting without native calls
    private readonly int[] _fileOfRecord;   // index into _files of the batch file each record was read from
    private readonly string[] _files;
    private bool _disposed;

    internal Cifar10Split(string name, Tensor images, byte[] labels, int[] fileOfRecord, string[] files)
    {
        Name = name;
        Images = images;
        _labels = labels;
        _fileOfRecord = fileOfRecord;
        _files = files;
        Labels = torch.tensor(labels.Select(l => (long)l).ToArray(), dtype: ScalarType.Int64);
        Labels.DetachFromDisposeScope();
        Images.DetachFromDisposeScope();
    }

    /// <summary>"train", "test", "validation", or the name given to a subset.</summary>
    public string Name { get; }

    /// <summary>uint8, N×3×32×32, values 0–255.</summary>
    public Tensor Images { get; }

    /// <summary>int64, N, values 0–9.</summary>
    public Tensor Labels { get; }

    /// <summary>Records in the split (N).</summary>
    public int Count => _labels.Length;

    /// <summary>The batch files the records were read from (file names only), in reading order.</summary>
    public IReadOnlyList<string> SourceFiles => _files;

    /// <summary>The label of record <paramref name="index"/>, without touching the tensor.</summary>
    public int LabelAt(int index) => _labels[index];

    /// <summary>How many records of each class (index = label).</summary>
    public int[] CountPerClass()
    {
        var counts = new int[Cifar10.ClassCount];
        foreach (byte label in _labels)
            counts[label]++;
        return counts;
    }

    /// <summary>A new split holding copies of the given records, in the given order.</summary>
    public Cifar10Split Subset(long[] indices, string name)
    {
        ArgumentNullException.ThrowIfNull(indices);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var labels = new byte[indices.Length];
        var files = new int[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            long index = indices[i];
            if (index < 0 || index >= Count)
                throw new ArgumentOutOfRangeException(nameof(indices), $"index {index} (position {i}) is outside split '{Name}' of {Count} records");
            labels[i] = _labels[index];
            files[i] = _fileOfRecord[index];
        }
        using var scope = torch.NewDisposeScope();
        using var selector = torch.tensor(indices, dtype: ScalarType.Int64);
        var images = Images.index_select(0, selector);
        return new Cifar10Split(name, images, labels, files, _files);
    }

    /// <summary>
    /// <paramref name="perClass"/> records of every class, drawn at random with <paramref name="seed"/> (<see cref="Seeding"/>)
    /// (same seed, same records), kept in their original order. Fails if a class has fewer records.
    /// </summary>
    public Cifar10Split BalancedSubset(int perClass, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(perClass);
        var byClass = new List<long>[Cifar10.ClassCount];
        for (int c = 0; c < byClass.Length; c++)
            byClass[c] = [];
        for (int i = 0; i < _labels.Length; i++)
            byClass[_labels[i]].Add(i);

        using var generator = Seeding.Generator(seed, epoch: 0);
        var chosen = new List<long>(perClass * Cifar10.ClassCount);
        for (int c = 0; c < byClass.Length; c++)
        {
            if (byClass[c].Count < perClass)
                throw new ArgumentOutOfRangeException(nameof(perClass), $"split '{Name}' has {byClass[c].Count} records of class {c}, fewer than the {perClass} per class asked for");
            long[] pick = Seeding.Permutation(byClass[c].Count, generator);
            for (int k = 0; k < perClass; k++)
                chosen.Add(byClass[c][(int)pick[k]]);
        }
        chosen.Sort();
        return Subset([.. chosen], $"{Name} ({perClass} per class, seed {seed})");
    }

    /// <summary>
    /// Splits off a validation set the way the tutorial does: the last <paramref name="fraction"/> of the
    /// records of each batch file (no randomness; with the official files 45,000 train / 5,000 validation,
    /// the last 1,000 records of each data_batch_N.bin). For a subset, "each batch file" means the subset's
    /// records that came from that file, in the subset's order. Returns the rest (named like this split)
    /// and the validation part (named "validation").
    /// </summary>
    public (Cifar10Split train, Cifar10Split validation) SplitValidation(double fraction = 0.1)
    {
        if (!(fraction > 0 && fraction < 1))
            throw new ArgumentOutOfRangeException(nameof(fraction), $"validation fraction {fraction} must lie strictly between 0 and 1");
        var train = new List<long>(Count);
        var validation = new List<long>();
        for (int file = 0; file < _files.Length; file++)
        {
            var records = new List<long>();
            for (int i = 0; i < _fileOfRecord.Length; i++)
            {
                if (_fileOfRecord[i] == file)
                    records.Add(i);
            }
            int held = (int)Math.Round(records.Count * fraction, MidpointRounding.AwayFromZero);
            train.AddRange(records.Take(records.Count - held));
            validation.AddRange(records.Skip(records.Count - held));
        }
        if (validation.Count == 0 || train.Count == 0)
            throw new ArgumentOutOfRangeException(nameof(fraction), $"a validation fraction of {fraction} of split '{Name}' ({Count} records) leaves one part empty");
        train.Sort();
        validation.Sort();
        var trainPart = Subset([.. train], Name);
        try
        {
            return (trainPart, Subset([.. validation], "validation"));
        }
        catch
        {
            trainPart.Dispose();
            throw;
        }
    }

    /// <summary>Disposes <see cref="Images"/> and <see cref="Labels"/>; subsets taken earlier keep their own copies.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        Images.Dispose();
        Labels.Dispose();
    }
}
