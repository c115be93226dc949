using Plotly.NET;

namespace NotebookVgg.Charts;

/// <summary>
/// Charts as self-contained HTML pages: plotly.js (the copy Plotly.NET carries) is embedded, so the page
/// draws without network access. Plotly.NET's default references a CDN, which offline machines cannot reach.
/// </summary>
internal static class OfflineHtml
{
    /// <summary>A complete HTML document drawing <paramref name="chart"/> with plotly.js embedded.</summary>
    public static string Of(GenericChart chart)
    {
        ArgumentNullException.ThrowIfNull(chart);
        var options = DisplayOptions.init(null, null, null, null, null, null, PlotlyJSReference.Full); // F# optional arguments: null = none
        return GenericChart.toEmbeddedHTML(GenericChart.addDisplayOptions(options, chart));
    }

    /// <summary>The chart's figure (data and layout) as JSON: what tests and tools read back.</summary>
    public static string FigureJson(GenericChart chart) => GenericChart.toFigureJson(chart);

    /// <summary>Writes <see cref="Of"/> to <paramref name="path"/> atomically.</summary>
    public static void Save(GenericChart chart, string path) => IO.AtomicFile.WriteAllText(path, Of(chart));
}
