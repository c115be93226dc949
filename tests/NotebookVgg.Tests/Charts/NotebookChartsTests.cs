using System.Text.Json;
using NotebookVgg.Charts;
using NotebookVgg.Evaluation;
using NotebookVgg.Training;
using Plotly.NET;
using static TorchSharp.torch;

namespace NotebookVgg.Tests.Charts;

public class NotebookChartsTests
{
    /// <summary>Renders offline HTML and returns the figure JSON after checking the page needs no network.</summary>
    private static JsonElement RenderOffline(GenericChart chart)
    {
        string html = OfflineHtml.Of(chart);
        Assert.DoesNotMatch(new System.Text.RegularExpressions.Regex("<script[^>]*src=[\"']?(https?:)?//", System.Text.RegularExpressions.RegexOptions.IgnoreCase), html);
        Assert.Contains("Plotly.newPlot", html, StringComparison.Ordinal);
        Assert.True(html.Length > 1_000_000, "plotly.js should be embedded (over a megabyte)");
        return JsonDocument.Parse(OfflineHtml.FigureJson(chart)).RootElement;
    }

    private static string Title(JsonElement figure) => figure.GetProperty("layout").GetProperty("title").GetProperty("text").GetString()!;

    [Fact]
    public void TrainingHistory_CarriesEveryEpoch_AndNamesTheData()
    {
        var history = new TrainingHistory("synthetic CIFAR-10-shaped data",
        [
            new EpochRecord(1, 2.0, 0.30, 1.8, 0.35, 1e-3, 1.5),
            new EpochRecord(2, 1.2, 0.60, 1.1, 0.62, 1e-3, 1.4),
        ]);
        var figure = RenderOffline(NotebookCharts.TrainingHistory(history));
        Assert.Contains("synthetic", Title(figure), StringComparison.Ordinal);
        var traces = figure.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(4, traces.Count);
        Assert.Equal([2.0, 1.2], traces[0].GetProperty("y").EnumerateArray().Select(v => v.GetDouble()));
        Assert.Equal([35.0, 62.0], traces[3].GetProperty("y").EnumerateArray().Select(v => Math.Round(v.GetDouble(), 6)));
        Assert.Contains("epoch", figure.GetProperty("layout").GetRawText(), StringComparison.Ordinal); // the x axes are named
    }

