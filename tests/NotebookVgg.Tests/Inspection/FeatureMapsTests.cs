using System.Text.Json;
using NotebookVgg.Charts;
using NotebookVgg.Inspection;
using NotebookVgg.Models;
using NotebookVgg.Tests.TestSupport;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NotebookVgg.Tests.Inspection;

/// <summary>Issue 16, item 1: the first layer's filters and the feature maps after each block, for any VGG.</summary>
[Collection(GlobalRandomState.Name)]
public class FeatureMapsTests
{
    private static Vgg Small(string architecture)
    {
        random.manual_seed(3);
        return Vgg.CreateReducedWidth(architecture, widthDivisor: 16, hiddenUnits: 16, numClasses: 10);
    }

    [Theory]
    [InlineData("vgg11", new[] { 1, 4, 9, 14, 19 }, new[] { 2, 5, 10, 15, 20 })]
    [InlineData("vgg11_bn", new[] { 2, 6, 13, 20, 27 }, new[] { 3, 7, 14, 21, 28 })]
    [InlineData("vgg19", new[] { 3, 8, 17, 26, 35 }, new[] { 4, 9, 18, 27, 36 })]
    [InlineData("vgg19_bn", new[] { 5, 12, 25, 38, 51 }, new[] { 6, 13, 26, 39, 52 })]
    public void BlockEnds_AreTheReluBeforeEachPool_OrThePool_ReadFromTheNetwork(string architecture, int[] relus, int[] pools)
    {
        using var model = Small(architecture);
        var modules = model.named_modules().ToDictionary(m => m.name, m => m.module);

        var ends = FeatureMaps.BlockEnds(model);
        var afterPool = FeatureMaps.BlockEnds(model, afterPool: true);

        Assert.Equal(relus.Select(i => $"features.{i}"), ends);
        Assert.Equal(pools.Select(i => $"features.{i}"), afterPool);
        Assert.All(ends, n => Assert.IsType<ReLU>(modules[n]));
        Assert.All(afterPool, n => Assert.IsType<MaxPool2d>(modules[n]));
    }

    [Theory]
    [InlineData("vgg11", 32)]
    [InlineData("vgg11", 64)]
    [InlineData("vgg19", 32)]
    [InlineData("vgg19", 64)]
    public void After_GivesEachBlockEndAtItsResolution_InTheOrderAsked(string architecture, int size)
    {
        using var model = Small(architecture);
        random.manual_seed(4);
        using var image = randn(3, size, size);
        var ends = FeatureMaps.BlockEnds(model);
        var layers = model.Architecture.Layers;
        int[] widths = [.. layers.Where((v, i) => v != VggArchitecture.MaxPool && layers[i + 1] == VggArchitecture.MaxPool)];

        var outputs = FeatureMaps.After(model, image, [ends[4], ends[0], ends[2]]);

        Assert.Equal([ends[4], ends[0], ends[2]], outputs.Select(o => o.Layer));
        Assert.Equal([5, 1, 3], outputs.Select(o => o.Block));
        foreach (var o in outputs)
        {
            Assert.Equal(new long[] { 1, widths[o.Block - 1], size >> (o.Block - 1), size >> (o.Block - 1) }, o.Output.shape);
            Assert.Equal(CPU.type, o.Output.device.type);
        }
    }

    [Fact]
    public void After_MatchesTheNetworksOwnForward_AndKeepsOutputsThatLaterInPlaceRelusWouldChange()
    {
        using var model = Small("vgg11");
        model.train();
        random.manual_seed(5);
        using var image = randn(1, 3, 32, 32);
        string lastPool = FeatureMaps.BlockEnds(model, afterPool: true)[^1];

        var outputs = FeatureMaps.After(model, image, "features.0", lastPool);

        model.eval();
        using (no_grad())
        {
            using var expected = model.features.call(image.clone());
            Assert.True(allclose(expected, outputs[1].Output, rtol: 1e-5, atol: 1e-6), "the last pool's output is what features computes");
            using var conv = ((Conv2d)model.features[0]).call(image);
            Assert.True(allclose(conv, outputs[0].Output), "features.0 is the convolution's raw output");
        }
        Assert.True(outputs[0].Output.lt(0).any().item<bool>(), "a convolution's output keeps its negative values (the next ReLU works in place)");
    }

    [Fact]
    public void After_RestoresTrainingMode_AndRejectsUnknownLayersAndShapes()
    {
        using var model = Small("vgg19");
        model.train();
        using var image = zeros(3, 32, 32);

        FeatureMaps.After(model, image, "features.3");

        Assert.True(model.training);
        var unknown = Assert.Throws<ArgumentException>(() => FeatureMaps.After(model, image, "classifier.0"));
        Assert.Contains("features.3", unknown.Message, StringComparison.Ordinal); // names the block ends
        Assert.Throws<ArgumentException>(() => FeatureMaps.After(model, zeros(2, 3, 32, 32), "features.3"));
        Assert.Throws<ArgumentException>(() => FeatureMaps.After(model, zeros(3, 32, 32, dtype: ScalarType.Byte), "features.3"));
    }

