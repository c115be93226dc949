using NotebookVgg.Models;
using NotebookVgg.Runtime;
using NotebookVgg.Tests.TestSupport;
using NotebookVgg.Training;
using NotebookVgg.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Tests.Training;

[Collection(GlobalRandomState.Name)]
public sealed class PrecisionCheckTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static Vgg SmallVgg()
    {
        torch.random.manual_seed(11);
        var model = Vgg.CreateReducedWidth("vgg11", widthDivisor: 16, hiddenUnits: 64, numClasses: 10);
        model.eval();
        return model;
    }

    private static Tensor Images()
    {
        torch.random.manual_seed(12);
        return randn(PrecisionCheck.CheckImages, 3, 32, 32);
    }

    /// <summary>Weights made to disagree: classes 0.01 apart on a base of 1000, which bf16 (8 significant bits) cannot tell apart.</summary>
    private static void MakeTheClassifierDisagree(Vgg model)
    {
        using var _ = no_grad();
        model.Head.weight!.zero_();
        model.Head.bias!.copy_(1000 + arange(10, dtype: ScalarType.Float32) * 0.01f);
    }

    [Fact]
    public void Measure_AgreesOnOrdinaryWeights()
    {
        using var model = SmallVgg();
        using var x = Images();
        var m = PrecisionCheck.Measure(model, x, FeatureCut.Fc7);
        Assert.Equal(PrecisionCheck.CheckImages, m.Images);
        Assert.InRange(m.FeatureError, 1e-5, PrecisionCheck.MaxFeatureError); // not zero: bf16 really ran
        Assert.True(PrecisionCheck.Judge(m).Bf16, PrecisionCheck.Judge(m).Reason);
    }

    [Fact]
    public void Measure_FallsBackToFp32_OnWeightsMadeToDisagree()
    {
        using var model = SmallVgg();
        MakeTheClassifierDisagree(model);
        using var x = Images();
        var m = PrecisionCheck.Measure(model, x, FeatureCut.Fc7);
        Assert.True(m.Top1Agreements < PrecisionCheck.MinTop1Agreement * m.Images, $"{m.Top1Agreements}/{m.Images} agree");
        var choice = PrecisionCheck.Judge(m);
        Assert.False(choice.Bf16);
        Assert.Equal("fp32", choice.Name);
        Assert.StartsWith("bf16 rejected, fp32 used: ", choice.Reason, StringComparison.Ordinal);
        Assert.Contains($"top-1 agrees on {m.Top1Agreements}/{m.Images}", choice.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0.02, 32, true)]
    [InlineData(0.031, 32, false)] // features too far apart
    [InlineData(0.001, 28, false)] // 87.5 % top-1 agreement
    [InlineData(0.001, 29, true)]  // 90.6 %
    [InlineData(double.PositiveInfinity, 32, false)]
    public void Judge_AppliesBothThresholds(double featureError, int agreements, bool bf16) =>
        Assert.Equal(bf16, PrecisionCheck.Judge(new PrecisionMeasurement(32, featureError, agreements)).Bf16);

    [Fact]
    public void Choose_Auto_UsesBf16OnlyWithNativeSupport_AndCachesTheCheck()
    {
        using var model = SmallVgg();
        using var x = Images();
        var first = PrecisionCheck.Choose(Precision.Auto, CPU, model, x, FeatureCut.Fc7, "k1", _dir.Path);
        if (!CpuSpeed.HasNativeBf16)
        {
            Assert.False(first.Bf16);
            Assert.Contains("no native bfloat16", first.Reason, StringComparison.Ordinal);
            return;
        }
        Assert.True(first.Bf16, first.Reason);
        Assert.True(File.Exists(Path.Combine(_dir.Path, "precision-k1.json")));
        Assert.DoesNotContain("cache", first.Reason, StringComparison.Ordinal);

        // The cached check is used as is: the same key now answers without measuring (the model changed meanwhile).
        MakeTheClassifierDisagree(model);
        var second = PrecisionCheck.Choose(Precision.Auto, CPU, model, x, FeatureCut.Fc7, "k1", _dir.Path);
        Assert.True(second.Bf16);
        Assert.Contains("read from the cache", second.Reason, StringComparison.Ordinal);
        var other = PrecisionCheck.Choose(Precision.Auto, CPU, model, x, FeatureCut.Fc7, "k2", _dir.Path);
        Assert.False(other.Bf16, other.Reason);
    }

    [Fact]
    public void Choose_Fp32AndBf16_AreTakenAsAskedWithoutACheck()
    {
        using var model = SmallVgg();
        MakeTheClassifierDisagree(model);
        using var x = Images();
        Assert.False(PrecisionCheck.Choose(Precision.Fp32, CPU, model, x, FeatureCut.Fc7, "k", _dir.Path).Bf16);
        Assert.True(PrecisionCheck.Choose(Precision.Bf16, CPU, model, x, FeatureCut.Fc7, "k", _dir.Path).Bf16);
        Assert.Empty(Directory.GetFiles(_dir.Path));
    }

    [Theory]
    [InlineData("auto", Precision.Auto)]
    [InlineData("FP32", Precision.Fp32)]
    [InlineData("bf16", Precision.Bf16)]
    [InlineData("bfloat16", Precision.Bf16)]
    public void Parse_AcceptsTheNames(string text, Precision expected) => Assert.Equal(expected, PrecisionChoice.Parse(text));

    [Fact]
    public void Parse_NamesABadValue() =>
        Assert.Equal("precision 'fp16': expected auto, fp32 or bf16", Assert.Throws<ArgumentException>(() => PrecisionChoice.Parse("fp16")).Message);
}
