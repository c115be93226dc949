using NotebookVgg.Tests.TestSupport;
using NotebookVgg.Models;
using NotebookVgg.Tests.Weights;
using NotebookVgg.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Tests.Models;

[Collection(GlobalRandomState.Name)]
public sealed class VggTests
{
    private static List<(string Key, long[] Shape)> ManifestKeys(string section, string arch) =>
        WeightFixtures.Manifest.GetProperty(section).GetProperty(arch).GetProperty("keys").EnumerateArray()
            .Select(k => (k[0].GetString()!, k[1].EnumerateArray().Select(d => d.GetInt64()).ToArray())).ToList();

    private static List<(string Key, long[] Shape)> Keys(nn.Module model) =>
        model.state_dict().Select(kv => (kv.Key, kv.Value.shape)).ToList();

    [Fact]
    public void Vgg19_MatchesTorchvisionKeyForKey_With143667240Parameters()
    {
        using var model = Vgg.Create("vgg19");
        var expected = ManifestKeys("torchvision", "vgg19");
        var actual = Keys(model);
        Assert.Equal(expected.Select(k => k.Key), actual.Select(k => k.Key));
        for (int i = 0; i < expected.Count; i++)
            Assert.Equal(expected[i].Shape, actual[i].Shape);
        Assert.Equal(143_667_240L, model.parameters().Sum(p => p.numel()));
        Assert.Equal("features.34.weight", actual[^8].Key);
        Assert.Equal(1000L, model.NumClasses);
    }

