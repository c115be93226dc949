using NotebookVgg.Cli.Benchmarks;

namespace NotebookVgg.Cli.Tests.Benchmarks;

public class BenchmarkReportTests
{
    private static BenchmarkResult Line(string benchmarkCase, string configuration, double? imagesPerSecond, double? gflops, double? fractionOfMatmul = null, double? seconds = null, double? share = null) => new()
    {
        Case = benchmarkCase,
        Name = benchmarkCase,
        Configuration = configuration,
        ImagesPerSecond = imagesPerSecond,
        GflopsPerSecond = gflops,
        FractionOfMatmul = fractionOfMatmul,
        Seconds = seconds,
        ShareOfTrainStep = share,
    };

    private static BenchmarkReport Report(params BenchmarkResult[] results) => new()
    {
        Machine = new MachineInfo("cpu", 2, 2, true, true, "0.107.0", "2.10.0", "os", ".NET", "0 0 0"),
        Settings = new BenchmarkSettings(),
        Flops = new FlopCounts(19_632_062_464, 398_131_200, "2 × MAC"),
        Results = results,
        Allocator = "",
        MemoryNote = "",
        Notes = [],
    };

    private static readonly BenchmarkResult[] Typical =
    [
        Line(BenchmarkSuite.Matmul, BenchmarkSuite.Fp32, null, 200),
        Line(BenchmarkSuite.Matmul, BenchmarkSuite.Bf16, null, 600),
        Line(BenchmarkSuite.Forward, BenchmarkSuite.Fp32Nchw, 4, 160, 0.8),
        Line(BenchmarkSuite.Forward, BenchmarkSuite.Fp32ChannelsLast, 5, 200, 1.0),
        Line(BenchmarkSuite.Forward, BenchmarkSuite.Bf16ChannelsLast, 10, 400, 2.0),
        Line(BenchmarkSuite.Train, BenchmarkSuite.Fp32Nchw, 1.2, 120, 0.6),
        new BenchmarkResult { Case = BenchmarkSuite.Train, Name = "train", Configuration = BenchmarkSuite.AutocastBf16ChannelsLast, Skipped = "no bf16" },
        Line(BenchmarkSuite.Pipeline, BenchmarkSuite.Fp32, 900, null, seconds: 1.0, share: 0.01),
        Line(BenchmarkSuite.Head, BenchmarkSuite.Fp32, 1e6, 1, seconds: 6.5),
    ];

    private static PyTorchReport PyTorch() => new("PyTorch 1.13", 2, ["libopenblas"],
    [
        new PyTorchResult(BenchmarkSuite.Matmul, "matmul fp32 2048", 0, null, 100, 0.17, 300),
        new PyTorchResult(BenchmarkSuite.Forward, "forward 224 batch 16", 16, 4, 157, 4, 900),
        new PyTorchResult(BenchmarkSuite.Train, "train step 224 batch 16", 16, 1, 118, 16, 2500),
    ]);

    [Fact]
    public void WithPyTorch_ComparesEveryMeasuredLineWithTheSameCase_MatmulByGflops()
    {
        var report = Report(Typical).WithPyTorch(PyTorch(), null);

        var matmul = Assert.Single(report.Comparisons, c => c.Case == BenchmarkSuite.Matmul);
        Assert.Equal(2.0, matmul.Ratio);
        Assert.Equal("GFLOP/s", matmul.Unit);
        Assert.Equal([1.0, 1.25, 2.5], report.Comparisons.Where(c => c.Case == BenchmarkSuite.Forward).Select(c => c.Ratio!.Value));
        Assert.Equal(1.2, Assert.Single(report.Comparisons, c => c.Case == BenchmarkSuite.Train).Ratio!.Value, 9);
    }

    [Fact]
    public void WithPyTorch_TargetsUseTheBestLine_AndSayWhichAreMissed()
    {
        var report = Report(Typical).WithPyTorch(PyTorch(), null);
        TargetCheck Target(string name) => Assert.Single(report.Targets, t => t.Name == name);

        Assert.True(Target("forward vs PyTorch").Met);
        Assert.Equal(2.5, Target("forward vs PyTorch").Value);
        Assert.Contains("best fp32 line (fp32 channels-last) 1.25×", Target("forward vs PyTorch").Detail, StringComparison.Ordinal);
        Assert.True(Target("forward vs fp32 matmul rate").Met);
        Assert.Contains("vs the fp32 matmul in libtorch 200 GFLOP/s; best fp32 line 100 %", Target("forward vs fp32 matmul rate").Detail, StringComparison.Ordinal);
        Assert.False(Target("train vs PyTorch").Met);       // 1.2× < 1.5×
        Assert.False(Target("train vs fp32 matmul rate").Met); // 60 % < 70 %
        Assert.True(Target("data pipeline share of a train step").Met);
        Assert.False(Target("head training on cached features").Met); // 6.5 s
    }

