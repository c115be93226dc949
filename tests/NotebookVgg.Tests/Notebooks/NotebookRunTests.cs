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
        Assert.False(run.HasImageNetWeights);
        Assert.Contains(log, l => l.Contains("RANDOM weights", StringComparison.Ordinal));
        Assert.EndsWith(Path.Combine("checkpoints", "cpu-tiny-features.ckpt"), run.RecipeCheckpointPath, StringComparison.Ordinal);
        Assert.False(File.Exists(temp.Combine("weights", "vgg19-dcbb9e9d.pth")));
    }

    [Theory]
    [InlineData("smoke")]
    [InlineData("cpu")] // a profile whose own weights are vgg19: a file given instead is still not called vgg19
    public async Task AWeightsFileThatIsNotTorchvisions_IsNeverCalledPretrained(string profile)
    {
        string sample = RepoFiles.SampleArchive;
        using var temp = new TempDirectory();
        using var env = new EnvironmentVariables(("NOTEBOOKVGG_SAMPLE", sample));
        string file = RepoFiles.Path("tests", "fixtures", "weights", "vgg19_r32.safetensors");
        var log = new List<string>();

        var run = await NotebookRun.ResolveAsync(profile, "tiny", temp.Combine("data"), file, 0, "auto", log.Add);

        Assert.Equal(Path.GetFullPath(file), run.WeightsPath);
        Assert.False(run.HasImageNetWeights);
        Assert.Null(run.ImageNetWeights);
        Assert.Null(run.WeightsName);
        Assert.Null(run.Settings().Weights.Name); // the checkpoint names the file, not vgg19
        Assert.Equal(run.Weights, run.Settings().Weights);
        const string label = "weights from vgg19_r32.safetensors (not torchvision's ImageNet file)";
        Assert.Equal(label, run.WeightsLabel);
        Assert.Equal($"CIFAR-10 sample, {label}, {profile} tiny", run.Label);
        Assert.Contains($"{label}: whatever these weights learned, if anything, this is not a measure of ImageNet pretraining", run.Caveat, StringComparison.Ordinal);
        Assert.Equal("Weights that are not torchvision's ImageNet file", run.WhyNoStructure);
        Assert.DoesNotContain("pretrained", run.Label.Replace("not pretrained", "", StringComparison.Ordinal), StringComparison.OrdinalIgnoreCase);
        Assert.Contains(log, l => l.Contains("is not torchvision's ImageNet file", StringComparison.Ordinal));
    }

    [Fact]
    public void TorchvisionsFile_IsLabelledImageNetPretrained_AndNeedsNoCaveat()
    {
        // A file whose SHA-256 is the registry's (WeightsReference.Identify): the real file cannot be downloaded here.
        var vgg19 = NotebookVgg.Weights.PretrainedWeights.Vgg19ImageNet;
        Assert.False(vgg19.Sha256IsPrefix);
        var run = new NotebookRun(Profiles.Cpu, TrainingScale.Full, "/data", "/data",
            new NotebookVgg.Weights.WeightsReference("vgg19", "/data/weights/vgg19-dcbb9e9d.pth", vgg19.Sha256), 0, "CIFAR-10");

        Assert.True(run.HasImageNetWeights);
        Assert.Equal("ImageNet-pretrained vgg19 (torchvision's file)", run.WeightsLabel);
        Assert.Equal("CIFAR-10, ImageNet-pretrained vgg19 (torchvision's file), cpu", run.Label);
        Assert.Equal("", run.Caveat);
        Assert.Equal("", run.WhyNoStructure);
        Assert.Equal("vgg19", run.Settings().Weights.Name);
        Assert.Equal("ImageNet-pretrained vgg19 (torchvision's file)", run.Settings().Weights.Label);
    }

    [Fact]
    public void Identify_HashesTheFile_AndNamesNoEntryForAnotherFile_WhateverItIsCalled()
    {
        using var temp = new TempDirectory();
        string named = temp.Combine("vgg19-dcbb9e9d.pth"); // torchvision's file name, other bytes
        File.Copy(RepoFiles.Path("tests", "fixtures", "weights", "vgg19_r32.safetensors"), named);
        var file = NotebookVgg.Weights.WeightsReference.Identify(named);
        Assert.Null(file.Name);
        Assert.Null(file.Registered);
        Assert.Equal(64, file.Sha256!.Length);
        Assert.Equal("weights from vgg19-dcbb9e9d.pth (not torchvision's ImageNet file)", file.Label);
        // Named after the registry by whoever asked for it, the label still asks the bytes.
        Assert.Equal(file.Label, NotebookVgg.Weights.WeightsReference.OfFile(named, "vgg19").Label);
        Assert.Equal("random weights (not pretrained)", NotebookVgg.Weights.WeightsReference.Random.Label);
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
