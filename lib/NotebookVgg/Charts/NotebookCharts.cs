using System.Globalization;
using NotebookVgg.Evaluation;
using NotebookVgg.Imaging;
using NotebookVgg.Training;
using Plotly.NET;
using Plotly.NET.CSharp;
using static TorchSharp.torch;
using CsChart = Plotly.NET.CSharp.Chart;

namespace NotebookVgg.Charts;

/// <summary>
/// The notebooks' charts, one call each. Every chart's title says what it shows and which data it came
/// from (CIFAR-10, the sample, or synthetic), so no chart can be mistaken for another run's.
/// </summary>
public static class NotebookCharts
{
    /// <summary>Loss and accuracy (in %, as the notebooks' prose gives it) per epoch, training and validation side by side.</summary>
    public static GenericChart TrainingHistory(TrainingHistory history, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(history);
        var epochs = history.Epochs.Select(e => e.Epoch).ToArray();
        var loss = CsChart.Combine(
        [
            CsChart.Line<int, double, string>(epochs, history.Epochs.Select(e => e.TrainLoss), ShowMarkers: true, Name: "train loss"),
            CsChart.Line<int, double, string>(epochs, history.Epochs.Select(e => e.ValidationLoss ?? double.NaN), ShowMarkers: true, Name: "validation loss"),
        ]);
        var accuracy = CsChart.Combine(
        [
            CsChart.Line<int, double, string>(epochs, history.Epochs.Select(e => 100 * e.TrainAccuracy), ShowMarkers: true, Name: "train accuracy %"),
            CsChart.Line<int, double, string>(epochs, history.Epochs.Select(e => 100 * e.ValidationAccuracy ?? double.NaN), ShowMarkers: true,
                Name: "validation accuracy %"),
        ]);
        var grid = CsChart.Grid([Counted(loss, "epoch", epochs.Length), Counted(accuracy, "epoch", epochs.Length)], 1, 2,
            SubPlotTitles: new[] { "loss (cross-entropy)", "accuracy (%)" });
        return Titled(grid, title ?? $"Training history: {history.DataName}", 900).WithSize(900, 400);
    }

    /// <summary>White to a mid blue: the counts (written in dark text) stay readable on every cell, as on Viridis's dark end they were not.</summary>
    private static readonly StyleParam.Colorscale LightBlues = StyleParam.Colorscale.NewCustom(
        [Tuple.Create(0.0, Color.fromHex("#f7fbff")), Tuple.Create(0.5, Color.fromHex("#c6dbef")), Tuple.Create(1.0, Color.fromHex("#6baed6"))]);

    /// <summary>Confusion matrix heatmap, true class down, predicted class across, counts written in the cells.</summary>
    public static GenericChart ConfusionMatrix(EvaluationResult result, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(result);
        var z = result.ConfusionMatrix.Reverse().Select(row => row.AsEnumerable()).ToArray(); // first class on top
        var text = result.ConfusionMatrix.Reverse().Select(row => row.Select(v => v.ToString(CultureInfo.InvariantCulture))).ToArray();
        var chart = CsChart.AnnotatedHeatmap<int, string, string, string>(
            zData: z, annotationText: text, X: result.ClassNames, Y: result.ClassNames.Reverse().ToArray(), ColorScale: LightBlues);
        return Titled(chart, title ?? $"Confusion matrix: {result.DataName} ({result.Count:N0} images, accuracy {result.Accuracy:P1})", 700)
            .WithXAxisStyle<string, string, string>(TitleText: "predicted")
            .WithYAxisStyle<string, string, string>(TitleText: "true")
            .WithSize(700, 650);
    }