    [Fact]
    public void WithoutNativeBf16_TheFp32TargetsApply()
    {
        var fp32Machine = Report(Typical) with { Machine = new MachineInfo("cpu", 2, 2, false, true, "0.107.0", "2.10.0", "os", ".NET", "0 0 0") };
        var report = fp32Machine.WithPyTorch(PyTorch(), null);
        TargetCheck Target(string name) => Assert.Single(report.Targets, t => t.Name == name);

        Assert.Equal("≥ 1.2× PyTorch", Target("train vs PyTorch").Target);
        Assert.True(Target("train vs PyTorch").Met);                 // 1.2× ≥ 1.2×
        Assert.Equal("≥ 90 % of the fp32 matmul rate", Target("train vs fp32 matmul rate").Target);
        Assert.False(Target("train vs fp32 matmul rate").Met);       // 60 %
        Assert.Equal("≥ 1.3× PyTorch", Target("forward vs PyTorch").Target);
        Assert.Equal("≥ 70 % of the fp32 matmul rate", Target("forward vs fp32 matmul rate").Target);
    }

    [Fact]
    public void MatmulTarget_UsesPyTorchsMatmulWhenItIsFaster()
    {
        var pytorch = PyTorch() with { Results = [new PyTorchResult(BenchmarkSuite.Matmul, "matmul fp32 2048", 0, null, 400, 0.04, 300)] };

        var target = Assert.Single(Report(Typical).WithPyTorch(pytorch, null).Targets, t => t.Name == "forward vs fp32 matmul rate");

        Assert.Equal(1.0, target.Value); // bf16 line: 400 GFLOP/s over PyTorch's 400, not libtorch's 200
        Assert.Contains("vs the fp32 matmul in PyTorch (libopenblas) 400 GFLOP/s", target.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void WithoutPyTorch_TheComparisonTargetsAreNotMeasured_AndSaySo()
    {
        var report = Report(Typical).WithPyTorch(null, "python3: exited with code 1");

        Assert.Empty(report.Comparisons);
        var target = Assert.Single(report.Targets, t => t.Name == "forward vs PyTorch");
        Assert.Null(target.Met);
        Assert.Null(target.Value);
        Assert.Contains("python3: exited with code 1", target.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Best_IgnoresSkippedLines()
    {
        var report = Report(Typical);

        Assert.Equal(BenchmarkSuite.Fp32Nchw, report.Best(BenchmarkSuite.Train)!.Configuration);
        Assert.Null(report.Best(BenchmarkSuite.Features));
    }

    [Theory]
    [InlineData("/usr/lib/x86_64-linux-gnu/blas/libblas.so.3", true)]
    [InlineData("/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3,/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0", false)]
    [InlineData("/opt/intel/libmkl_rt.so.2", false)]
    [InlineData("", false)]
    public void ReferenceBlas_IsRecognizedByItsPath(string loaded, bool reference)
    {
        string[] blas = loaded.Split(',', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(reference, BenchmarkReport.ReferenceBlas(blas) is not null);
    }

    [Fact]
    public void WithPyTorch_OnTheReferenceBlas_ComparesNothing_AndSaysHowToFixIt()
    {
        var pytorch = PyTorch() with { Blas = ["/usr/lib/x86_64-linux-gnu/blas/libblas.so.3"] };

        var report = Report(Typical).WithPyTorch(pytorch, null);

        Assert.Empty(report.Comparisons);
        Assert.Contains("reference BLAS (/usr/lib/x86_64-linux-gnu/blas/libblas.so.3)", report.PyTorchError, StringComparison.Ordinal);
        Assert.Contains("libopenblas0-pthread", report.PyTorchError, StringComparison.Ordinal);
        var target = Assert.Single(report.Targets, t => t.Name == "forward vs PyTorch");
        Assert.Null(target.Met);
        Assert.Contains("reference BLAS", target.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Targets_JudgeTheDefaultLine_NotTheFastestOne()
    {
        var results = Typical.Select(r => r with { Default = r.Case == BenchmarkSuite.Forward && r.Configuration == BenchmarkSuite.Fp32ChannelsLast }).ToArray();

        var target = Assert.Single(Report(results).WithPyTorch(PyTorch(), null).Targets, t => t.Name == "forward vs PyTorch");

        Assert.Equal(1.25, target.Value); // the default fp32 channels-last line (5 images/s), not the 10 images/s bf16 one
        Assert.False(target.Met);
        Assert.StartsWith("fp32 channels-last (default): 5.00 images/s", target.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Features112_IsJudgedAgainstTwicePyTorch()
    {
        var results = Typical.Append(Line(BenchmarkSuite.Features112, BenchmarkSuite.AutocastBf16ChannelsLast, 60, 600) with { Default = true }).ToArray();
        var pytorch = PyTorch() with { Results = [.. PyTorch().Results, new PyTorchResult(BenchmarkSuite.Features112, "fc7 features 112 batch 64", 64, 25, 250, 2.6, 1500)] };

        var target = Assert.Single(Report(results).WithPyTorch(pytorch, null).Targets, t => t.Name == "features112 vs PyTorch");

        Assert.Equal("≥ 2× PyTorch", target.Target);
        Assert.Equal(2.4, target.Value!.Value, 9);
        Assert.True(target.Met);
        Assert.DoesNotContain(Report(results).WithPyTorch(pytorch, null).Targets, t => t.Name == "features112 vs fp32 matmul rate");
    }
}
