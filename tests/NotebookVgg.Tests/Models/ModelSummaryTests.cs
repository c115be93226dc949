using System.Text.Json;
using NotebookVgg.Models;
using NotebookVgg.Tests.Weights;

namespace NotebookVgg.Tests.Models;

public sealed class ModelSummaryTests
{
    [Fact]
    public void Vgg19At224_AgreesWithTorchvision()
    {
        using var model = Vgg.Create("vgg19");
        var summary = ModelSummary.Of(model, 224);
        var tv = WeightFixtures.Manifest.GetProperty("torchvision").GetProperty("vgg19");

        Assert.Equal(143_667_240L, summary.TotalParameters);
        Assert.Equal(tv.GetProperty("macs").GetInt64(), summary.TotalMacs);            // 19,632,062,464 ≈ 19.63 G
        Assert.Equal(tv.GetProperty("featuresMacs").GetInt64(), summary.MacsUnder("features")); // 19,508,428,800
        Assert.Equal("19.63", (summary.TotalMacs / 1e9).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture));
        var conv0 = summary.Layers[0];
        Assert.Equal(("features.0", "Conv2d"), (conv0.Name, conv0.Kind));
        Assert.Equal([1L, 64, 224, 224], conv0.OutputShape);
        Assert.Equal(1792L, conv0.Parameters);
        Assert.Equal(224L * 224 * 64 * 27, conv0.Macs);
        Assert.Equal([1L, 512, 7, 7], summary.Layers.Single(l => l.Name == "avgpool").OutputShape);
        Assert.Equal([1L, 1000], summary.Layers[^1].OutputShape);
        Assert.Equal(0L, summary.Layers.Single(l => l.Name == "features.4").Macs); // max-pool: not counted
    }

    [Theory]
    [InlineData("vgg11")]
    [InlineData("vgg13_bn")]
    [InlineData("vgg16")]
    [InlineData("vgg19_bn")]
    public void ReducedWidth_AgreesWithPyTorchsCount(string arch)
    {
        using var model = WeightFixtures.Model(arch);
        var summary = ModelSummary.Of(model, 32);
        var expected = WeightFixtures.Manifest.GetProperty("reduced").GetProperty(arch);
        Assert.Equal(expected.GetProperty("macs").GetInt64(), summary.TotalMacs);
        Assert.Equal(expected.GetProperty("parameters").GetInt64(), summary.TotalParameters);
    }

    [Fact]
    public void FrozenLayers_AndOutputs_ShowInTableFrameAndJson()
    {
        using var model = WeightFixtures.Model("vgg11");
        model.FreezeFeatures();
        model.train();
        var summary = ModelSummary.Of(model, 32, batch: 2);
        Assert.True(model.training, "summary must restore training mode");
        Assert.Equal(summary.TotalParameters - model.classifier.parameters().Sum(p => p.numel()), summary.FrozenParameters);
        Assert.False(summary.Layers[0].Trainable);
        Assert.True(summary.Layers.Single(l => l.Name == "classifier.6").Trainable);
        Assert.Null(summary.Layers.Single(l => l.Name == "features.1").Trainable);

        var frame = summary.ToDataFrame();
        Assert.Equal(summary.Layers.Count, frame.Rows.Count);
        Assert.Equal(["Name", "Kind", "OutputShape", "Parameters", "Trainable", "MACs"], frame.Columns.Select(c => c.Name));
        Assert.Equal("2×10", frame["OutputShape"][frame.Rows.Count - 1]);

        string text = summary.ToText();
        Assert.Contains("classifier.6", text, StringComparison.Ordinal);
        Assert.Contains("frozen", text, StringComparison.Ordinal);

        var json = JsonDocument.Parse(JsonSerializer.Serialize(summary)).RootElement;
        Assert.Equal(summary.TotalMacs, json.GetProperty("TotalMacs").GetInt64());
        Assert.Equal(summary.Layers.Count, json.GetProperty("Layers").GetArrayLength());
    }

    [Fact]
    public void ByBlock_GroupsTheFeaturesIntoBlocks_SoTheClassifierIsOnTheFirstPage()
    {
        // Issue 22: notebook 2's 45-row layer table paged at 25 rows, so the classifier was off the first page.
        using var model = WeightFixtures.Model("vgg11");
        var summary = ModelSummary.Of(model, 32);

        var frame = summary.ByBlock();

        Assert.Equal(["layers", "kind", "output shape", "parameters", "MACs"], frame.Columns.Select(c => c.Name));
        Assert.True(frame.Rows.Count <= 25, $"{frame.Rows.Count} rows");
        Assert.Equal("features.0–2 (block 1, 1 conv)", frame["layers"][0]);
        Assert.Equal("Conv2d, ReLU, MaxPool2d", frame["kind"][0]);
        Assert.Equal("classifier.6", frame["layers"][frame.Rows.Count - 1]);
        long blockParameters = summary.Layers.Where(l => l.Name is "features.0" or "features.1" or "features.2").Sum(l => l.Parameters);
        Assert.Equal(blockParameters.ToString("N0", System.Globalization.CultureInfo.InvariantCulture), frame["parameters"][0]);
        Assert.Equal(5, Enumerable.Range(0, (int)frame.Rows.Count).Count(i => ((string)frame["layers"][i]).Contains("block", StringComparison.Ordinal)));
        Assert.Equal("19.63 G", ModelSummary.FormatMacs(19_632_062_464));
        Assert.Equal("102.8 M", ModelSummary.FormatMacs(102_760_448));
        Assert.Equal("40,960", ModelSummary.FormatMacs(40_960));
        Assert.Equal("", ModelSummary.FormatMacs(0));
    }
}
