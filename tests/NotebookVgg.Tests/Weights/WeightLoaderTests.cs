using NotebookVgg.Models;
using NotebookVgg.Weights;
using static TorchSharp.torch;

namespace NotebookVgg.Tests.Weights;

public sealed class WeightLoaderTests
{
    [Theory]
    [MemberData(nameof(WeightFixtures.Files), MemberType = typeof(WeightFixtures))]
    public void PyTorchFile_LoadsStrictly_AndGivesPyTorchsLogits(string file, string format, string architecture)
    {
        string path = WeightFixtures.Path(file);
        Assert.Equal(Enum.Parse<WeightsFormat>(format), StateDict.DetectFormat(path));

        using var model = WeightFixtures.Model(architecture);
        var report = WeightLoader.Load(model, path);
        Assert.Equal(model.state_dict().Count, report.LoadedTensors);
        Assert.Empty(report.SkippedKeys);

        model.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var logits = model.forward(WeightFixtures.Input());
        WeightFixtures.AssertClose(WeightFixtures.Expected($"{architecture}.logits"), logits);
    }

    [Fact]
    public void CheckpointDicts_AreUnwrapped_AndTimmLayoutIsMapped()
    {
        using var model = WeightFixtures.Model("vgg19");
        Assert.Equal("model", WeightLoader.Load(model, WeightFixtures.Path("vgg19_r32.checkpoint.pth")).CheckpointKey);
        Assert.Equal("state_dict", WeightLoader.Load(model, WeightFixtures.Path("vgg19_r32.checkpoint.legacy.pth")).CheckpointKey);
        var timm = WeightLoader.Load(model, WeightFixtures.Path("vgg19_r32.timm.safetensors"));
        Assert.Equal("timm", timm.Layout);
        Assert.Null(timm.CheckpointKey);
    }

    [Fact]
    public void TorchSharpsOwnSave_RoundTrips()
    {
        using var dir = new TestSupport.TempDirectory();
        using var model = WeightFixtures.Model("vgg11_bn");
        WeightLoader.Load(model, WeightFixtures.Path("vgg11_bn_r32.zip.pth"));
        model.save(dir.Combine("m.dat"));

        Assert.Equal(WeightsFormat.TorchSharp, StateDict.DetectFormat(dir.Combine("m.dat")));
        using var copy = WeightFixtures.Model("vgg11_bn");
        WeightLoader.Load(copy, dir.Combine("m.dat"));
        copy.eval();
        using var noGrad = no_grad();
        WeightFixtures.AssertClose(WeightFixtures.Expected("vgg11_bn.logits"), copy.forward(WeightFixtures.Input()));
    }

    [Fact]
    public void ShapeMismatch_ListsKeyWithBothShapes_AndLoadsNothing()
    {
        using var model = Vgg.CreateReducedWidth("vgg19", WeightFixtures.WidthDivisor, WeightFixtures.Hidden, numClasses: 5);
        var before = model.features[0] is TorchSharp.Modules.Conv2d c ? c.weight.clone() : throw new InvalidOperationException();

        var ex = Assert.Throws<WeightsMismatchException>(() => WeightLoader.Load(model, WeightFixtures.Path("vgg19_r32.legacy.pth")));

        Assert.Equal(["classifier.6.weight", "classifier.6.bias"], ex.Mismatches.Select(x => x.Key));
        var m = ex.Mismatches[0];
        Assert.Equal([5L, 16], m.Expected!);
        Assert.Equal([10L, 16], m.Found!);
        Assert.Contains("classifier.6.weight: expected [5, 16], found [10, 16]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("vgg19_r32.legacy.pth", ex.Message, StringComparison.Ordinal);
        Assert.True(((TorchSharp.Modules.Conv2d)model.features[0]).weight.allclose(before, 0, 0), "nothing may be copied when validation fails");
    }

    [Fact]
    public void SkippedHead_IsNeitherRequiredNorLoaded()
    {
        using var model = Vgg.CreateReducedWidth("vgg19", WeightFixtures.WidthDivisor, WeightFixtures.Hidden, numClasses: 5);
        var head = model.Head.weight.clone();
        var report = WeightLoader.Load(model, WeightFixtures.Path("vgg19_r32.zip.pth"), skip: ["classifier.6"]);
        Assert.Equal(["classifier.6.weight", "classifier.6.bias"], report.SkippedKeys);
        Assert.True(model.Head.weight.allclose(head, 0, 0));
    }

    [Fact]
    public void WrongArchitecture_ListsEveryMissingAndUnexpectedKey()
    {
        using var model = WeightFixtures.Model("vgg11");
        var ex = Assert.Throws<WeightsMismatchException>(() => WeightLoader.Load(model, WeightFixtures.Path("vgg19_r32.safetensors")));
        Assert.Contains(ex.Mismatches, m => m.Problem == "unexpected" && m.Key == "features.34.weight" && m.Found!.SequenceEqual([16L, 16, 3, 3]));
        Assert.Contains(ex.Mismatches, m => m.Problem == "missing" && m.Key == "features.3.weight" && m.Expected!.SequenceEqual([4L, 2, 3, 3]));
        Assert.All(ex.Mismatches, m => Assert.Contains(m.ToString(), ex.Message, StringComparison.Ordinal));
    }

    [Fact]
    public void BatchNormFile_IntoPlainModel_ReportsUnexpectedBuffers()
    {
        using var model = WeightFixtures.Model("vgg11");
        var ex = Assert.Throws<WeightsMismatchException>(() => WeightLoader.Load(model, WeightFixtures.Path("vgg11_bn_r32.legacy.pth")));
        Assert.Contains(ex.Mismatches, m => m.Problem == "unexpected" && m.Key == "features.1.running_var");
    }
}