    [Theory]
    [InlineData("vgg11")]
    [InlineData("vgg19")]
    public void FirstLayerFilters_AreEachFilterMinMaxNormalised(string architecture)
    {
        using var model = Small(architecture);
        var conv = (Conv2d)model.features[0];
        using (no_grad())
            conv.weight!.narrow(0, 1, 1).fill_(0.25f); // one flat filter

        using var filters = FeatureMaps.FirstLayerFilters(model);

        long count = model.Architecture.Layers[0];
        Assert.Equal(new long[] { count, 3, 3, 3 }, filters.shape);
        float[] w = conv.weight!.detach().flatten().data<float>().ToArray();
        float[] f = filters.flatten().data<float>().ToArray();
        for (int i = 0; i < count; i++)
        {
            var filter = w.Skip(i * 27).Take(27).ToArray();
            float low = filter.Min(), high = filter.Max();
            for (int j = 0; j < 27; j++)
            {
                float expected = high > low ? (filter[j] - low) / (high - low) : 0.5f;
                Assert.Equal(expected, f[i * 27 + j], 5);
            }
        }
        Assert.Equal(0f, filters[0].min().item<float>());
        Assert.Equal(1f, filters[0].max().item<float>());
    }

    [Fact]
    public void FilterMosaic_IsOneImage_AndFeatureMapRowsShowTheMeanAndTheChannels()
    {
        using var model = Small("vgg19");
        using var filters = FeatureMaps.FirstLayerFilters(model);
        var mosaic = JsonDocument.Parse(OfflineHtml.FigureJson(FeatureCharts.FilterMosaic(filters, "filters (random weights)", columns: 2))).RootElement;
        var traces = mosaic.GetProperty("data").EnumerateArray().ToList();
        Assert.Single(traces);
        Assert.StartsWith("data:image/png;base64,", traces[0].GetProperty("source").GetString(), StringComparison.Ordinal);

        using var image = randn(3, 32, 32);
        var at32 = FeatureMaps.After(model, image, FeatureMaps.BlockEnds(model)[4]);
        using var big = randn(3, 64, 64);
        var at64 = FeatureMaps.After(model, big, FeatureMaps.BlockEnds(model)[4]);
        var rows = JsonDocument.Parse(OfflineHtml.FigureJson(FeatureCharts.FeatureMapRows(
            [("32", at32[0].Output), ("64", at64[0].Output)], channels: 3, "block 5 (random weights)"))).RootElement;
        Assert.Equal(8, rows.GetProperty("data").GetArrayLength()); // 2 rows × (mean + 3 channels)
        string layout = rows.GetProperty("layout").GetRawText();
        Assert.Contains("32: mean of 32", layout, StringComparison.Ordinal);
        Assert.Contains("channel 2", layout, StringComparison.Ordinal);
    }
    [Theory]
    [InlineData("vgg19", "features.3", 1, 5)]
    [InlineData("vgg19", "features.17", 4, 48)]
    [InlineData("vgg19", "features.35", 16, 252)]
    [InlineData("vgg19", "features.36", 32, 268)]
    [InlineData("vgg11", "features.19", 16, 134)]
    public void Geometry_IsTheStrideAndReceptiveFieldOfTheLayersUpToIt(string architecture, string layer, int stride, int field)
    {
        using var model = Small(architecture);
        Assert.Equal((stride, field), FeatureMaps.Geometry(model, layer));
        Assert.Throws<ArgumentException>(() => FeatureMaps.Geometry(model, "classifier.0"));
    }

    [Fact]
    public void Compare_GivesMapSidesAndActiveShares_AndWithTheModelStrideAndReceptiveField()
    {
        using var model = Small("vgg19");
        string[] layers = [.. FeatureMaps.BlockEnds(model)];
        using var image = randn(3, 32, 32);
        using var big = randn(3, 64, 64);
        var a = FeatureMaps.After(model, image, layers);
        var b = FeatureMaps.After(model, big, layers);

        var plain = FeatureMaps.Compare(a, "32", b, "64");
        var table = FeatureMaps.Compare(a, "32", b, "64", model);

        Assert.DoesNotContain(plain.Columns, c => c.Name.StartsWith("stride", StringComparison.Ordinal));
        Assert.DoesNotContain(table.Columns, c => c.Name.StartsWith("mean", StringComparison.Ordinal));
        Assert.Equal("2×2", table["map, 32"][4]);
        Assert.Equal("4×4", table["map, 64"][4]);
        Assert.Equal([1, 2, 4, 8, 16], table["stride, input px"].Cast<int>());
        Assert.Equal([5, 14, 48, 116, 252], table["receptive field, input px"].Cast<int>());
    }
}
