using System.IO.Compression;
using System.Text.Json.Nodes;
using NotebookVgg.Data;
using NotebookVgg.Models;
using NotebookVgg.Runtime;
using NotebookVgg.Tests.TestSupport;
using NotebookVgg.Training;
using NotebookVgg.Transfer;
using NotebookVgg.Weights;
using static TorchSharp.torch;

namespace NotebookVgg.Tests.Transfer;

/// <summary>
/// Issue 24: checkpoints and feature caches written before the typed model description still load and give the same
/// numbers. The checkpoint fixture and the pinned values were made by the code of 0e91a11 (the description's cut,
/// interpolation and precision stored as strings); tests/fixtures/checkpoints/README.md says how.
/// </summary>
[Collection(GlobalRandomState.Name)]
public sealed class OlderFilesTests : IDisposable
{
    private static readonly string Fixture = RepoFiles.Path("tests", "fixtures", "checkpoints", "features-fc7.before-issue-24.ckpt");

    // The checkpoint's logits for the first four test images of SyntheticCifar.Write(dir, 200, 50, seed: 5), as 0e91a11 computed them.
    private static readonly float[] Logits =
    [
        -0.006677203f, -0.012496219f, 0.00094483094f, 0.0116849f, 0.009235237f, -0.0078022964f, 0.0012273462f, 0.00874002f, -0.014844197f, -0.0052173864f,
        -0.002975259f, -0.006970764f, 0.0012764172f, 0.008754706f, 0.0022735568f, -0.004034616f, 0.0028356034f, 0.0060603335f, -0.015398403f, -0.0074904286f,
        -0.005155226f, -0.008771309f, 0.0025070384f, 0.009739377f, 0.0060484074f, -0.005187365f, 0.0026799152f, 0.0070574866f, -0.0165243f, -0.008111581f,
        -0.004506152f, -0.011398942f, 0.0051075267f, 0.009134713f, 0.010105606f, -0.007834792f, 0.0013188985f, 0.006800941f, -0.016536279f, -0.0065709716f,
    ];

    private readonly TempDirectory _dir = new();
    private readonly string _data;

    public OlderFilesTests() => _data = SyntheticCifar.Write(_dir.Combine("synth"), 200, 50, seed: 5);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void ACheckpointFromBeforeTheTypedDescription_Loads_AndPredictsWhatItPredictedThen()
    {
        using var model = TrainedModel.Load(Fixture);
        using var data = Cifar10.Load(_data);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();

        float[] logits = model.forward(data.Test.Images.narrow(0, 0, 4)).data<float>().ToArray();

        Assert.Equal(TrainingMode.Features, model.Description.Mode);
        Assert.Equal(new Backbone("vgg19", WeightsReference.Random, FeatureCut.Fc7, 32, Interpolation.Bilinear, Preprocessing.ImageNet.Mean,
            Preprocessing.ImageNet.Std, Precision.Fp32, Seed: 0), model.Backbone);
        Assert.Equal(Logits.Length, logits.Length);
        for (int i = 0; i < Logits.Length; i++)
            Assert.True(Math.Abs(Logits[i] - logits[i]) < 1e-6, $"logit {i}: {logits[i]}, was {Logits[i]}");
    }

    [Theory]
    [InlineData("avgpool", FeatureCut.Pool5)] // pool5's name in checkpoints before 2026-12
    [InlineData("pool5", FeatureCut.Pool5)]
    [InlineData("FC7", FeatureCut.Fc7)]
    public void AStoredCutName_ReadsAsItsCut(string stored, FeatureCut expected)
    {
        string copy = _dir.Combine("copy.ckpt");
        File.Copy(Fixture, copy);
        using (var zip = ZipFile.Open(copy, ZipArchiveMode.Update))
        {
            var entry = zip.GetEntry("state.json")!;
            JsonNode state;
            using (var s = entry.Open())
                state = JsonNode.Parse(s)!;
            state["model"]!["featureCut"] = stored;
            entry.Delete();
            using var w = new StreamWriter(zip.CreateEntry("state.json").Open());
            w.Write(state.ToJsonString());
        }

        Assert.Equal(expected, ModelDescription.Read(copy).Backbone.Cut);
    }

    [Fact]
    public void TheFeatureCacheAndPrecisionCheckKeys_AreTheOnesEarlierRunsStoredTheirFilesUnder()
    {
        using var data = Cifar10.Load(_data);
        using var scope = NewDisposeScope();
        var fc7 = new Backbone("vgg19", WeightsReference.Random, FeatureCut.Fc7, 32, Interpolation.Bilinear, Preprocessing.ImageNet.Mean,
            Preprocessing.ImageNet.Std, Precision.Fp32, Seed: 0);
        var pool5 = fc7 with { Cut = FeatureCut.Pool5, ImageSize = 64, Interpolation = Interpolation.Bicubic, Precision = Precision.Bf16 };
        var checkBatch = fc7.Prepare(data.Train.Images.narrow(0, 0, 32));

        Assert.Equal("82a50820cfa0c5ceb1411f4225b2729748bf815b53add3cb261b53b491a6515e", FeatureCache.KeyFor(data.Test, fc7));
        Assert.Equal("08086a331f4272011d858caf0baad049c1cde8863b3c5c1c83e4dc016d6ece8e", FeatureCache.KeyFor(data.Test, pool5));
        Assert.Equal("afe100f85b394f26f182d3e3f00e6c3c6c558c9406ba317baa54eeefaf788d1b", PrecisionCheck.KeyFor(fc7, checkBatch));
    }
}
