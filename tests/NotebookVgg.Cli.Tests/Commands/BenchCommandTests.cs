using System.Text.Json.Nodes;
using NotebookVgg.Cli.Tests.TestSupport;
using NotebookVgg.Tests.TestSupport;

namespace NotebookVgg.Cli.Tests.Commands;

/// <summary>nvgg bench as a person runs it, on the cheap cases in quick mode (seconds, not minutes).</summary>
[Trait("Category", "Slow")]
public class BenchCommandTests
{
    [Fact]
    public void Bench_QuickJson_ReportsEveryFigureOfTheCheapCases()
    {
        using var temp = new TempDirectory();

        var run = Nvgg.Run(temp.Path, "bench", "--quick", "--json", "--cases", "matmul,features,load,pipeline,head", "--output", "bench.json");

        Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
        var report = (JsonObject)JsonNode.Parse(run.Stdout)!;
        Assert.Equal(run.Stdout.Trim(), File.ReadAllText(temp.Combine("bench.json")).Trim());
        Assert.Contains("bench: matmul", run.Stderr, StringComparison.Ordinal); // progress goes to stderr, not into the JSON

        Assert.True((bool)report["settings"]!["quick"]!);
        Assert.Equal(398_131_200L, (long)report["flops"]!["features32Macs"]!);
        Assert.Contains("FLOP = 2 × multiply-accumulate", (string)report["flops"]!["convention"]!, StringComparison.Ordinal);
        Assert.NotNull((string?)report["machine"]!["loadAverageAtStart"]);
        Assert.StartsWith("glibc malloc keeps freed memory", (string)report["allocator"]!, StringComparison.Ordinal);
        Assert.Contains(report["notes"]!.AsArray(), n => ((string)n!).Contains("random", StringComparison.Ordinal));

        var results = report["results"]!.AsArray().Select(r => (JsonObject)r!).ToList();
        JsonObject Line(string benchmarkCase, string configuration) =>
            Assert.Single(results, r => (string)r["case"]! == benchmarkCase && (string)r["configuration"]! == configuration);
        Assert.Equal(["matmul", "features", "load", "pipeline", "head"], results.Select(r => (string)r["case"]!).Distinct());

        var matmul = Line("matmul", "fp32");
        Assert.True((double)matmul["gflopsPerSecond"]! > 1);
        Assert.Equal(2.0 * 1024 * 1024 * 1024, (double)matmul["flopsPerIteration"]!);
        Assert.Equal(1.0, (double)matmul["fractionOfMatmul"]!);

        foreach (var line in results.Where(r => r["skipped"] is null))
        {
            string what = $"{line["case"]} {line["configuration"]}";
            Assert.True((double)line["seconds"]! > 0, what);
            Assert.True((double)line["peakResidentMb"]! > 10, what);
            if (line["imagesPerIteration"] is not null)
                Assert.True((double)line["imagesPerSecond"]! > 0, what);
        }

        var features = Line("features", "fp32 NCHW");
        Assert.Equal(16L * 2 * 398_131_200, (double)features["flopsPerIteration"]!);
        Assert.Equal(1.0, (double)features["speedupOverFp32Nchw"]!);
        Assert.InRange((double)Line("features", "fp32 channels-last")["relativeL2"]!, 0, 1e-4);
        var bf16 = Line("features", "autocast bf16 channels-last");
        if (bf16["skipped"] is null)
            Assert.InRange((double)bf16["relativeL2"]!, 1e-5, 0.05); // bf16 differs, but only a little
        else
            Assert.Contains("bfloat16", (string)bf16["skipped"]!, StringComparison.Ordinal);
        // Exactly one features line is what nvgg uses by default here: bf16 autocast where the CPU has it, else fp32 channels-last.
        var defaults = report["results"]!.AsArray().Where(r => (string)r!["case"]! == "features" && (bool)r!["default"]!).ToList();
        Assert.Equal(bf16["skipped"] is null ? "autocast bf16 channels-last" : "fp32 channels-last", (string)Assert.Single(defaults)!["configuration"]!);

        // The README's table, rendered from the saved report without measuring again: each case leads with its default line.
        var markdown = Nvgg.Run(temp.Path, "bench", "--from", "bench.json", "--markdown");
        Assert.True(markdown.ExitCode == 0, markdown.Stdout + markdown.Stderr);
        var rows = markdown.Stdout.Split('\n').Where(l => l.StartsWith("| VGG19 conv features", StringComparison.Ordinal)).ToList();
        Assert.Contains($"| {(string)defaults[0]!["configuration"]!} **(default)** |", Assert.Single(rows), StringComparison.Ordinal);
        var notAReport = Nvgg.Run(temp.Path, "bench", "--from", "missing.json");
        Assert.Equal(1, notAReport.ExitCode);
        Assert.Contains("missing.json", notAReport.Stderr, StringComparison.Ordinal);

        Assert.Equal(6000L, (long)Line("load", "uint8")["imagesPerIteration"]!);
        Assert.Equal(8L, (long)Line("pipeline", "fp32")["imagesPerIteration"]!); // 4 batches of 2
        Assert.Null(Line("pipeline", "fp32")["shareOfTrainStep"]); // no train case in this run
        Assert.Contains("train accuracy", (string)Line("head", "fp32")["note"]!, StringComparison.Ordinal);

        var targets = report["targets"]!.AsArray().Select(t => (JsonObject)t!).ToList();
        Assert.Contains(targets, t => (string)t["name"]! == "data pipeline share of a train step" && t["met"] is null);
        Assert.Contains(targets, t => (string)t["name"]! == "head training on cached features" && (double)t["value"]! > 0);
        Assert.Null(report["pyTorch"]);
    }

