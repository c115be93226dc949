using System.Globalization;
using System.Runtime.InteropServices;
using NotebookVgg.Runtime;
using TorchSharp;

namespace NotebookVgg.Cli.Benchmarks;

/// <summary>The machine a benchmark ran on, and how busy it was.</summary>
/// <param name="Cpu">The CPU model name.</param>
/// <param name="LogicalCores">Logical processors visible to this process.</param>
/// <param name="TorchThreads">libtorch intra-op threads used.</param>
/// <param name="NativeBf16">Whether the CPU has AVX512_BF16 or AMX.</param>
/// <param name="AutocastAvailable">Whether libtorch's CPU autocast exports were found.</param>
/// <param name="TorchSharpVersion">The TorchSharp assembly version.</param>
/// <param name="LibTorchVersion">The libtorch version.</param>
/// <param name="OperatingSystem">The OS description.</param>
/// <param name="DotNetVersion">The .NET runtime description.</param>
/// <param name="LoadAverageAtStart">/proc/loadavg's 1, 5 and 15-minute figures when the run began (other processes compete for the cores).</param>
public sealed record MachineInfo(
    string Cpu,
    int LogicalCores,
    int TorchThreads,
    bool NativeBf16,
    bool AutocastAvailable,
    string TorchSharpVersion,
    string LibTorchVersion,
    string OperatingSystem,
    string DotNetVersion,
    string? LoadAverageAtStart)
{
    /// <summary>/proc/loadavg at the end of the run.</summary>
    public string? LoadAverageAtEnd { get; init; }

    /// <summary>
    /// The instruction sets libtorch's kernels use here, with any cap the environment sets: "AVX-512 with BF16", or
    /// "AVX2 (ONEDNN_MAX_CPU_ISA=AVX2, MKL_ENABLE_INSTRUCTIONS=AVX2; the CPU has AVX-512 with BF16)" when emulating an AVX2 CPU.
    /// </summary>
    public string? InstructionSets { get; init; }

    /// <summary>ATen's own vectorized kernels (element-wise, pooling, the optimizer): ATEN_CPU_CAPABILITY where set, else the CPU's level.</summary>
    public string? AtenCapability { get; init; }

    /// <summary>oneDNN's version and the ISA it reports using ("oneDNN v3.7.1; Intel AVX2"), read from its own verbose lines.</summary>
    public string? OneDnn { get; init; }

    /// <summary>The convolution kernels oneDNN ran for each of nvgg's paths (inference, training), with the data layout each saw.</summary>
    public IReadOnlyList<string> Kernels { get; init; } = [];

    /// <summary>
    /// How nvgg runs fp32 training steps here: the layout (<see cref="CpuSpeed.ForConvolutions"/>) and, on AVX2, Winograd for the
    /// 3×3 layers where it pays (Backbone.Forward). The layers case's default column.
    /// </summary>
    public string? TrainingLayout { get; init; }

    public static MachineInfo Collect()
    {
        var kernels = KernelProbe.Run();
        return new(
            CpuModel(), Environment.ProcessorCount, torch.get_num_threads(), CpuSpeed.HasNativeBf16, CpuAutocast.IsAvailable,
            NativeRuntime.TorchSharpVersion, torch.__version__, RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription,
            LoadAverage())
        {
            InstructionSets = CpuSpeed.Isa.ToString(),
            AtenCapability = Environment.GetEnvironmentVariable("ATEN_CPU_CAPABILITY") is { Length: > 0 } aten
                ? $"{aten} (ATEN_CPU_CAPABILITY)"
                : CpuSpeed.Isa.Cpu >= CpuIsa.Avx512 ? "avx512 (the CPU's)" : CpuSpeed.Isa.Cpu == CpuIsa.Avx2 ? "avx2 (the CPU's)" : "default",
            OneDnn = kernels.OneDnnVersion is null && kernels.OneDnnIsa is null ? null
                : string.Join("; ", new[] { kernels.OneDnnVersion, kernels.OneDnnIsa }.Where(t => t is not null)),
            Kernels = kernels.Error is { } error ? [error] : [.. KernelProbe.Describe(kernels)],
            TrainingLayout = BenchmarkSuite.DefaultConfiguration(BenchmarkSuite.Layers),
        };
    }

    /// <summary>The 1, 5 and 15-minute load averages ("1.31 1.18 1.86"); null where /proc/loadavg is absent.</summary>
    public static string? LoadAverage()
    {
        try
        {
            return File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static string CpuModel()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
            {
                string? line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
                if (line is not null)
                    return line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
            }
        }
        catch (IOException)
        {
            // fall through to the architecture alone
        }
        return RuntimeInformation.ProcessArchitecture.ToString();
    }
}