    /// <summary>
    /// Images (uint8 or float N×3×H×W; pass mean/std to undo normalization) in a grid with a caption each, each image
    /// <c>cellSize</c> pixels on the page: large enough to see the difference being taught.
    /// </summary>
    public static GenericChart ImageGrid(Tensor images, IReadOnlyList<string> captions, int columns, string title, float[]? mean = null, float[]? std = null,
        int cellSize = 170)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(captions);
        if (images.dim() != 4 || images.shape[1] is not (1 or 3))
            throw new ArgumentException($"images of shape [{string.Join(", ", images.shape)}]: expected N×3×H×W");
        int n = (int)images.shape[0];
        if (captions.Count != n)
            throw new ArgumentException($"{captions.Count} captions for {n} images");
        columns = Math.Clamp(columns, 1, Math.Max(1, n));
        int rows = (n + columns - 1) / columns;
        var cells = new List<GenericChart>();
        for (int i = 0; i < n; i++)
        {
            using var scope = NewDisposeScope();
            string uri = ImageFiles.ToPngDataUri(ImageFiles.ToDisplayable(images[i], mean, std));
            cells.Add(WithoutAxes(CsChart.Image<string>(Source: uri, Name: captions[i])));
        }
        var grid = CsChart.Grid(cells, rows, columns, SubPlotTitles: captions.ToArray());
        // The top margin holds the title's lines and the first row's captions (two-line captions collided with a
        // two-line title: 05's mistakes gallery).
        int width = Math.Max(400, cellSize * columns);
        int captionLines = captions.Count == 0 ? 0 : captions.Max(c => c.Split("<br>").Length);
        var titled = ChartTitles.Titled(grid, title, width, out int top, 16 * captionLines);
        return titled.WithSize(width, top + 40 + cellSize * rows);
    }

    /// <summary>
    /// The first <paramref name="perClass"/> images of each class, one row per class with the class name in each caption:
    /// the data as a learner should look at it before training on it.
    /// </summary>
    public static GenericChart ClassExamples(Tensor images, IReadOnlyList<int> labels, IReadOnlyList<string> classNames, int perClass, string title)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(classNames);
        var picked = new List<long>();
        for (int c = 0; c < classNames.Count; c++)
            picked.AddRange(Enumerable.Range(0, labels.Count).Where(i => labels[i] == c).Take(perClass).Select(i => (long)i));
        if (picked.Count == 0)
            throw new ArgumentException("no images to show");
        using var index = tensor(picked.ToArray());
        using var chosen = images.index_select(0, index);
        return ImageGrid(chosen, [.. picked.Select(i => classNames[labels[(int)i]])], perClass, title, cellSize: 110);
    }

    /// <summary>Several series over the same steps (e.g. two runs' losses); <paramref name="logY"/> for values spanning decades.</summary>
    public static GenericChart Lines(string title, string xTitle, string yTitle, IReadOnlyList<(string Name, IReadOnlyList<double> Values)> series,
        bool logY = false)
    {
        ArgumentNullException.ThrowIfNull(series);
        var lines = series.Select(s => (GenericChart)CsChart.Line<int, double, string>(
            Enumerable.Range(1, s.Values.Count), s.Values, Name: s.Name)).ToArray();
        var chart = Counted(Titled(CsChart.Combine(lines), title, 800), xTitle, series.Select(s => s.Values.Count).DefaultIfEmpty(0).Max())
            .WithYAxisStyle<string, string, string>(TitleText: yTitle, AxisType: logY ? StyleParam.AxisType.Log : StyleParam.AxisType.Linear);
        if (logY && LogAxis.For(series.SelectMany(s => s.Values), yTitle) is { } axis)
            chart = Plotly.NET.Chart.withYAxis(axis, null).Invoke(chart);
        // The legend goes below the plot: at the right it took a third of the width from the curves.
        var legend = new Plotly.NET.LayoutObjects.Legend(); // a DynamicObj: set just these
        legend.SetProperty("orientation", "h");
        legend.SetProperty("x", 0);
        legend.SetProperty("y", -0.2);
        legend.SetProperty("yanchor", "top");
        var layout = new Layout();
        layout.SetProperty("legend", legend);
        return Plotly.NET.Chart.withLayout(layout).Invoke(chart).WithSize(800, 460);
    }

    /// <summary>A bar chart of one value per category.</summary>
    public static GenericChart Bars(IReadOnlyList<string> categories, IReadOnlyList<double> values, string title, string valueTitle)
    {
        ArgumentNullException.ThrowIfNull(categories);
        ArgumentNullException.ThrowIfNull(values);
        var chart = CsChart.Column<double, string, string>(values, Keys: categories.ToArray(), Name: valueTitle,
            MultiText: values.Select(v => v.ToString("G4", CultureInfo.InvariantCulture)).ToArray());
        return Titled(chart, title, DefaultWidth).WithYAxisStyle<string, string, string>(TitleText: valueTitle);
    }

    /// <summary>Bubbles: one labelled point per item, size proportional to <paramref name="sizes"/> (e.g. accuracy vs. operations, size = parameters).</summary>
    public static GenericChart Bubbles(IReadOnlyList<string> labels, IReadOnlyList<double> x, IReadOnlyList<double> y, IReadOnlyList<double> sizes,
        string title, string xTitle, string yTitle)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(sizes);
        double max = sizes.Count == 0 ? 1 : sizes.Max();
        var pixels = sizes.Select(s => (int)Math.Round(12 + 48 * Math.Sqrt(s / max))).ToArray(); // area ∝ size
        var chart = CsChart.Bubble<double, double, string>(x, y, pixels, MultiText: labels.ToArray(),
            TextPosition: StyleParam.TextPosition.TopCenter, Name: title);
        return Titled(chart, title, DefaultWidth)
            .WithXAxisStyle<string, string, string>(TitleText: xTitle)
            .WithYAxisStyle<string, string, string>(TitleText: yTitle);
    }

    /// <summary>Horizontal bars of class probabilities, most likely first.</summary>
    public static GenericChart Probabilities(IReadOnlyList<float> probabilities, IReadOnlyList<string> classNames, string title, int top = 10)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        ArgumentNullException.ThrowIfNull(classNames);
        var best = probabilities.Select((p, i) => (p: (double)p, name: classNames[i])).OrderByDescending(t => t.p).Take(top).Reverse().ToArray();
        var chart = CsChart.Bar<double, string, string>(best.Select(b => b.p), Keys: best.Select(b => b.name).ToArray(),
            MultiText: best.Select(b => b.p.ToString("P1", CultureInfo.InvariantCulture)).ToArray());
        // The bars are labelled in % (as the prose gives them): the axis too, over the whole 0–100 % (it read 0–1).
        var axis = ChartTitles.AxisTitled("probability");
        axis.SetProperty("tickformat", ".0%");
        axis.SetProperty("range", new[] { 0.0, 1.0 });
        return Plotly.NET.Chart.withXAxis(axis, null).Invoke(Titled(chart, title, DefaultWidth));
    }

    /// <summary>The width Plotly.NET gives a chart that sets none.</summary>
    private const int DefaultWidth = 600;

    /// <summary>A chart's title, wrapped to the chart's <paramref name="width"/> so that it is not cut off at the right edge.</summary>
    private static GenericChart Titled(GenericChart chart, string title, int width) => ChartTitles.Titled(chart, title, width, out _);

    /// <summary>
    /// An x axis of whole counts 1..<paramref name="count"/> (epochs, steps), ticked at whole numbers only: Plotly's own ticks
    /// read "1, 1.5, 2" for two epochs. At most about ten ticks: every 1, 2, 5, 10, 20, … .
    /// </summary>
    private static GenericChart Counted(GenericChart chart, string title, int count)
    {
        int step = 1, k = 0;
        while (count / step > 10)
            step = k++ % 3 == 1 ? step / 2 * 5 : step * 2;
        var axis = ChartTitles.AxisTitled(title);
        axis.SetProperty("tickmode", "linear");
        axis.SetProperty("tick0", step == 1 ? 1 : 0);
        axis.SetProperty("dtick", step);
        return Plotly.NET.Chart.withXAxis(axis, null).Invoke(chart);
    }

    /// <summary>An image without tick labels and grid lines: pixel coordinates say nothing to a reader.</summary>
    private static GenericChart WithoutAxes(GenericChart image)
    {
        var hidden = new Plotly.NET.LayoutObjects.LinearAxis(); // a DynamicObj: set just these three properties
        hidden.SetProperty("showticklabels", false);
        hidden.SetProperty("showgrid", false);
        hidden.SetProperty("zeroline", false);
        var withX = Plotly.NET.Chart.withXAxis(hidden, null).Invoke(image);
        return Plotly.NET.Chart.withYAxis(hidden, null).Invoke(withX);
    }
}
