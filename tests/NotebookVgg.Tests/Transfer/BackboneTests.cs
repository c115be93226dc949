using NotebookVgg.Data;
using NotebookVgg.Models;
using NotebookVgg.Runtime;
using NotebookVgg.Tests.TestSupport;
using NotebookVgg.Training;
using NotebookVgg.Transfer;
using NotebookVgg.Weights;
using static TorchSharp.torch;

namespace NotebookVgg.Tests.Transfer;

/// <summary>Issue 24: the backbone runs the network to its cut, and the head on its features takes its widths from the network.</summary>
[Collection(GlobalRandomState.Name)]
public sealed class BackboneTests
{
    private static Backbone Small(FeatureCut? cut) => new("vgg11", WeightsReference.Random, cut, 64, Interpolation.Bilinear,
        Preprocessing.ImageNet.Mean, Preprocessing.ImageNet.Std, Precision.Fp32, Seed: 0);

    [Theory]
    [InlineData(FeatureCut.Pool5, new long[] { 2, 32, 2, 2 })]
    [InlineData(FeatureCut.Fc7, new long[] { 2, 64 })]
    public void AHead_FitsAReducedWidthNetworksFeatures_ItsWidthsReadFromTheArchitecture(FeatureCut cut, long[] shape)
    {
        random.manual_seed(0);
        using var network = Vgg.CreateReducedWidth("vgg11", widthDivisor: 16, hiddenUnits: 64, numClasses: 10); // 32 channels, fc 64
        network.eval();
        var backbone = Small(cut);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var images = randint(0, 256, [2, 3, 32, 32], dtype: ScalarType.Byte);

        var features = backbone.Forward(network, backbone.Prepare(images));
        using var head = backbone.CreateHead(network, 10);

        Assert.Equal(shape, features.shape);
        Assert.Equal(new long[] { 2, 10 }, head.call(features).shape);
    }

    [Fact]
    public void Forward_IsTheNetworkUpToTheCut_OrTheWholeNetworkWithoutOne()
    {
        random.manual_seed(0);
        using var network = Vgg.CreateReducedWidth("vgg11", widthDivisor: 16, hiddenUnits: 64, numClasses: 10);
        network.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = Small(FeatureCut.Fc7).Prepare(randint(0, 256, [2, 3, 32, 32], dtype: ScalarType.Byte));

        Assert.True(network.ExtractFeatures(x, FeatureCut.Fc7).allclose(Small(FeatureCut.Fc7).Forward(network, x), 1e-5, 1e-6));
        Assert.True(network.features.call(x).allclose(Small(FeatureCut.Pool5).Forward(network, x), 1e-5, 1e-6));
        Assert.True(network.call(x).allclose(Small(null).Forward(network, x), 1e-5, 1e-6));
    }

    [Fact]
    public void Of_CutsOnlyInFeaturesMode_AndTrainsFromScratchOnRandomWeights()
    {
        var weights = new WeightsReference("vgg19", "/w/vgg19.pth", new string('a', 64));
        var settings = TransferSettings.FromProfile(Profiles.Cpu, "/data", weights);

        var features = Backbone.Of(settings);
        var fineTune = Backbone.Of(settings with { Options = settings.Options with { Mode = TrainingMode.FineTune } });
        var scratch = Backbone.Of(settings with { Options = settings.Options with { Mode = TrainingMode.Scratch } });

        Assert.Equal((FeatureCut?)FeatureCut.Fc7, features.Cut);
        Assert.Equal(weights, features.Weights);
        Assert.Equal(112, features.ImageSize);
        Assert.Null(fineTune.Cut);
        Assert.Equal(weights, fineTune.Weights);
        Assert.True(scratch.Weights.IsRandom);
        Assert.Equal(features, features with { Mean = [.. features.Mean] }); // a value: arrays compared by their contents
        Assert.NotEqual(features, features with { Precision = Precision.Bf16 });
    }
}