/// <summary>The FLOP counts the GFLOP/s figures use, from <see cref="Models.ModelSummary"/>.</summary>
/// <param name="Vgg19Macs224">Multiply-accumulates of one VGG19 forward pass at 224×224 (convolutions and linear layers).</param>
/// <param name="Features32Macs">Multiply-accumulates of vgg19.features for one 32×32 image.</param>
/// <param name="Convention">How MACs become FLOPs.</param>
public sealed record FlopCounts(long? Vgg19Macs224, long? Features32Macs, string Convention);

/// <summary>Everything one <c>nvgg bench</c> run measured, ready for a table or JSON.</summary>
public sealed record BenchmarkReport
{
    public required MachineInfo Machine { get; init; }
    public required BenchmarkSettings Settings { get; init; }
    public required FlopCounts Flops { get; init; }
    public required IReadOnlyList<BenchmarkResult> Results { get; init; }

    /// <summary>The train step layer by layer (the <c>layers</c> case); empty when it did not run.</summary>
    public IReadOnlyList<LayerTiming> Layers { get; init; } = [];

    /// <summary>Whole train steps split into zero_grad, forward, backward and optimizer step (the <c>layers</c> case).</summary>
    public IReadOnlyList<StepTiming> Steps { get; init; } = [];

    /// <summary>How native memory was allocated (see <see cref="Runtime.NativeAllocator"/>): it changes the figures a lot.</summary>
    public required string Allocator { get; init; }

    /// <summary>Whether the peak memory figures are per case or the process's running peak.</summary>
    public required string MemoryNote { get; init; }

    /// <summary>What a reader must know: random weights, synthetic data, page cache, quick mode.</summary>
    public required IReadOnlyList<string> Notes { get; init; }

    /// <summary>PyTorch's figures from the same run (<c>--pytorch</c>); null when not asked for or failed.</summary>
    public PyTorchReport? PyTorch { get; init; }

    /// <summary>Why the PyTorch reference produced no figures, when it was asked for.</summary>
    public string? PyTorchError { get; init; }

    public IReadOnlyList<PyTorchComparison> Comparisons { get; init; } = [];

    public IReadOnlyList<TargetCheck> Targets { get; init; } = [];

    /// <summary>This report with PyTorch's figures, the side-by-side ratios and the targets filled in.</summary>
    public BenchmarkReport WithPyTorch(PyTorchReport? pytorch, string? error)
    {
        if (pytorch is not null && ReferenceBlas(pytorch.Blas) is { } reference)
        {
            // Every ratio against a reference BLAS would be inflated: keep its figures for the record, compare nothing.
            error = $"PyTorch ran on the reference BLAS ({reference}), not an optimized one: every ratio against it would be inflated, " +
                "so none is given; install libopenblas0-pthread (apt-get install libopenblas0-pthread) and run again";
        }
        var withPyTorch = this with { PyTorch = pytorch, PyTorchError = error };
        if (error is not null)
            return withPyTorch with { Comparisons = [], Targets = withPyTorch.CheckTargets() };
        return withPyTorch with { Comparisons = withPyTorch.Compare(), Targets = withPyTorch.CheckTargets() };
    }

    /// <summary>
    /// The netlib reference BLAS among the libraries PyTorch loaded (Debian's default libblas.so.3 without OpenBLAS, MKL or
    /// BLIS behind it), or null when an optimized one is loaded or nothing is known.
    /// </summary>
    public static string? ReferenceBlas(IReadOnlyList<string> blas)
    {
        ArgumentNullException.ThrowIfNull(blas);
        string[] optimized = ["openblas", "mkl", "blis", "atlas"];
        if (blas.Any(b => optimized.Any(o => b.Contains(o, StringComparison.OrdinalIgnoreCase))))
            return null;
        return blas.FirstOrDefault(b => Path.GetFileName(b).StartsWith("libblas", StringComparison.Ordinal));
    }

    /// <summary>The line of a case that nvgg uses by default on this machine (see <see cref="BenchmarkResult.Default"/>).</summary>
    public BenchmarkResult? DefaultLine(string benchmarkCase) =>
        Results.FirstOrDefault(r => r.Case == benchmarkCase && r.Default && r.Skipped is null);

