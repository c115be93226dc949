using Plotly.NET;

namespace NotebookVgg.Charts;

/// <summary>
/// Titles that fit their chart: broken at spaces into lines the chart's width holds (a long run label such as
/// "(CIFAR-10 sample, weights from FILE (not torchvision's ImageNet file), cpu tiny)" was cut off at the right edge),
/// pinned to the top of the figure, with a top margin that grows with the lines so they never reach the plot.
/// </summary>
internal static class ChartTitles
{
    /// <summary>The height of one line of Plotly's 17-pixel title font.</summary>
    internal const int LineHeight = 24;

    /// <summary>Pixels above a title's first line: enough for Plotly's tool bar, which sits in the top right corner over a long first line.</summary>
    internal const int TitleTop = 40;

    /// <summary>Characters of the title font a chart <paramref name="widthPixels"/> wide holds on one line (about 9 pixels each).</summary>
    internal static int CharsPerLine(int widthPixels) => Math.Max(30, (widthPixels - 60) / 9);

    /// <summary>
    /// The title's lines: each "&lt;br&gt;"-separated part broken at spaces into lines of at most <paramref name="width"/>
    /// characters; when a part is too long and ends in a parenthesis (the run label, by the notebooks' convention), that
    /// parenthesis starts a line of its own. A part holding markup (a &lt;span&gt;) stays whole.
    /// </summary>
    internal static List<string> Lines(string title, int width)
    {
        var lines = new List<string>();
        foreach (string part in title.Split("<br>"))
        {
            if (part.Length <= width || part.Contains('<', StringComparison.Ordinal))
            {
                lines.Add(part);
                continue;
            }
            int label = TrailingParenthesis(part);
            if (label > 0)
            {
                lines.AddRange(Words(part[..label].TrimEnd(), width));
                lines.AddRange(Words(part[label..], width));
            }
            else
            {
                lines.AddRange(Words(part, width));
            }
        }
        return lines;
    }

    /// <summary>Where the parenthesis that closes <paramref name="text"/> opens (nested ones counted), or -1.</summary>
    private static int TrailingParenthesis(string text)
    {
        if (!text.EndsWith(')'))
            return -1;
        int depth = 0;
        for (int i = text.Length - 1; i >= 0; i--)
        {
            depth += text[i] == ')' ? 1 : text[i] == '(' ? -1 : 0;
            if (depth == 0)
                return i > 0 && text[i - 1] == ' ' ? i : -1;
        }
        return -1;
    }

    /// <summary>Text broken at spaces into lines of at most <paramref name="width"/> characters (a longer word stays whole).</summary>
    internal static List<string> Words(string text, int width)
    {
        var lines = new List<string>();
        var line = new System.Text.StringBuilder();
        foreach (string word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > width)
            {
                lines.Add(line.ToString());
                line.Clear();
            }
            if (line.Length > 0)
                line.Append(' ');
            line.Append(word);
        }
        if (line.Length > 0)
            lines.Add(line.ToString());
        return lines;
    }

    /// <summary>An axis with just its title set (a DynamicObj: the caller sets the other properties it needs, Plotly's defaults stand for the rest).</summary>
    internal static Plotly.NET.LayoutObjects.LinearAxis AxisTitled(string text)
    {
        var axis = new Plotly.NET.LayoutObjects.LinearAxis();
        var title = new Title();
        title.SetProperty("text", text);
        axis.SetProperty("title", title);
        return axis;
    }

    /// <summary>
    /// <paramref name="chart"/> with <paramref name="text"/> as its title, anchored <see cref="TitleTop"/> pixels below the figure's top edge
    /// and growing downwards (Plotly centres a title in the margin by default, so a title of several lines ran into the
    /// panels), and a top margin of <paramref name="top"/> pixels.
    /// </summary>
    internal static GenericChart Pinned(GenericChart chart, string text, int top)
    {
        var title = new Title(); // DynamicObjs: set just these properties
        title.SetProperty("text", text);
        title.SetProperty("yref", "container");
        title.SetProperty("yanchor", "top");
        title.SetProperty("y", 1.0);
        title.SetProperty("pad", new Dictionary<string, int> { ["t"] = TitleTop });
        var margin = new Plotly.NET.LayoutObjects.Margin();
        margin.SetProperty("t", top);
        var layout = new Layout();
        layout.SetProperty("margin", margin);
        var titled = Plotly.NET.Chart.withTitle(title).Invoke(chart);
        return Plotly.NET.Chart.withLayout(layout).Invoke(titled);
    }

    /// <summary>
    /// <paramref name="chart"/> titled for a figure <paramref name="width"/> pixels wide: the title wrapped to it, pinned to
    /// the top, and a top margin of <paramref name="extraTop"/> pixels (e.g. for captions) more than the lines need.
    /// </summary>
    internal static GenericChart Titled(GenericChart chart, string title, int width, out int top, int extraTop = 0)
    {
        var lines = Lines(title, CharsPerLine(width));
        top = 36 + TitleTop + LineHeight * lines.Count + extraTop;
        return Pinned(chart, string.Join("<br>", lines), top);
    }
}