    [Fact]
    public void Bench_Trainer_TimesNvggTrainsPathBesideTheBareStep()
    {
        using var temp = new TempDirectory();

        var run = Nvgg.Run(temp.Path, "bench", "--quick", "--json", "--cases", "train,trainer");

        Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
        var report = (JsonObject)JsonNode.Parse(run.Stdout)!;
        var results = report["results"]!.AsArray().Select(r => (JsonObject)r!).ToList();
        var trainer = Assert.Single(results, r => (string)r["case"]! == "trainer");
        var bareDefault = Assert.Single(results, r => (string)r["case"]! == "train" && (bool)r["default"]!);
        // One line, in the configuration nvgg train uses here, which is the train case's default line's.
        Assert.True((bool)trainer["default"]!);
        Assert.Equal((string)bareDefault["configuration"]!, (string)trainer["configuration"]!);
        Assert.Equal(4L, (long)trainer["imagesPerIteration"]!); // 2 steps of batch 2
        Assert.True((double)trainer["imagesPerSecond"]! > 0);
        Assert.Contains("Trainer", (string)trainer["name"]!, StringComparison.Ordinal);
        var target = Assert.Single(report["targets"]!.AsArray().Select(t => (JsonObject)t!),
            t => (string)t["name"]! == "train step through the Trainer");
        Assert.Equal((double)trainer["imagesPerSecond"]! / (double)bareDefault["imagesPerSecond"]!, (double)target["value"]!, 6);
        Assert.Null(target["met"]); // quick mode: too few steps to hold a target to
    }

    [Fact]
    public void Bench_EndToEnd_TimesTheCpuProfilesWholeRun_WithTheDefaultPrecisionAndFp32()
    {
        using var temp = new TempDirectory();

        var run = Nvgg.RunWith(temp.Path, new Dictionary<string, string>(), TimeSpan.FromMinutes(10),
            "bench", "--quick", "--json", "--cases", "endtoend");

        Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
        var results = JsonNode.Parse(run.Stdout)!["results"]!.AsArray().Select(r => (JsonObject)r!).ToList();
        Assert.Equal(["precision auto", "precision fp32"], results.Select(r => (string)r["configuration"]!));
        Assert.All(results, r => Assert.Equal("endtoend", (string)r["case"]!));
        Assert.True((bool)results[0]["default"]!); // what nvgg train and the notebooks use by default
        Assert.False((bool)results[1]["default"]!);
        foreach (var line in results)
        {
            Assert.Equal(200L, (long)line["imagesPerIteration"]!); // quick: 20 training images per class
            Assert.True((double)line["seconds"]! > 0);
            Assert.Contains("cpu profile end to end (nvgg train)", (string)line["name"]!, StringComparison.Ordinal);
            Assert.Contains("synthetic", (string)line["note"]!, StringComparison.Ordinal);
        }
        Assert.StartsWith("ran in fp32", (string)results[1]["note"]!, StringComparison.Ordinal);
        // A plain nvgg bench leaves this ten-minute case out.
        Assert.DoesNotContain("endtoend", NotebookVgg.Cli.Benchmarks.BenchmarkSuite.DefaultCases);
    }

    [Fact]
    public void Bench_UnknownCase_FailsNamingIt()
    {
        using var temp = new TempDirectory();

        var run = Nvgg.Run(temp.Path, "bench", "--cases", "matmul,warp");

        Assert.Equal(1, run.ExitCode); // settings validation, as for every nvgg command
        Assert.Contains("nvgg: error: --cases: unknown case 'warp'", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Bench_PyTorchWithAMissingScript_FailsBeforeMeasuring()
    {
        using var temp = new TempDirectory();

        var run = Nvgg.Run(temp.Path, "bench", "--quick", "--pytorch", "--pytorch-script", temp.Combine("absent.py"));

        Assert.Equal(1, run.ExitCode);
        Assert.Contains($"nvgg: error: {temp.Combine("absent.py")}: PyTorch reference script not found", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("bench: matmul", run.Stderr, StringComparison.Ordinal);
    }
}
