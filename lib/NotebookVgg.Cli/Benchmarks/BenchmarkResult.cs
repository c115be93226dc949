namespace NotebookVgg.Cli.Benchmarks;

/// <summary>One measured (or skipped) line of a benchmark run.</summary>
public sealed record BenchmarkResult
{
    /// <summary>The case it belongs to: one of <see cref="BenchmarkSuite.AllCases"/>.</summary>
    public required string Case { get; init; }

    /// <summary>What was timed, with its shape: "VGG19 forward 224×224, batch 16".</summary>
    public required string Name { get; init; }

    /// <summary>Layout and precision: "fp32 NCHW", "fp32 channels-last", "bf16 channels-last", "autocast bf16 channels-last".</summary>
    public string Configuration { get; init; } = "";

    /// <summary>True for the configuration nvgg and the notebooks use by default on this machine (<see cref="BenchmarkSuite.DefaultConfiguration"/>).</summary>
    public bool Default { get; init; }

    /// <summary>Why this line was not measured (then every figure is null).</summary>
    public string? Skipped { get; init; }

    /// <summary>Images (or samples) one timed iteration processes.</summary>
    public long? ImagesPerIteration { get; init; }

    /// <summary>Median seconds of one iteration, by the run's clock (wall, or processor time over threads with --cpu-time).</summary>
    public double? Seconds { get; init; }

    /// <summary>Every timed repeat, wall seconds.</summary>
    public IReadOnlyList<double>? Times { get; init; }

    /// <summary>Every timed repeat's processor seconds (all threads; see <see cref="BenchmarkSettings.CpuTime"/>).</summary>
    public IReadOnlyList<double>? CpuTimes { get; init; }

    public double? ImagesPerSecond { get; init; }

    /// <summary>Floating-point operations of one iteration (2 per multiply-accumulate; a train step = 3 × forward).</summary>
    public double? FlopsPerIteration { get; init; }

    public double? GflopsPerSecond { get; init; }

    /// <summary>GFLOP/s as a fraction of the float32 2048×2048 matmul rate measured in the same run.</summary>
    public double? FractionOfMatmul { get; init; }

    /// <summary>Images/s relative to the case's fp32 NCHW line.</summary>
    public double? SpeedupOverFp32Nchw { get; init; }

    /// <summary>Peak resident memory during this case, MiB (see <see cref="BenchmarkReport.MemoryNote"/>).</summary>
    public double? PeakResidentMb { get; init; }

    /// <summary>‖this output − fp32 NCHW output‖₂ / ‖fp32 NCHW output‖₂ on the benchmark batch.</summary>
    public double? RelativeL2 { get; init; }

    /// <summary>Fraction of the benchmark batch whose top-1 class equals the fp32 NCHW one.</summary>
    public double? Top1Agreement { get; init; }

    /// <summary>
    /// Relative L2 of the input-dependent part of the logits: each output minus its mean over the batch. A network with
    /// random weights gives every input nearly the same logits; this part is what tells inputs apart.
    /// </summary>
    public double? CenteredRelativeL2 { get; init; }

    /// <summary>Top-1 agreement of the logits minus their batch mean (see <see cref="CenteredRelativeL2"/>).</summary>
    public double? CenteredTop1Agreement { get; init; }

    /// <summary>How many distinct top-1 classes this line's logits give over the batch (raw, and after centering): how telling the agreement is.</summary>
    public string? DistinctTop1Classes { get; init; }

    /// <summary>Data pipeline only: its time per batch over a train step's (the fastest train configuration measured).</summary>
    public double? ShareOfTrainStep { get; init; }

    /// <summary>Anything a reader needs to interpret the line.</summary>
    public string? Note { get; init; }
}

/// <summary>One figure against its target.</summary>
/// <param name="Name">What is checked: "forward vs PyTorch".</param>
/// <param name="Target">The target in words: "≥ 1.5× PyTorch".</param>
/// <param name="Value">The measured value in <paramref name="Unit"/>; null when not measured.</param>
/// <param name="Unit">"ratio" (times), "fraction" (0–1) or "seconds".</param>
/// <param name="Met">Whether the target is met; null when not measured.</param>
/// <param name="Detail">How the value was formed, or why it is missing.</param>
public sealed record TargetCheck(string Name, string Target, double? Value, string Unit, bool? Met, string Detail);

/// <summary>A .NET line beside PyTorch's line for the same case and shape.</summary>
/// <param name="Case">The benchmark case.</param>
/// <param name="Configuration">The NotebookVgg line's configuration (PyTorch's is always fp32 NCHW).</param>
/// <param name="NotebookVgg">NotebookVgg's figure.</param>
/// <param name="PyTorch">PyTorch's figure.</param>
/// <param name="Ratio">NotebookVgg's figure over PyTorch's.</param>
/// <param name="Unit">images/s, or GFLOP/s for the matmul.</param>
public sealed record PyTorchComparison(string Case, string Configuration, double? NotebookVgg, double? PyTorch, double? Ratio, string Unit);
