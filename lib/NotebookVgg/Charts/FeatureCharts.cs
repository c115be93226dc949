using System.Globalization;
using NotebookVgg.Imaging;
using NotebookVgg.Inspection;
using Plotly.NET;
using Plotly.NET.CSharp;
using static TorchSharp.torch;
using CsChart = Plotly.NET.CSharp.Chart;

namespace NotebookVgg.Charts;

/// <summary>
/// Charts of what the network computes before any training (<see cref="FeatureMaps"/>, <see cref="FeatureSpace"/>): the
/// first layer's filters, feature maps, and a 2-D picture of a feature space. As with <see cref="NotebookCharts"/>, every
/// title is the caller's and says which weights and data the picture came from.
/// </summary>
public static class FeatureCharts
{
    /// <summary>Ten distinct colours (Plotly's and D3's category10), one per class, the same in every panel.</summary>
    public static IReadOnlyList<string> ClassColours { get; } =
        ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

    /// <summary>
    /// The first layer's filters (<see cref="FeatureMaps.FirstLayerFilters"/>: C×3×h×w in [0, 1]) as one mosaic image,
    /// <paramref name="columns"/> filters a row, each pixel of each filter drawn as a <paramref name="scale"/>×<paramref name="scale"/>
    /// block (no smoothing: a 3×3 filter stays nine squares), with a white gap between filters (a grey one blended into
    /// the filters' own mid-grey pixels: one filter could not be told from the next).
    /// </summary>
    public static GenericChart FilterMosaic(Tensor filters, string title, int columns = 8, int scale = 16, string? note = null)
    {
        ArgumentNullException.ThrowIfNull(filters);
        ArgumentOutOfRangeException.ThrowIfLessThan(columns, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(scale, 1);
        if (filters.dim() != 4 || filters.shape[1] is not (1 or 3) || filters.shape[0] == 0)
            throw new ArgumentException($"filters of shape [{string.Join(", ", filters.shape)}]: expected C×3×h×w");
        using var scope = NewDisposeScope();
        const int gap = 10;
        long n = filters.shape[0], c = filters.shape[1], h = filters.shape[2] * scale, w = filters.shape[3] * scale;
        int rows = (int)((n + columns - 1) / columns);
        var mosaic = full([c, rows * (h + gap) + gap, columns * (w + gap) + gap], 1f);
        var big = filters.to(CPU).to_type(ScalarType.Float32).repeat_interleave(scale, 2).repeat_interleave(scale, 3);
        for (int i = 0; i < n; i++)
        {
            long top = gap + i / columns * (h + gap), left = gap + i % columns * (w + gap);
            mosaic.narrow(1, top, h).narrow(2, left, w).copy_(big[i]);
        }
        string uri = ImageFiles.ToPngDataUri(ImageFiles.ToDisplayable(mosaic));
        var chart = WithoutAxes(CsChart.Image<string>(Source: uri, Name: "filters"));
        int width = (int)mosaic.shape[2], height = (int)mosaic.shape[1];
        return Titled(chart, title, note, Math.Max(560, width + 80), height + 80);
    }

    /// <summary>
    /// Feature maps as grey images, one row per (<c>Label</c>, <c>Output</c>) pair, e.g. the same layer for a 32×32 and a
    /// 224×224 input: first the mean over all channels, then the first <paramref name="channels"/> channels. Each map is
    /// min-max scaled on its own (white: its largest value; a constant map, e.g. all zero, is black) and enlarged pixel for pixel to the
    /// largest map's side, so that a 2×2 map shows as four squares beside a 14×14 one.
    /// </summary>
    public static GenericChart FeatureMapRows(IReadOnlyList<(string Label, Tensor Output)> rows, int channels, string title, int cellSize = 150,
        string? note = null)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 0);
        if (rows.Count == 0)
            throw new ArgumentException("no rows to show", nameof(rows));
        using var scope = NewDisposeScope();
        var maps = rows.Select(r => r.Output.dim() == 4 ? r.Output[0] : r.Output).ToList();
        if (maps.Any(m => m.dim() != 3))
            throw new ArgumentException("each output must be 1×C×H×W or C×H×W", nameof(rows));
        long side = maps.Max(m => Math.Max(m.shape[1], m.shape[2]));
        int shown = (int)Math.Min(channels, maps.Min(m => m.shape[0]));
        var images = new List<Tensor>();
        var captions = new List<string>();
        for (int r = 0; r < rows.Count; r++)
        {
            var m = maps[r].to(CPU).to_type(ScalarType.Float32);
            images.Add(Displayable(m.mean([0]), side));
            captions.Add($"{rows[r].Label}: mean of {m.shape[0]}");
            for (int ch = 0; ch < shown; ch++)
            {
                images.Add(Displayable(m[ch], side));
                captions.Add(string.Create(CultureInfo.InvariantCulture, $"channel {ch}"));
            }
        }
        var grid = NotebookCharts.ImageGrid(stack(images), captions, shown + 1, title, cellSize: cellSize);
        return Titled(grid, title, note, Math.Max(560, cellSize * (shown + 1)), 60 + cellSize * rows.Count);
    }

    /// <summary>
    /// Scatter plots side by side, one per panel (e.g. fc7 features and raw pixels, each from <see cref="FeatureSpace.Pca2D"/>),
    /// every point coloured by its class with the class names in one legend (clicking a class hides it in every panel).
    /// <paramref name="labels"/> holds each point's class index, the same for every panel.
    /// </summary>
    public static GenericChart ClassScatter(IReadOnlyList<(string Title, Tensor Points)> panels, Tensor labels, IReadOnlyList<string> classNames,
        string title, string? note = null, string xTitle = "first principal component", string yTitle = "second principal component")
    {
        ArgumentNullException.ThrowIfNull(panels);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(classNames);
        if (panels.Count == 0)
            throw new ArgumentException("no panels", nameof(panels));
        long[] classOf = labels.to(CPU).to_type(ScalarType.Int64).data<long>().ToArray();
        var charts = new List<GenericChart>();
        for (int p = 0; p < panels.Count; p++)
        {
            var points = panels[p].Points;
            if (points.dim() != 2 || points.shape[1] != 2 || points.shape[0] != classOf.Length)
                throw new ArgumentException($"panel '{panels[p].Title}': points of shape [{string.Join(", ", points.shape)}] for {classOf.Length} labels (expected N×2)");
            float[] xy = points.to(CPU).to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
            var traces = new List<GenericChart>();
            for (int c = 0; c < classNames.Count; c++)
            {
                var members = Enumerable.Range(0, classOf.Length).Where(i => classOf[i] == c).ToArray();
                if (members.Length == 0)
                    continue;
                var trace = CsChart.Point<double, double, string>(
                    members.Select(i => (double)xy[2 * i]), members.Select(i => (double)xy[2 * i + 1]),
                    Name: classNames[c], ShowLegend: p == 0, Opacity: 0.7,
                    MarkerColor: Color.fromHex(ClassColours[c % ClassColours.Count]));
                traces.Add(trace.WithTraceInfo(LegendGroup: classNames[c]));
            }
            charts.Add(CsChart.Combine(traces)
                .WithXAxisStyle<string, string, string>(TitleText: xTitle)
                .WithYAxisStyle<string, string, string>(TitleText: yTitle));
        }
        var grid = CsChart.Grid(charts, 1, charts.Count, SubPlotTitles: panels.Select(p => p.Title).ToArray());
        // The legend below the panels, in one or two rows: beside them it would take a panel's width.
        var legend = new Plotly.NET.LayoutObjects.Legend();
        legend.SetProperty("orientation", "h");
        legend.SetProperty("x", 0);
        legend.SetProperty("y", -0.2);
        var layout = new Layout();
        layout.SetProperty("legend", legend);
        var withLegend = Plotly.NET.Chart.withLayout(layout).Invoke(grid);
        return Titled(withLegend, title, note, Math.Max(600, 440 * charts.Count + 100), 560);
    }

    /// <summary>One map (H×W) min-max scaled to [0, 1] and enlarged by nearest neighbour to <paramref name="side"/>, as 1×side×side.</summary>
    private static Tensor Displayable(Tensor map, long side)
    {
        var low = map.min();
        var range = map.max() - low;
        var scaled = range.item<float>() > 0 ? (map - low) / range : zeros_like(map);
        return nn.functional.interpolate(scaled.view(1, 1, map.shape[0], map.shape[1]), [side, side], mode: InterpolationMode.Nearest)[0];
    }

    /// <summary>
    /// The title and, below it in smaller type, the note (what the picture can and cannot show for these weights and
    /// data), each wrapped to the chart's <paramref name="width"/> and pinned to the top; the top margin grows with the
    /// lines, and the chart's height with it, so that neither runs into the panels' own titles (a two-line note, centred
    /// in the margin as Plotly places titles, covered the PCA chart's panel title) and the panels keep
    /// <paramref name="plotHeight"/>.
    /// </summary>
    private static GenericChart Titled(GenericChart chart, string title, string? note, int width, int plotHeight)
    {
        var lines = ChartTitles.Lines(title, ChartTitles.CharsPerLine(width));
        string text = string.Join("<br>", lines);
        int top = 40 + ChartTitles.TitleTop + ChartTitles.LineHeight * lines.Count; // the panels' own titles sit in the lowest 24 pixels of the margin
        if (!string.IsNullOrWhiteSpace(note))
        {
            var noteLines = ChartTitles.Words(note, Math.Max(40, (width - 120) / 7));
            text += "<br><sup>" + string.Join("<br>", noteLines) + "</sup>";
            top += 18 * noteLines.Count;
        }
        return ChartTitles.Pinned(chart, text, top).WithSize(width, plotHeight + top + 60);
    }

    /// <summary>An image without tick labels and grid lines (as in <see cref="NotebookCharts"/>).</summary>
    private static GenericChart WithoutAxes(GenericChart image)
    {
        var hidden = new Plotly.NET.LayoutObjects.LinearAxis();
        hidden.SetProperty("showticklabels", false);
        hidden.SetProperty("showgrid", false);
        hidden.SetProperty("zeroline", false);
        var withX = Plotly.NET.Chart.withXAxis(hidden, null).Invoke(image);
        return Plotly.NET.Chart.withYAxis(hidden, null).Invoke(withX);
    }
}
