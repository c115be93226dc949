using System.Runtime.InteropServices;
using System.Text.Json;
using NotebookVgg.Data;
using NotebookVgg.Inspection;
using NotebookVgg.Models;
using NotebookVgg.Runtime;
using NotebookVgg.Tests.TestSupport;
using NotebookVgg.Tests.Weights;
using NotebookVgg.Training;
using NotebookVgg.Transfer;
using NotebookVgg.Weights;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace NotebookVgg.Tests.Transfer;

/// <summary>TrainedModel.GradCam runs the rest of the network exactly as its forward does, in every checkpoint mode.</summary>
[Collection(GlobalRandomState.Name)]
public sealed class TrainedModelGradCamTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly string _data;

    public TrainedModelGradCamTests() => _data = SyntheticCifar.Write(_dir.Combine("synth"), 500, 20, seed: 3);

    public void Dispose() => _dir.Dispose();

    [Trait("Category", "Slow")]
    [Theory]
    [InlineData(TrainingMode.Features, FeatureCut.Fc7)]
    [InlineData(TrainingMode.Features, FeatureCut.Pool5)]
    [InlineData(TrainingMode.FineTune, FeatureCut.Fc7)]
    public void GradCam_PredictsWhatForwardPredicts_WithMapsAtTheInputSize(TrainingMode mode, FeatureCut cut)
    {
        var settings = TransferSettings.FromProfile(Profiles.Smoke, _data, weightsPath: null) with
        {
            Options = Profiles.Smoke.Options with { Mode = mode, Epochs = 1, BatchSize = 10, Precision = Precision.Fp32 },
            Cut = cut,
            TrainPerClass = 1, // the network's mode is what is tested, not its training
            TestPerClass = 1,
            FeatureCacheDirectory = _dir.Combine("features"),
            CheckpointPath = _dir.Combine($"{mode}-{cut}.ckpt"),
        };
        new TransferLearning().Run(settings);
        using var model = TrainedModel.Load(settings.CheckpointPath!);
        using var data = Cifar10.Load(_data);
        using var scope = NewDisposeScope();
        var images = data.Test.Images.narrow(0, 0, 3);

        using var maps = model.GradCam(images);

        var expected = model.forward(images).softmax(1);
        int size = model.Backbone.ImageSize;
        Assert.Equal(new long[] { 3, size, size }, maps.Maps.shape);
        Assert.Equal(expected.argmax(1).data<long>().ToArray().Select(i => (int)i), maps.Predicted);
        Assert.Equal(maps.Predicted, maps.Classes);
        for (int i = 0; i < 3; i++)
            for (int c = 0; c < model.ClassNames.Length; c++)
                Assert.Equal(expected[i, c].item<float>(), maps.Probabilities[i][c], 4);
        Assert.False(model.training);
    }
}