    /// <summary>The best measured line of a case (highest images/s; GFLOP/s for the matmul).</summary>
    public BenchmarkResult? Best(string benchmarkCase) =>
        Results.Where(r => r.Case == benchmarkCase && r.Skipped is null).MaxBy(r => r.ImagesPerSecond ?? r.GflopsPerSecond ?? 0);

    private List<PyTorchComparison> Compare()
    {
        var list = new List<PyTorchComparison>();
        if (PyTorch is null)
            return list;
        foreach (var reference in PyTorch.Results)
        {
            foreach (var r in Results.Where(r => r.Case == reference.Case && r.Skipped is null))
            {
                bool matmul = reference.Case == BenchmarkSuite.Matmul;
                if (matmul && r.Configuration != BenchmarkSuite.Fp32)
                    continue; // PyTorch's reference times the fp32 matmul only
                double? ours = matmul ? r.GflopsPerSecond : r.ImagesPerSecond;
                double? theirs = matmul ? reference.GflopsPerSecond : reference.ImagesPerSecond;
                double? ratio = ours is { } o && theirs is { } t && t > 0 ? o / t : null;
                list.Add(new PyTorchComparison(r.Case, r.Configuration, ours, theirs, ratio, matmul ? "GFLOP/s" : "images/s"));
            }
        }
        return list;
    }

    /// <summary>"; best fp32 line 1.20×": the same comparison without reduced precision.</summary>
    private string BestFp32Ratio(string benchmarkCase, double theirs)
    {
        var fp32 = Results.Where(r => r.Case == benchmarkCase && r.Skipped is null && r.Configuration.StartsWith(BenchmarkSuite.Fp32, StringComparison.Ordinal))
            .MaxBy(r => r.ImagesPerSecond ?? 0);
        return fp32?.ImagesPerSecond is { } ips ? string.Create(CultureInfo.InvariantCulture, $"; best fp32 line ({fp32.Configuration}) {ips / theirs:0.00}×") : "";
    }

    /// <summary>The higher of the two fp32 matmul rates measured (libtorch's here, PyTorch's BLAS there): the stricter ceiling.</summary>
    private (double Gflops, string Source)? MatmulCeiling()
    {
        double? ours = Results.FirstOrDefault(r => r.Case == BenchmarkSuite.Matmul && r.Configuration == BenchmarkSuite.Fp32 && r.Skipped is null)?.GflopsPerSecond;
        double? theirs = PyTorch?.Results.FirstOrDefault(p => p.Case == BenchmarkSuite.Matmul)?.GflopsPerSecond;
        if (theirs is { } t && (ours is null || t > ours))
            return (t, $"the fp32 matmul in PyTorch ({string.Join(", ", PyTorch!.Blas)})");
        return ours is { } o ? (o, "the fp32 matmul in libtorch") : null;
    }

    private double BestFp32Gflops(string benchmarkCase) =>
        Results.Where(r => r.Case == benchmarkCase && r.Skipped is null && r.Configuration.StartsWith(BenchmarkSuite.Fp32, StringComparison.Ordinal))
            .Max(r => r.GflopsPerSecond) ?? 0;

    /// <summary>
    /// The targets for the machine the report was made on. With native bf16 (bf16 compute on the default path): forward and
    /// train step ≥ 1.5× PyTorch, features at 112 ≥ 2×, both 224 cases ≥ 70 % of the fp32 matmul rate. Without it (fp32):
    /// forward ≥ 1.3×, train step ≥ 1.2× and ≥ 90 % of the fp32 matmul rate, features at 112 ≥ 1.3× (as forward), forward ≥ 70 %.
    /// </summary>
    public IReadOnlyList<(string Case, double VsPyTorch, double? OfMatmul)> Goals() => Machine.NativeBf16 && Machine.AutocastAvailable
        ? [(BenchmarkSuite.Forward, 1.5, 0.70), (BenchmarkSuite.Train, 1.5, 0.70), (BenchmarkSuite.Features112, 2.0, null)]
        : [(BenchmarkSuite.Forward, 1.3, 0.70), (BenchmarkSuite.Train, 1.2, 0.90), (BenchmarkSuite.Features112, 1.3, null)];

