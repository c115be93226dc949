using NotebookVgg.Notebooks;
using NotebookVgg.Tests.TestSupport;
using NotebookVgg.Training;

namespace NotebookVgg.Tests.Notebooks;

/// <summary>The notebooks' common parameters (issue 12): the tiny scale and what a run resolves to.</summary>
[Collection(GlobalRandomState.Name)] // changes environment variables: runs alone
public class NotebookRunTests
{
    [Theory]
    [InlineData("smoke")]
    [InlineData("cpu")]
    [InlineData("gpu-tutorial")]
    [InlineData("gpu")]
    public void TinyScale_KeepsTheCodePath_AndShrinksTheCost(string name)
    {
        var full = Profiles.Get(name);
        var tiny = Profiles.Scaled(full, TrainingScale.Tiny);

        // The code path: mode, optimizer, schedule, augmentation, cut, weights.
        Assert.Equal(full.Options.Mode, tiny.Options.Mode);
        Assert.Equal(full.Options.Optimizer, tiny.Options.Optimizer);
        Assert.Equal(full.Options.Schedule, tiny.Options.Schedule);
        Assert.Equal(full.Options.Augment, tiny.Options.Augment);
        Assert.Equal(full.Options.HeadLearningRate, tiny.Options.HeadLearningRate);
        Assert.Equal(full.FeatureCut, tiny.FeatureCut);
        Assert.Equal(full.PretrainedWeights, tiny.PretrainedWeights);
        // The cost: a few images, at most 2 epochs, 32×32, on the CPU; and still valid (the gpu profile's warm-up).
        Assert.Equal(Profiles.TinyTrainPerClass, tiny.TrainPerClass);
        Assert.Equal(Profiles.TinyTestPerClass, tiny.TestPerClass);
        Assert.True(tiny.Options.Epochs <= 2);
        Assert.Equal(32, tiny.Options.ImageSize);
        Assert.Equal("cpu", tiny.Options.Device);
        tiny.Options.Validate();
        Assert.Same(full, Profiles.Scaled(full, TrainingScale.Full));
    }

    [Fact]
    public void ParseScale_NamesABadValue()
    {
        Assert.Equal(TrainingScale.Tiny, Profiles.ParseScale(" TINY "));
        Assert.Equal(TrainingScale.Full, Profiles.ParseScale("full"));
        var ex = Assert.Throws<ArgumentException>(() => Profiles.ParseScale("small"));
        Assert.Equal("scale 'small': expected full or tiny", ex.Message);
    }

    [Fact]
    public async Task TinyRun_OfARealProfile_UsesTheSample_AndRandomWeights_WithoutDownloading_AndSaysSo()
    {
        string sample = RepoFiles.SampleArchive;
        using var temp = new TempDirectory();
        using var env = new EnvironmentVariables(("NOTEBOOKVGG_SAMPLE", sample), ("NOTEBOOKVGG_WEIGHTS", temp.Combine("weights")),
            ("NOTEBOOKVGG_WEIGHTS_MIRROR", "http://127.0.0.1:9/unreachable/"));
        var log = new List<string>();

        var run = await NotebookRun.ResolveAsync("cpu", "tiny", temp.Combine("data"), "", seed: 3, "fp32", log.Add);

        Assert.Equal("cpu", run.Profile.Name);
        Assert.Equal(3, run.Profile.Options.Seed);
        Assert.Equal(NotebookVgg.Runtime.Precision.Fp32, run.Settings().Options.Precision);
        Assert.Contains(run.ToDataFrame().Rows, r => (string)r[0] == "precision" && (string)r[1] == "fp32");
        var bad = await Assert.ThrowsAsync<ArgumentException>(() => NotebookRun.ResolveAsync("cpu", "tiny", temp.Combine("data"), "", 3, "fp16"));
        Assert.Equal("precision 'fp16': expected auto, fp32 or bf16", bad.Message);
        Assert.Equal("CIFAR-10 sample", run.DataSource);
        Assert.Null(run.WeightsPath);
        Assert.Equal("CIFAR-10 sample, random weights (not pretrained), cpu tiny", run.Label);
        Assert.Equal("NOTE: tiny scale: a check that every cell runs; its numbers mean nothing; random weights: nothing was pretrained, " +
            "so this measures the machinery, not transfer learning.", run.Caveat);
        Assert.Equal("Random weights", run.WhyNoStructure);
        Assert.Contains(log, l => l.Contains("RANDOM weights", StringComparison.Ordinal));
        Assert.EndsWith(Path.Combine("checkpoints", "cpu-tiny-features.ckpt"), run.RecipeCheckpointPath, StringComparison.Ordinal);
        Assert.False(File.Exists(temp.Combine("weights", "vgg19-dcbb9e9d.pth")));
    }

    [Fact]
    public async Task AWeightsFile_IsUsedAsGiven_AndLabelledByItsName()
    {
        string sample = RepoFiles.SampleArchive;
        using var temp = new TempDirectory();
        using var env = new EnvironmentVariables(("NOTEBOOKVGG_SAMPLE", sample));
        string file = RepoFiles.Path("tests", "fixtures", "weights", "vgg19_r32.safetensors");

        var run = await NotebookRun.ResolveAsync("smoke", "full", temp.Combine("data"), file, 0, "auto");

        Assert.Equal(Path.GetFullPath(file), run.WeightsPath);
        Assert.Equal("pretrained vgg19_r32.safetensors", run.WeightsLabel);
        Assert.Equal("", run.WhyNoStructure); // the sample's real images and a weights file: a picture can show structure
    }

    [Theory]
    [InlineData("epochs", "three")]
    [InlineData("epochs", "99999999999")] // beyond int: used to escape as an OverflowException
    [InlineData("lr", "1e999x")]
    public void AParameterValueThatDoesNotParse_IsOneLineNamingTheVariableAndValue(string name, string value)
    {
        using var env = new EnvironmentVariables((NotebookParameter.VariableFor(name), value));
        var ex = Assert.Throws<ArgumentException>(() => name == "lr" ? NotebookParameter.Get(name, 1e-3) : NotebookParameter.Get(name, 3));
        Assert.Contains($"{NotebookParameter.VariableFor(name)}='{value}'", ex.Message, StringComparison.Ordinal);
    }
}
