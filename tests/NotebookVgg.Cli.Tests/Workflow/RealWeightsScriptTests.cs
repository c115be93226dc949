using System.Security.Cryptography;
using System.Text.Json;
using NotebookVgg.Cli.Tests.TestSupport;
using NotebookVgg.Data;
using NotebookVgg.Models;
using NotebookVgg.Tests.TestSupport;

namespace NotebookVgg.Cli.Tests.Workflow;

/// <summary>
/// Issue 26: the workflow's real-weights job is tools/ci/real-weights.sh; here the same script runs against a 127.0.0.1
/// mirror serving a generated CIFAR-10-format archive and a generated VGG19 weights file (random, TorchSharp's format,
/// under the published file name) with their own checksums, through the same --mirror options the workflow could use.
/// Small limits keep it short; the workflow runs it at its defaults on the real files.
/// </summary>
[Trait("Category", "Slow")]
[Trait("Category", "Notebooks")]
public sealed class RealWeightsScriptTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void TheRealWeightsJob_RunsItsStepsAgainstALocalMirror_AndSummarizesTheFigures()
    {
        // A CIFAR-10-format archive (synthetic records, not marked synthetic: it stands in for the real archive).
        string source = _dir.Combine("source");
        SyntheticCifar.Write(source, 600, 150, seed: 5);
        File.Delete(Path.Combine(source, Cifar10.FolderName, Cifar10.SyntheticMarkerFileName));
        string archive = _dir.Combine("mirror", Cifar10.ArchiveFileName);
        Directory.CreateDirectory(Path.GetDirectoryName(archive)!);
        var sample = Nvgg.Run(_dir.Path, "data", "sample", "--data", source, "--out", archive, "--train-per-class", "50", "--test-per-class", "10");
        Assert.True(sample.ExitCode == 0, sample.Stdout + sample.Stderr);

        // A VGG19 weights file: seeded random weights in TorchSharp's format (the loader detects formats from the bytes).
        string weightsFile = _dir.Combine("mirror", "vgg19.dat");
        TorchSharp.torch.random.manual_seed(0);
        using (var model = Vgg.Create("vgg19"))
            model.save(weightsFile);

        byte[] archiveBytes = File.ReadAllBytes(archive);
        byte[] weightsBytes = File.ReadAllBytes(weightsFile);
        File.Delete(weightsFile);
        using var mirror = new LocalHttpServer();
        mirror.Serve("/data/" + Cifar10.ArchiveFileName, archiveBytes);
        mirror.Serve("/weights/vgg19-dcbb9e9d.pth", weightsBytes);
        archiveBytes = [];

        string output = _dir.Combine("out");
        string stepSummary = _dir.Combine("step-summary.md");
        var run = ExternalProcess.Run("bash",
            [RepoFiles.Path("tools", "ci", "real-weights.sh"), "--out", output,
             "--data-mirror", mirror.Url("/data/").ToString(), "--data-sha256", Sha256(archive),
             "--weights-mirror", mirror.Url("/weights/").ToString(), "--weights-sha256", Convert.ToHexStringLower(SHA256.HashData(weightsBytes)),
             "--limit-train", "50", "--limit-test", "20",
             // Notebook 04 at scale tiny still fine-tunes all of VGG19 and runs its hand-written loop: skipped or cut short here.
             "--notebook-parameter", "finetune_epochs=0", "--notebook-parameter", "loop_steps=1"],
            TimeSpan.FromMinutes(20), new Dictionary<string, string> { ["GITHUB_STEP_SUMMARY"] = stepSummary });
        Assert.True(run.ExitCode == 0, run.Stdout[^Math.Min(run.Stdout.Length, 4000)..] + run.Stderr[^Math.Min(run.Stderr.Length, 4000)..]);

        // Both files came from the mirror, through nvgg's own download commands.
        Assert.Equal(1, mirror.Requests.GetValueOrDefault("/data/" + Cifar10.ArchiveFileName));
        Assert.True(mirror.Requests.GetValueOrDefault("/weights/vgg19-dcbb9e9d.pth") >= 1);
        Assert.Contains("checked against the checksum given", File.ReadAllText(Path.Combine(output, "data", Cifar10.FolderName, Cifar10.SourceMarkerFileName)), StringComparison.Ordinal);

        using var train = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "train.json")));
        using var eval = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "eval.json")));
        Assert.Equal("cpu", train.RootElement.GetProperty("profile").GetString());
        Assert.Equal(20, train.RootElement.GetProperty("test").GetProperty("count").GetInt32());
        Assert.Equal(20, eval.RootElement.GetProperty("count").GetInt32());
        double accuracy = train.RootElement.GetProperty("test").GetProperty("accuracy").GetDouble();
        Assert.True(File.Exists(Path.Combine(output, "notebooks", "04-training.report.html")));

        string summary = File.ReadAllText(Path.Combine(output, "summary.md"));
        Assert.Equal(summary, File.ReadAllText(stepSummary));
        Assert.Contains($"test accuracy **{accuracy:P2}**".Replace(" %", "%", StringComparison.Ordinal), summary.Replace(" %", "%", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Matches(@"\| notebook 04, profile cpu, scale tiny: k-NN \| k = \d+ .*fc7 features", summary);
        Assert.Matches(@"\| notebook 04, profile cpu, scale tiny: head \| test accuracy ", summary);
    }

    private static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
}