    private List<TargetCheck> CheckTargets()
    {
        var c = CultureInfo.InvariantCulture;
        var targets = new List<TargetCheck>();
        foreach (var (benchmarkCase, goal, ofMatmul) in Goals())
        {
            // The targets are about what a user gets: the default line (the best one where no line is marked default).
            var best = DefaultLine(benchmarkCase) ?? Best(benchmarkCase);
            if (best is null)
                continue;
            var reference = PyTorchError is null ? PyTorch?.Results.FirstOrDefault(p => p.Case == benchmarkCase) : null;
            if (reference?.ImagesPerSecond is { } theirs && best.ImagesPerSecond is { } ours)
            {
                double ratio = ours / theirs;
                targets.Add(new TargetCheck($"{benchmarkCase} vs PyTorch", string.Create(c, $"≥ {goal}× PyTorch"), ratio, "ratio", ratio >= goal,
                    string.Create(c, $"{best.Configuration}{(best.Default ? " (default)" : "")}: {ours:0.00} images/s vs PyTorch {theirs:0.00} ({PyTorch!.Framework}, fp32 NCHW, {PyTorch.Threads} threads){BestFp32Ratio(benchmarkCase, theirs)}")));
            }
            else
            {
                targets.Add(new TargetCheck($"{benchmarkCase} vs PyTorch", string.Create(c, $"≥ {goal}× PyTorch"), null, "ratio", null,
                    PyTorchError is null ? "not measured: run with --pytorch" : $"not measured: {PyTorchError}"));
            }
            if (ofMatmul is not { } share)
                continue; // the matmul-rate target is about the 224×224 cases
            string wanted = string.Create(c, $"≥ {share * 100:0} % of the fp32 matmul rate");
            if (MatmulCeiling() is { } ceiling && best.GflopsPerSecond is { } gflops)
            {
                double fraction = gflops / ceiling.Gflops;
                targets.Add(new TargetCheck($"{benchmarkCase} vs fp32 matmul rate", wanted, fraction, "fraction", fraction >= share,
                    string.Create(c, $"{best.Configuration}: {gflops:0} GFLOP/s vs {ceiling.Source} {ceiling.Gflops:0} GFLOP/s; best fp32 line {BestFp32Gflops(benchmarkCase) / ceiling.Gflops:P0}")));
            }
            else
            {
                targets.Add(new TargetCheck($"{benchmarkCase} vs fp32 matmul rate", wanted, null, "fraction", null, "not measured: run the matmul case too"));
            }
        }
        if (Results.FirstOrDefault(r => r.Case == BenchmarkSuite.Pipeline && r.Skipped is null) is { } pipeline)
        {
            targets.Add(pipeline.ShareOfTrainStep is { } share
                ? new TargetCheck("data pipeline share of a train step", "< 5 %", share, "fraction", share < 0.05,
                    string.Create(c, $"{pipeline.Seconds / Settings.PipelineBatches * 1000:0.0} ms per batch of {Settings.Batch224} vs the fastest train step measured"))
                : new TargetCheck("data pipeline share of a train step", "< 5 %", null, "fraction", null, "not measured: run the train case too"));
        }
        if (Results.FirstOrDefault(r => r.Case == BenchmarkSuite.TrainerCase && r.Skipped is null) is { ImagesPerSecond: { } viaTrainer })
        {
            const string Name = "train step through the Trainer", Wanted = "≥ 90 % of the bare train step";
            var bare = DefaultLine(BenchmarkSuite.Train);
            targets.Add(bare?.ImagesPerSecond is { } b
                ? new TargetCheck(Name, Wanted, viaTrainer / b, "fraction", Settings.Quick ? null : viaTrainer / b >= 0.9,
                    Settings.Quick ? "quick mode: 2 steps per run, so the first step's optimizer set-up dominates"
                        : string.Create(c, $"{viaTrainer:0.00} images/s vs the train case's {bare.Configuration} line, {b:0.00}"))
                : new TargetCheck(Name, Wanted, null, "fraction", null, "not measured: run the train case too"));
        }
        if (Results.FirstOrDefault(r => r.Case == BenchmarkSuite.Head && r.Skipped is null) is { Seconds: { } seconds } head)
        {
            targets.Add(new TargetCheck("head training on cached features", "< 5 s", seconds, "seconds", Settings.Quick ? null : seconds < 5,
                Settings.Quick ? "quick mode: fewer samples and epochs than the target's 50,000 × 10" : head.Name));
        }
        return targets;
    }
}
