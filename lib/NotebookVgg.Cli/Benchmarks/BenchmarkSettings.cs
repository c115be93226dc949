namespace NotebookVgg.Cli.Benchmarks;

/// <summary>What a benchmark run measures and with which shapes. <see cref="Quick"/> shrinks every shape so a test runs in seconds.</summary>
public sealed record BenchmarkSettings
{
    /// <summary>Timed repeats per line (the median is reported); default 3, 1 in quick mode.</summary>
    public int Repeats { get; init; } = 3;

    /// <summary>Untimed iterations before the timed ones.</summary>
    public int Warmup { get; init; } = 1;

    /// <summary>Torch intra-op threads; null keeps libtorch's default.</summary>
    public int? Threads { get; init; }

    /// <summary>Small shapes and data, for tests and a first look: the figures are not comparable with a full run.</summary>
    public bool Quick { get; init; }

    /// <summary>Which cases to run (a subset of <see cref="BenchmarkSuite.AllCases"/>); they run in the canonical order.</summary>
    public IReadOnlyList<string> Cases { get; init; } = BenchmarkSuite.DefaultCases;

    /// <summary>CIFAR-10 folder for the load and pipeline cases; null writes synthetic data to a temporary folder.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>Weights file for the VGG19 cases (only the numerics depend on it); null keeps torchvision-style random initialization.</summary>
    public string? WeightsPath { get; init; }

    /// <summary>
    /// Switch glibc malloc to keep freed memory (<see cref="Runtime.NativeAllocator.KeepFreedMemory"/>) before measuring,
    /// and run the PyTorch reference with the same setting. False measures the C library's defaults on both sides.
    /// </summary>
    public bool KeepFreedMemory { get; init; } = true;

    /// <summary>
    /// Time by processor time instead of the wall clock: each iteration's seconds are the process's user and system time
    /// divided by its torch threads, what the iteration would take with those cores to itself. For a machine shared with
    /// other work, where the wall clock mostly measures the neighbours; PyTorch's reference is timed the same way.
    /// </summary>
    public bool CpuTime { get; init; }

    /// <summary>Length of each cached feature vector in the head case: 4,096 (after fc7) or 25,088 (after avgpool).</summary>
    public int HeadFeatures { get; init; } = 4096;

    public int MatmulSize => Quick ? 1024 : 2048;

    /// <summary>Batch of the 224×224 forward and train cases, and of the data pipeline.</summary>
    public int Batch224 => Quick ? 2 : 16;

    /// <summary>Steps of each timed run of the trainer case (one epoch, a new trainer each run).</summary>
    public int TrainerSteps => Quick ? 2 : 6;

    /// <summary>Batch of the 32×32 conv-features case.</summary>
    public int Batch32 => Quick ? 16 : 256;

    /// <summary>Batch of the 112×112 fc7-features case (the cpu profile's extraction uses 64).</summary>
    public int Batch112 => Quick ? 4 : 64;

    public int SyntheticTrainCount => Quick ? 5_000 : 50_000;
    public int SyntheticTestCount => Quick ? 1_000 : 10_000;

    /// <summary>Batches the pipeline case prepares per timed iteration.</summary>
    public int PipelineBatches => Quick ? 4 : 40;

    public int HeadSamples => Quick ? 5_000 : 50_000;
    public int HeadEpochs => Quick ? 2 : 10;
    public int HeadBatchSize => 256;

    /// <summary>The end-to-end case's training images per class: the cpu profile's 1,000 (quick: 20).</summary>
    public int EndToEndTrainPerClass => Quick ? 20 : 1000;

    /// <summary>The end-to-end case's test images (synthetic data): 1,000 (quick: 100).</summary>
    public int EndToEndTestCount => Quick ? 100 : 1000;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad value.</summary>
    public void Validate()
    {
        if (Repeats < 1) throw new ArgumentException($"repeats {Repeats}: must be at least 1");
        if (Warmup < 0) throw new ArgumentException($"warm-up {Warmup}: must not be negative");
        if (Threads is < 1) throw new ArgumentException($"threads {Threads}: must be at least 1");
        if (HeadFeatures is not (4096 or 25088)) throw new ArgumentException($"head features {HeadFeatures}: must be 4096 (after fc7) or 25088 (after avgpool)");
        if (Cases.Count == 0) throw new ArgumentException("no benchmark case chosen");
        foreach (string c in Cases)
        {
            if (!BenchmarkSuite.AllCases.Contains(c))
                throw new ArgumentException($"unknown benchmark case '{c}' (cases: {string.Join(", ", BenchmarkSuite.AllCases)})");
        }
        if (DataDirectory is not null && !Directory.Exists(DataDirectory))
            throw new ArgumentException($"{DataDirectory}: no such data folder");
        if (WeightsPath is not null && !File.Exists(WeightsPath))
            throw new ArgumentException($"{WeightsPath}: no such weights file");
    }
}