    [Fact]
    public void Lines_OnALogAxisSpanningOneDecade_NameEveryTickInFull()
    {
        // Plotly's own ticks here read "4, 3, 2, 0.01, 9, 8": notebook 2's gradient-norm chart could not be read.
        var figure = RenderOffline(NotebookCharts.Lines("gradient norms", "step", "mean norm",
            [("logits", [0.045, 0.03]), ("softmax", [0.005, 0.004])], logY: true));

        var y = figure.GetProperty("layout").GetProperty("yaxis");
        Assert.Equal("log", y.GetProperty("type").GetString());
        Assert.Equal("mean norm", y.GetProperty("title").GetProperty("text").GetString());
        Assert.Equal(["0.002", "0.005", "0.01", "0.02", "0.05", "0.1"],
            y.GetProperty("ticktext").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(y.GetProperty("ticktext").GetArrayLength(), y.GetProperty("tickvals").GetArrayLength());
    }

    [Fact]
    public void Lines_OnALogAxisSpanningManyDecades_TickOnlyAtPowersOfTen_WithTheLegendBelow()
    {
        // Notebook 2's loss ran from 1E+02 to 1E-08: a label at 1, 2 and 5 of every decade piled the labels on each other.
        var figure = RenderOffline(NotebookCharts.Lines("training loss", "step", "cross-entropy (log)",
            [("logits", [80.0, 1.0, 3e-9]), ("softmax", [2.3, 1.7, 1.5])], logY: true));

        var y = figure.GetProperty("layout").GetProperty("yaxis");
        Assert.Equal(["10<sup>\u2212" + "9</sup>", "10<sup>\u2212" + "7</sup>", "10<sup>\u2212" + "5</sup>", "10<sup>\u2212" + "3</sup>", "10<sup>\u2212" + "1</sup>", "10"],
            y.GetProperty("ticktext").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal([-9.0, -7, -5, -3, -1, 1], y.GetProperty("tickvals").EnumerateArray().Select(t => Math.Round(Math.Log10(t.GetDouble()), 9)));
        var legend = figure.GetProperty("layout").GetProperty("legend");
        Assert.Equal("h", legend.GetProperty("orientation").GetString());
        Assert.True(legend.GetProperty("y").GetDouble() < 0, "the legend sits below the plot");
    }

    [Fact]
    public void LogTicks_WithinADecade_TakeFinerSteps_SoThatThreeFallInside()
    {
        // Notebook 2's smoke loss ran from 1.3 to 2.5: 1, 2 and 5 left the single tick "2" inside it.
        double[] ticks = LogAxis.LogTicks(1.3, 2.5);
        Assert.Equal([1.5, 2, 2.5], ticks.Where(t => t >= 1.3 && t <= 2.5).Select(t => Math.Round(t, 9)));
        Assert.Equal([0.01, 0.02, 0.05, 0.1], LogAxis.LogTicks(0.01, 0.1).Select(t => Math.Round(t, 9)).Where(t => t >= 0.01 && t <= 0.1));
    }

    [Fact]
    public void Lines_OnALogAxisWithinADecade_LabelTicksInsideTheData()
    {
        // Notebook 2's smoke loss, 1.3 to 2.5: the finer steps must not switch the axis to decades (1 and 10, both outside).
        var figure = RenderOffline(NotebookCharts.Lines("training loss", "step", "cross-entropy (log)",
            [("logits", [2.5, 1.9, 1.3]), ("softmax", [2.4, 2.3, 2.2])], logY: true));
        var text = figure.GetProperty("layout").GetProperty("yaxis").GetProperty("ticktext").EnumerateArray().Select(t => t.GetString()).ToList();
        Assert.Contains("1.5", text);
        Assert.Contains("2", text);
        Assert.Contains("2.5", text);
    }

    [Theory]
    [InlineData(1e-3, "10<sup>\u22123</sup>")]
    [InlineData(1.0, "1")]
    [InlineData(10.0, "10")]
    [InlineData(1e4, "10<sup>4</sup>")]
    public void PowerOfTen_WritesTheExponentAsASuperscript(double tick, string text) =>
        Assert.Equal(text, LogAxis.PowerOfTen(tick));

    [Fact]
    public void ConfusionMatrix_CarriesTheCounts_FirstClassOnTop()
    {
        var result = new EvaluationResult("CIFAR-10 sample", ["cat", "dog"], 10, 0.5, 0.7, 1.0,
            [[4, 1], [2, 3]], [], []);
        var figure = RenderOffline(NotebookCharts.ConfusionMatrix(result));
        Assert.Contains("CIFAR-10 sample", Title(figure), StringComparison.Ordinal);
        var z = figure.GetProperty("data")[0].GetProperty("z").EnumerateArray()
            .Select(r => r.EnumerateArray().Select(v => v.GetInt32()).ToArray()).ToArray();
        Assert.Equal([[2, 3], [4, 1]], z); // reversed rows: Plotly draws row 0 at the bottom
        Assert.Equal(["dog", "cat"], figure.GetProperty("data")[0].GetProperty("y").EnumerateArray().Select(v => v.GetString()));
    }

    [Fact]
    public void ImageGrid_EmbedsEachImageAsPng_WithItsCaption()
    {
        using var images = arange(2 * 3 * 4 * 4, dtype: ScalarType.Byte).reshape(2, 3, 4, 4);
        var figure = RenderOffline(NotebookCharts.ImageGrid(images, ["a 32×32", "b 224×224"], 2, "Resizing (CIFAR-10 sample)"));
        var sources = figure.GetProperty("data").EnumerateArray().Select(t => t.GetProperty("source").GetString()!).ToList();
        Assert.Equal(2, sources.Count);
        Assert.All(sources, s => Assert.StartsWith("data:image/png;base64,", s, StringComparison.Ordinal));
        Assert.NotEqual(sources[0], sources[1]);
        string json = figure.GetRawText();
        Assert.Contains("a 32×32", json, StringComparison.Ordinal);
        Assert.Contains("b 224×224", json, StringComparison.Ordinal);
    }

    [Fact]
    public void ImageGrid_LeavesRoomAboveTheFirstRow_ForATwoLineTitleAndTwoLineCaptions()
    {
        // Issue 22: 05's mistakes gallery drew its two-line title over the first row's two-line captions.
        using var images = arange(2 * 3 * 4 * 4, dtype: ScalarType.Byte).reshape(2, 3, 4, 4);
        string title = "Most confident mistakes: true class, then the prediction (CIFAR-10 sample, random weights (not pretrained), smoke)";
        var oneLine = RenderOffline(NotebookCharts.ImageGrid(images, ["cat", "dog"], 2, "Short"));
        var twoLines = RenderOffline(NotebookCharts.ImageGrid(images, ["cat<br>taken for truck", "dog<br>taken for cat"], 2, title));

        int Top(System.Text.Json.JsonElement f) => f.GetProperty("layout").GetProperty("margin").GetProperty("t").GetInt32();
        int titleLines = Title(twoLines).Split("<br>").Length;
        Assert.True(titleLines >= 2, Title(twoLines));
        Assert.Equal(76 + 24 + 16, Top(oneLine)); // 40 pixels above the title (the tool bar's), 36 below it
        Assert.Equal(76 + 24 * titleLines + 16 * 2, Top(twoLines));
        Assert.Equal(Top(twoLines) - Top(oneLine), twoLines.GetProperty("layout").GetProperty("height").GetInt32()
            - oneLine.GetProperty("layout").GetProperty("height").GetInt32());
    }

    [Fact]
    public void Titles_FitTheChartsWidth_WithTheRunLabelOnALineOfItsOwn()
    {
        // Issue 22 review: 05's gallery and Grad-CAM titles and 04's fine-tune title ran past the right edge.
        const string label = "(CIFAR-10 sample, weights from vgg19-rescaled.pth (not torchvision's ImageNet file), cpu tiny)";
        string title = "Fine-tuning from the trained head: training loss per step " + label;
        var figure = RenderOffline(NotebookCharts.Lines(title, "step", "loss", [("a", [2.0, 1.0])]));

        var lines = Title(figure).Split("<br>");
        int width = figure.GetProperty("layout").GetProperty("width").GetInt32();
        Assert.All(lines, l => Assert.True(l.Length <= (width - 60) / 9, $"'{l}': {l.Length} characters in a chart {width} pixels wide"));
        Assert.Equal("Fine-tuning from the trained head: training loss per step", lines[0]);
        Assert.StartsWith("(CIFAR-10 sample", lines[1], StringComparison.Ordinal);
        Assert.Equal(title, string.Join(" ", lines));
        var titleJson = figure.GetProperty("layout").GetProperty("title");
        Assert.Equal("top", titleJson.GetProperty("yanchor").GetString()); // grows downwards, into a margin sized for it
        Assert.Equal(76 + 24 * lines.Length, figure.GetProperty("layout").GetProperty("margin").GetProperty("t").GetInt32());
        Assert.Equal(["Short title"], ChartTitles.Lines("Short title", 40));
    }

    [Fact]
    public void CountAxes_TickWholeNumbersOnly()
    {
        // Issue 22 review: two epochs were ticked at 1, 1.5, 2.
        var two = RenderOffline(NotebookCharts.Lines("t", "step", "loss", [("a", [2.0, 1.0])])).GetProperty("layout").GetProperty("xaxis");
        Assert.Equal(1, two.GetProperty("dtick").GetInt32());
        Assert.Equal("step", two.GetProperty("title").GetProperty("text").GetString());
        var many = RenderOffline(NotebookCharts.Lines("t", "step", "loss", [("a", [.. Enumerable.Range(1, 240).Select(i => 1.0 / i)])]));
        Assert.Equal(50, many.GetProperty("layout").GetProperty("xaxis").GetProperty("dtick").GetInt32());
        var history = new TrainingHistory("data", [new EpochRecord(1, 2.0, 0.3, 1.8, 0.35, 1e-3, 1.5), new EpochRecord(2, 1.2, 0.6, 1.1, 0.62, 1e-3, 1.4)]);
        var layout = RenderOffline(NotebookCharts.TrainingHistory(history)).GetProperty("layout");
        Assert.Equal(1, layout.GetProperty("xaxis").GetProperty("dtick").GetInt32());
        Assert.Equal(1, layout.GetProperty("xaxis2").GetProperty("dtick").GetInt32());
    }

    [Fact]
    public void ImageGrid_RejectsMismatchedCaptions()
    {
        using var images = zeros(new long[] { 2, 3, 4, 4 }, ScalarType.Byte);
        var ex = Assert.Throws<ArgumentException>(() => NotebookCharts.ImageGrid(images, ["one"], 2, "t"));
        Assert.Contains("1 captions for 2 images", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bars_Bubbles_AndProbabilities_CarryTheirValues()
    {
        var bars = RenderOffline(NotebookCharts.Bars(["vgg16", "vgg19"], [15.47, 19.63], "GMACs at 224×224", "GMACs"));
        Assert.Equal([15.47, 19.63], bars.GetProperty("data")[0].GetProperty("y").EnumerateArray().Select(v => v.GetDouble()));

        var bubbles = RenderOffline(NotebookCharts.Bubbles(["vgg16", "vgg19"], [15.47, 19.63], [71.592, 72.376], [138.4, 143.7],
            "ImageNet top-1 vs. operations", "GMACs", "top-1 %"));
        Assert.Equal([71.592, 72.376], bubbles.GetProperty("data")[0].GetProperty("y").EnumerateArray().Select(v => v.GetDouble()));
        Assert.Equal(["vgg16", "vgg19"], bubbles.GetProperty("data")[0].GetProperty("text").EnumerateArray().Select(v => v.GetString()));

        var probabilities = RenderOffline(NotebookCharts.Probabilities([0.1f, 0.7f, 0.2f], ["cat", "dog", "frog"], "Prediction", top: 2));
        var keys = probabilities.GetProperty("data")[0].GetProperty("y").EnumerateArray().Select(v => v.GetString()).ToList();
        Assert.Equal(["frog", "dog"], keys); // top 2, most likely drawn at the top
        var axis = probabilities.GetProperty("layout").GetProperty("xaxis");
        Assert.Equal(".0%", axis.GetProperty("tickformat").GetString()); // the bars' labels are in %: the axis too
        Assert.Equal([0.0, 1.0], axis.GetProperty("range").EnumerateArray().Select(v => v.GetDouble()));
    }
}
