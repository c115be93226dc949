using NotebookVgg.Weights;

namespace NotebookVgg.Tests.Weights;

public sealed class PretrainedWeightsTests
{
    [Fact]
    public void Vgg19_CarriesTorchvisionsPublishedFacts()
    {
        var w = PretrainedWeights.Vgg19ImageNet;
        Assert.Equal("https://download.pytorch.org/models/vgg19-dcbb9e9d.pth", w.Url.ToString());
        Assert.Equal("vgg19-dcbb9e9d.pth", w.FileName);
        Assert.Equal("dcbb9e9dad569fff7a846263a77324fc34978fea2bfb039c012d710e1776ae44", w.Sha256);
        Assert.False(w.Sha256IsPrefix);
        Assert.Equal(574_673_361L, w.Bytes);
        Assert.Equal(WeightsFormat.LegacyTorch, w.Format);
        Assert.Equal(72.376, w.Top1);
        Assert.Equal(90.876, w.Top5);
        Assert.Equal(143_667_240L, w.Parameters);
        Assert.Equal(224, w.Preprocessing.InputSize);
        Assert.Equal([0.485f, 0.456f, 0.406f], w.Preprocessing.Mean);
        Assert.Same(w, PretrainedWeights.Get("VGG19"));
    }

    [Fact]
    public void WithSha256_FindsTheRegisteredFile_AndNothingElse()
    {
        // Full checksum where it is established; torchvision's 8-digit prefix elsewhere; any other file: null.
        Assert.Same(PretrainedWeights.Vgg19ImageNet, PretrainedWeights.WithSha256("DCBB9E9DAD569FFF7A846263A77324FC34978FEA2BFB039C012D710E1776AE44"));
        Assert.Null(PretrainedWeights.WithSha256("dcbb9e9dad569fff7a846263a77324fc34978fea2bfb039c012d710e1776ae45"));
        Assert.Same(PretrainedWeights.Vgg19BnImageNet, PretrainedWeights.WithSha256("c79401a0" + new string('0', 56)));
        Assert.Null(PretrainedWeights.WithSha256(new string('0', 64)));
        var ex = Assert.Throws<ArgumentException>(() => PretrainedWeights.WithSha256("dcbb9e9d"));
        Assert.StartsWith("SHA-256 'dcbb9e9d': expected 64 hex digits", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Registry_CoversEveryArchitecture_WithConsistentFacts()
    {
        Assert.Equal(NotebookVgg.Models.Vgg.Architectures, PretrainedWeights.All.Select(w => w.Architecture));
        foreach (var w in PretrainedWeights.All)
        {
            Assert.StartsWith(Path.GetFileNameWithoutExtension(w.FileName).Split('-')[^1], w.Sha256, StringComparison.Ordinal); // torchvision names files by hash prefix
            Assert.Equal(WeightFixtures.Manifest.GetProperty("torchvision").GetProperty(w.Architecture).GetProperty("parameters").GetInt64(), w.Parameters);
            Assert.InRange(w.Top1, 69, 75);
            Assert.Equal(1000, w.Categories.Count);
        }
        Assert.Equal(74.218, PretrainedWeights.Get("vgg19_bn").Top1);
    }

    [Fact]
    public void Categories_AreImageNetsInClassOrder()
    {
        var c = PretrainedWeights.ImageNetCategories;
        Assert.Equal(1000, c.Count);
        Assert.Equal("tench", c[0]);
        Assert.Equal("goldfish", c[1]);
        Assert.Equal("toilet tissue", c[999]);
        Assert.Equal(1000, c.Distinct().Count());
    }

    [Fact]
    public void UnknownName_ListsTheKnownOnes()
    {
        var ex = Assert.Throws<ArgumentException>(() => PretrainedWeights.Get("resnet50"));
        Assert.Contains("vgg19_bn", ex.Message, StringComparison.Ordinal);
    }
}