    [Theory]
    [InlineData("vgg11")]
    [InlineData("vgg11_bn")]
    [InlineData("vgg13")]
    [InlineData("vgg13_bn")]
    [InlineData("vgg16")]
    [InlineData("vgg16_bn")]
    [InlineData("vgg19")]
    [InlineData("vgg19_bn")]
    public void EveryArchitecture_HasTorchvisionsKeyLayout(string arch)
    {
        using var model = WeightFixtures.Model(arch);
        var expected = ManifestKeys("reduced", arch);
        // Same keys and shapes. (TorchSharp's state_dict() lists all parameters before all buffers, where PyTorch
        // interleaves them per module; parameters alone come in the same order.)
        Assert.Equal(expected.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => (k.Key, string.Join(",", k.Shape))),
            Keys(model).OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => (k.Key, string.Join(",", k.Shape))));
        Assert.Equal(expected.Where(k => !StateDictBuffer(k.Key)).Select(k => k.Key), model.named_parameters().Select(p => p.name));
        // The full-size layout differs only in widths: same keys as torchvision's full network.
        Assert.Equal(ManifestKeys("torchvision", arch).Select(k => k.Key), expected.Select(k => k.Key));
        Assert.Equal(model.parameters().Sum(p => p.numel()), expected.Where(k => !StateDictBuffer(k.Key)).Sum(k => k.Shape.Aggregate(1L, (x, y) => x * y)));
        Assert.Equal(WeightFixtures.Manifest.GetProperty("torchvision").GetProperty(arch).GetProperty("parameters").GetInt64(),
            VggArchitectureParameters(VggArchitecture.Get(arch)));
    }

    private static bool StateDictBuffer(string key) =>
        key.EndsWith("running_mean", StringComparison.Ordinal) || key.EndsWith("running_var", StringComparison.Ordinal) || key.EndsWith("num_batches_tracked", StringComparison.Ordinal);

    // Parameter count of the full-size network, computed from the architecture description (no 500 MB allocation).
    private static long VggArchitectureParameters(VggArchitecture a)
    {
        long total = 0, inChannels = 3;
        foreach (int v in a.Layers.Where(v => v != VggArchitecture.MaxPool))
        {
            total += inChannels * v * 9 + v + (a.BatchNorm ? 2 * v : 0);
            inChannels = v;
        }
        return total + (inChannels * 49 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000);
    }

    [Fact]
    public void UnknownArchitecture_NamesTheKnownOnes()
    {
        var ex = Assert.Throws<ArgumentException>(() => Vgg.Create("vgg20"));
        Assert.Contains("vgg20", ex.Message, StringComparison.Ordinal);
        Assert.Contains("vgg19_bn", ex.Message, StringComparison.Ordinal);
        Assert.Equal(["vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"], Vgg.Architectures);
    }

    [Fact]
    public void Initialization_IsTorchvisions()
    {
        using var a = Vgg.CreateReducedWidth("vgg19_bn", 2, 256, 10);
        var conv = a.features.modules().OfType<TorchSharp.Modules.Conv2d>().Last(); // a 256→256 convolution
        double std = conv.weight.std().item<float>();
        Assert.InRange(std, Math.Sqrt(2.0 / (256 * 9)) * 0.95, Math.Sqrt(2.0 / (256 * 9)) * 1.05); // kaiming normal, fan-out, ReLU
        var fc = (TorchSharp.Modules.Linear)a.classifier[0];
        Assert.InRange(fc.weight.std().item<float>(), 0.0095, 0.0105);
        Assert.Equal(0f, fc.bias!.abs().max().item<float>());
        var bn = (TorchSharp.Modules.BatchNorm2d)a.features[1];
        Assert.Equal(1f, bn.weight!.min().item<float>());
    }

    [Fact]
    public void Initialization_IsDeterministicUnderManualSeed()
    {
        // Runs in a collection of its own (no parallel tests): the global generator is shared.
        torch.manual_seed(7);
        using var a = WeightFixtures.Model("vgg19_bn");
        torch.manual_seed(7);
        using var b = WeightFixtures.Model("vgg19_bn");
        foreach (var ((name, pa), (_, pb)) in a.named_parameters().Zip(b.named_parameters()))
            Assert.True(pa.allclose(pb, 0, 0), $"{name} differs between two seeded builds");
    }

    [Fact]
    public void ReplaceHead_SwapsOnlyClassifier6_KeepsKeysAndOtherWeights()
    {
        using var model = WeightFixtures.Model("vgg19");
        WeightLoader.Load(model, WeightFixtures.Path("vgg19_r32.zip.pth"));
        var fc7 = ((TorchSharp.Modules.Linear)model.classifier[3]).weight.clone();
        model.FreezeFeatures();

        var head = model.ReplaceHead(3);

        Assert.Same(head, model.Head);
        Assert.Equal(3L, model.NumClasses);
        Assert.True(head.weight.requires_grad);
        Assert.Equal([3L, WeightFixtures.Hidden], head.weight.shape);
        Assert.Contains(model.state_dict(), kv => kv.Key == "classifier.6.weight" && kv.Value.shape.SequenceEqual([3L, 16]));
        Assert.Equal(ManifestKeys("reduced", "vgg19").Select(k => k.Key), model.state_dict().Keys);
        Assert.True(((TorchSharp.Modules.Linear)model.classifier[3]).weight.allclose(fc7, 0, 0));
        Assert.Contains(model.parameters(), p => ReferenceEquals(p, head.weight));
        model.eval();
        using var noGrad = no_grad();
        Assert.Equal([2L, 3], model.forward(WeightFixtures.Input()).shape);
    }

    [Fact]
    public void Freezing_IsExplicitAndCounted()
    {
        using var model = WeightFixtures.Model("vgg19");
        long total = model.parameters().Sum(p => p.numel());
        long features = model.features.parameters().Sum(p => p.numel());

        Assert.Equal(features, model.FreezeFeatures());
        Assert.Equal(total - features, model.parameters().Where(p => p.requires_grad).Sum(p => p.numel()));

        model.Unfreeze();
        long upTo3 = model.FreezeUpTo("classifier.3");
        Assert.Equal(total - model.Head.parameters().Sum(p => p.numel()), upTo3);
        Assert.All(model.Head.parameters(), p => Assert.True(p.requires_grad));

        Assert.Equal(total, model.Unfreeze());
        Assert.All(model.parameters(), p => Assert.True(p.requires_grad));
        var ex = Assert.Throws<ArgumentException>(() => model.FreezeUpTo("classifier.9"));
        Assert.Contains("classifier.9", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(FeatureCut.Pool5, "avgpool")]
    [InlineData(FeatureCut.Fc7, "fc7")]
    public void ExtractFeatures_MatchesPyTorch(FeatureCut cut, string key)
    {
        using var model = WeightFixtures.Model("vgg19");
        WeightLoader.Load(model, WeightFixtures.Path("vgg19_r32.legacy.pth"));
        model.eval();
        using var noGrad = no_grad();
        using var features = model.ExtractFeatures(WeightFixtures.Input(), cut);
        // pool5 is the map before avgpool; PyTorch's reference was recorded after it (what the pool5 head applies).
        using var compared = cut == FeatureCut.Pool5 ? model.avgpool.call(features).flatten(1) : features.alias();
        WeightFixtures.AssertClose(WeightFixtures.Expected($"vgg19.{key}"), compared);
    }
}
