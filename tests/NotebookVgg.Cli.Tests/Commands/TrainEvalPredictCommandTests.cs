using System.Text.Json;
using NotebookVgg.Cli.Tests.TestSupport;
using NotebookVgg.Imaging;
using NotebookVgg.Tests.TestSupport;
using static TorchSharp.torch;

namespace NotebookVgg.Cli.Tests.Commands;

/// <summary>nvgg train → eval → predict as a user runs them, on the real CIFAR-10 sample (random weights: the smoke profile).</summary>
[Trait("Category", "Slow")]
public sealed class TrainEvalPredictCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void SmokeProfile_TrainsResumesEvaluatesAndPredicts_WithMatchingFigures()
    {
        string data = _dir.Combine("data");
        var extract = Nvgg.Run(_dir.Path, "data", "extract", RepoFiles.SampleArchive, "--data", data);
        Assert.True(extract.ExitCode == 0, extract.Stderr);

        // A "killed" run: 2 epochs with a checkpoint, then resumed to 3 (same settings otherwise).
        string checkpoint = _dir.Combine("smoke.ckpt");
        var twoEpochs = Nvgg.Run(_dir.Path, "train", "--profile", "smoke", "--data", data, "--epochs", "2", "--checkpoint", checkpoint, "--json");
        Assert.True(twoEpochs.ExitCode == 0, twoEpochs.Stderr);
        var resumed = Nvgg.Run(_dir.Path, "train", "--profile", "smoke", "--data", data, "--epochs", "3", "--checkpoint", checkpoint, "--resume", "--json");
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        var straight = Nvgg.Run(_dir.Path, "train", "--profile", "smoke", "--data", data, "--epochs", "3", "--checkpoint", _dir.Combine("straight.ckpt"), "--json");
        Assert.True(straight.ExitCode == 0, straight.Stderr);

        using var r = JsonDocument.Parse(resumed.Stdout);
        using var s = JsonDocument.Parse(straight.Stdout);
        Assert.True(r.RootElement.GetProperty("resumed").GetBoolean());
        Assert.Contains("CIFAR-10 sample", r.RootElement.GetProperty("data").GetString(), StringComparison.Ordinal);
        Assert.Contains("random weights", r.RootElement.GetProperty("data").GetString(), StringComparison.Ordinal);
        Assert.Equal(s.RootElement.GetProperty("history").GetRawText(), WithoutSeconds(r), WithoutSecondsComparer);
        double accuracy = r.RootElement.GetProperty("test").GetProperty("accuracy").GetDouble();
        Assert.Equal(s.RootElement.GetProperty("test").GetProperty("accuracy").GetDouble(), accuracy);

        var eval = Nvgg.Run(_dir.Path, "eval", "--checkpoint", checkpoint, "--data", data, "--limit-test", "100", "--json");
        Assert.True(eval.ExitCode == 0, eval.Stderr);
        using var e = JsonDocument.Parse(eval.Stdout);
        Assert.Equal(accuracy, e.RootElement.GetProperty("accuracy").GetDouble(), 6);
        // --json's model is the flat description checkpoints store (as it was before the description held a Backbone).
        foreach (var model in new[] { r.RootElement.GetProperty("model"), e.RootElement.GetProperty("model") })
        {
            Assert.Equal("vgg19", model.GetProperty("architecture").GetString());
            Assert.Equal("features", model.GetProperty("mode").GetString());
            Assert.Equal("fc7", model.GetProperty("featureCut").GetString());
            Assert.Equal("bilinear", model.GetProperty("interpolation").GetString());
            Assert.Contains(model.GetProperty("precision").GetString(), new[] { "fp32", "bf16" });
            Assert.Equal(JsonValueKind.Null, model.GetProperty("weightsPath").ValueKind);
            Assert.False(model.TryGetProperty("backbone", out _));
        }
        Assert.Equal(10, e.RootElement.GetProperty("confusionMatrix").GetArrayLength());

        string image = _dir.Combine("image.png");
        using (var pixels = randint(0, 256, [3, 40, 48], dtype: ScalarType.Byte))
            File.WriteAllBytes(image, ImageFiles.EncodePng(pixels));
        var predict = Nvgg.Run(_dir.Path, "predict", "--checkpoint", checkpoint, "--top", "4", "--json", image);
        Assert.True(predict.ExitCode == 0, predict.Stderr);
        using var p = JsonDocument.Parse(predict.Stdout);
        var top = p.RootElement[0].GetProperty("predictions").EnumerateArray().ToList();
        Assert.Equal(4, top.Count);
        var probabilities = top.Select(t => t.GetProperty("probability").GetDouble()).ToList();
        Assert.Equal(probabilities.OrderDescending(), probabilities);

        var bad = Nvgg.Run(_dir.Path, "predict", "--checkpoint", checkpoint, _dir.Combine("missing.png"));
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("missing.png", bad.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_WithoutData_FailsWithOneLineThatSaysWhatToDo()
    {
        var result = Nvgg.Run(_dir.Path, "train", "--profile", "smoke", "--data", _dir.Combine("empty"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("nvgg data download", result.Stderr, StringComparison.Ordinal);
        Assert.Single(result.Stderr.Trim().Split('\n'));
    }

    [Theory]
    [InlineData(null, 1000, 1000)]
    [InlineData("all", 1000, null)]
    [InlineData("ALL", null, null)]
    [InlineData("200", 1000, 20)]
    [InlineData("10", null, 1)]
    public void LimitOptions_MeanImagesPerClass_AllMeansNoSubset(string? limit, int? profileChoice, int? expected) =>
        Assert.Equal(expected, NotebookVgg.Cli.Commands.TrainCommand.PerClass(limit, profileChoice, "--limit-train"));

    [Theory]
    [InlineData("train", "--limit-train", "7")]
    [InlineData("train", "--limit-test", "5")]
    [InlineData("eval", "--limit-test", "0")]
    [InlineData("eval", "--limit-test", "15")]
    public void ALimitThatCannotBeBalanced_IsRefused_NotRounded(string command, string option, string value)
    {
        // Issue 13: --limit-train 7 used to train on 10 images and --limit-test 0 to evaluate 10, silently.
        string[] args = command == "train"
            ? ["train", "--profile", "smoke", "--data", _dir.Combine("empty"), option, value]
            : ["eval", "--checkpoint", _dir.Combine("none.ckpt"), option, value];
        var result = Nvgg.Run(_dir.Path, args);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"{option} {value}: must be a multiple of 10", Assert.Single(result.Stderr.Trim().Split('\n')), StringComparison.Ordinal);
    }

    [Fact]
    public void Train_WouldOverwriteAFileThatIsNotACheckpoint_IsRefused_UnlessOverwrite()
    {
        string notes = _dir.Combine("notes.txt");
        File.WriteAllText(notes, "my notes");

        var result = Nvgg.Run(_dir.Path, "train", "--profile", "smoke", "--data", _dir.Combine("empty"), "--checkpoint", notes);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("is not a NotebookVgg checkpoint", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("--overwrite", result.Stderr, StringComparison.Ordinal);
        Assert.Equal("my notes", File.ReadAllText(notes));
    }

    [Fact]
    public void Predict_AMissingImage_FailsBeforeLoadingAnyModel()
    {
        var result = Nvgg.Run(_dir.Path, "predict", "--checkpoint", _dir.Combine("no-such.ckpt"), _dir.Combine("missing.png"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("missing.png: no such image file", result.Stderr, StringComparison.Ordinal); // not the checkpoint's error
    }

    [Fact]
    public void Logits_OfAnInputHoldingNaN_IsRefusedNamingTheInput_AndWritesNothing()
    {
        string input = _dir.Combine("input.safetensors");
        using (var x = full(1, 3, 32, 32, float.NaN))
            NotebookVgg.Weights.SafetensorsFile.Write(input, "input", x);

        var result = Nvgg.Run(_dir.Path, "logits", "--weights", _dir.Combine("never-read.pth"), "--input", input,
            "--output", _dir.Combine("logits.safetensors"));

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"{input}: 'input' holds NaN or infinite values", result.Stderr, StringComparison.Ordinal);
        Assert.Single(result.Stderr.Trim().Split('\n'));
        Assert.False(File.Exists(_dir.Combine("logits.safetensors")));
    }

    [Fact]
    public void Train_WithBadLimit_FailsWithOneLineNamingTheValue()
    {
        var result = Nvgg.Run(_dir.Path, "train", "--profile", "smoke", "--data", _dir.Combine("empty"), "--limit-train", "lots");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("--limit-train 'lots'", result.Stderr, StringComparison.Ordinal);
        Assert.Single(result.Stderr.Trim().Split('\n'));
    }

    /// <summary>The history with the wall-clock seconds removed, for comparing two runs.</summary>
    private static string WithoutSeconds(JsonDocument doc) => doc.RootElement.GetProperty("history").GetRawText();

    private static readonly IEqualityComparer<string> WithoutSecondsComparer = new HistoryComparer();

    private sealed class HistoryComparer : IEqualityComparer<string>
    {
        public bool Equals(string? x, string? y) => Strip(x) == Strip(y);

        public int GetHashCode(string obj) => Strip(obj).GetHashCode(StringComparison.Ordinal);

        private static string Strip(string? json) => string.Join("|", JsonDocument.Parse(json!).RootElement.EnumerateArray()
            .Select(e => string.Join(",", e.EnumerateObject().Where(p => p.Name != "seconds").Select(p => $"{p.Name}={p.Value.GetRawText()}"))));
    }
}
