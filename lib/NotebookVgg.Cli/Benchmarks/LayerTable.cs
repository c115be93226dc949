using System.Globalization;
using System.Text;

namespace NotebookVgg.Cli.Benchmarks;

/// <summary>
/// The <c>layers</c> case as a table: one row per convolution and linear layer, the ReLUs, max-pools and the rest each
/// summed, then whole steps split into zero_grad, forward, backward and optimizer step; per column set (nvgg's default
/// layout, its other layout, PyTorch) the forward, input-gradient and weight-gradient milliseconds.
/// </summary>
internal static class LayerTable
{
    /// <summary>One column set: a title and its timings.</summary>
    public sealed record Column(string Title, IReadOnlyList<LayerTiming> Layers, StepTiming? Step);

    /// <summary>One row: its label and, per column, forward / data gradient / weight gradient seconds (null where not measured).</summary>
    public sealed record Row(string Label, IReadOnlyList<(double? Forward, double? Data, double? Weight)> Cells, bool IsStep = false);

    /// <summary>The columns a report has: nvgg's default layout first, then its other layout, then PyTorch.</summary>
    public static List<Column> Columns(IReadOnlyList<LayerTiming> layers, IReadOnlyList<StepTiming> steps, string? defaultConfiguration,
        IReadOnlyList<LayerTiming>? pytorchLayers, IReadOnlyList<StepTiming>? pytorchSteps, string pytorchName)
    {
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(steps);
        var columns = layers.Select(l => l.Configuration).Distinct()
            .OrderByDescending(c => c == defaultConfiguration)
            .Select(c => new Column($"nvgg {c}{(c == defaultConfiguration ? " (default)" : "")}", [.. layers.Where(l => l.Configuration == c)],
                steps.FirstOrDefault(s => s.Configuration == c)))
            .ToList();
        if (pytorchLayers is { Count: > 0 })
            columns.Add(new Column($"{pytorchName} {pytorchLayers[0].Configuration}", pytorchLayers, pytorchSteps?.FirstOrDefault()));
        return columns;
    }

    public static List<Row> Rows(IReadOnlyList<Column> columns)
    {
        ArgumentNullException.ThrowIfNull(columns);
        var rows = new List<Row>();
        if (columns.Count == 0)
            return rows;
        var order = columns[0].Layers;
        foreach (var layer in order.Where(l => l.Kind is "Conv2d" or "Linear"))
            rows.Add(new Row($"{layer.Layer} {layer.Kind} → {layer.Output}", [.. columns.Select(c => Cell(c.Layers.Where(l => l.Layer == layer.Layer)))]));
        rows.Add(Group("ReLU in features", l => l.Kind == "ReLU" && l.Layer.StartsWith("features.", StringComparison.Ordinal)));
        rows.Add(Group("MaxPool2d", l => l.Kind == "MaxPool2d"));
        rows.Add(Group("avgpool, flatten, classifier ReLU and Dropout", l => l.Kind is not ("Conv2d" or "Linear" or "MaxPool2d")
            && !(l.Kind == "ReLU" && l.Layer.StartsWith("features.", StringComparison.Ordinal))));
        rows.Add(Group("sum of the layers", _ => true));
        if (columns.Any(c => c.Step is not null))
        {
            rows.Add(StepRow("step: zero_grad", s => s.ZeroGradSeconds));
            rows.Add(StepRow("step: forward and loss", s => s.ForwardSeconds));
            rows.Add(StepRow("step: backward", s => s.BackwardSeconds));
            rows.Add(StepRow("step: optimizer (SGD momentum)", s => s.OptimizerSeconds));
            rows.Add(StepRow("step: whole", s => s.TotalSeconds));
        }
        return rows;

        Row Group(string label, Func<LayerTiming, bool> which) => new(label, [.. columns.Select(c => Cell(c.Layers.Where(which)))]);
        Row StepRow(string label, Func<StepTiming, double> part) =>
            new(label, [.. columns.Select(c => c.Step is { } s ? ((double?)part(s), (double?)null, (double?)null) : (null, null, null))], IsStep: true);
    }

    private static (double?, double?, double?) Cell(IEnumerable<LayerTiming> layers)
    {
        var list = layers.ToList();
        if (list.Count == 0)
            return (null, null, null);
        double? Sum(Func<LayerTiming, double?> f) => list.Any(l => f(l) is not null) ? list.Sum(l => f(l) ?? 0) : null;
        return (list.Sum(l => l.ForwardSeconds), Sum(l => l.DataGradientSeconds), Sum(l => l.WeightGradientSeconds));
    }

    /// <summary>Milliseconds: whole numbers from 10 up, one decimal below.</summary>
    public static string Ms(double? seconds) => seconds is not { } s ? "" : (s * 1000).ToString(s >= 0.01 ? "N0" : "0.0", CultureInfo.InvariantCulture);

    /// <summary>The table in Markdown: per column set, forward / ∂input / ∂weight in ms; step rows give one figure per set.</summary>
    public static string Markdown(IReadOnlyList<Column> columns)
    {
        ArgumentNullException.ThrowIfNull(columns);
        var md = new StringBuilder();
        md.Append("| layer (ms) |");
        foreach (var c in columns)
            md.Append($" {c.Title}: forward | ∂input | ∂weight |");
        md.AppendLine();
        md.Append("|---|");
        foreach (var _ in columns)
            md.Append("---|---|---|");
        md.AppendLine();
        foreach (var row in Rows(columns))
        {
            md.Append($"| {row.Label} |");
            foreach (var (f, d, w) in row.Cells)
                md.Append($" {Ms(f)} | {Ms(d)} | {Ms(w)} |");
            md.AppendLine();
        }
        return md.ToString();
    }
}
