using System.Globalization;

namespace NotebookVgg.Charts;

/// <summary>
/// A log y-axis whose ticks are named in full. Plotly labels a log axis spanning under two decades with bare leading
/// digits ("4, 3, 2, 0.01, 9, 8"): every tick is named instead, at 1, 2 and 5 times a power of ten. Over more decades
/// those labels pile onto each other (notebook 2's loss ran from 1E+02 to 1E-08): ticks only at powers of ten, as 10ⁿ.
/// </summary>
internal static class LogAxis
{
    /// <summary>The axis for <paramref name="values"/> (their positive, finite ones); null when there are none.</summary>
    public static Plotly.NET.LayoutObjects.LinearAxis? For(IEnumerable<double> values, string title)
    {
        var positive = values.Where(v => v > 0 && double.IsFinite(v)).ToList();
        if (positive.Count == 0)
            return null;
        bool decades = Math.Log10(positive.Max() / positive.Min()) >= 2;
        double[] ticks = decades ? DecadeTicks(positive.Min(), positive.Max()) : LogTicks(positive.Min(), positive.Max());
        var axis = ChartTitles.AxisTitled(title);
        axis.SetProperty("type", "log");
        axis.SetProperty("tickvals", ticks);
        axis.SetProperty("ticktext", ticks.Select(t => decades ? PowerOfTen(t) : t.ToString("G3", CultureInfo.InvariantCulture)).ToArray());
        return axis;
    }

    /// <summary>Each power of ten from just below <paramref name="min"/> to just above <paramref name="max"/>, every k-th one where there are over 8.</summary>
    internal static double[] DecadeTicks(double min, double max)
    {
        int low = (int)Math.Floor(Math.Log10(min)), high = (int)Math.Ceiling(Math.Log10(max));
        int every = (high - low + 7) / 8;
        return [.. Enumerable.Range(0, (high - low) / every + 1).Select(i => Math.Pow(10, low + i * every))];
    }

    /// <summary>10 to a power as "1", "10", or 10 with a superscript exponent ("10⁻⁸" as HTML).</summary>
    internal static string PowerOfTen(double tick)
    {
        int e = (int)Math.Round(Math.Log10(tick));
        return e switch
        {
            0 => "1",
            1 => "10",
            _ => string.Create(CultureInfo.InvariantCulture, $"10<sup>{(e < 0 ? "\u2212" : "")}{Math.Abs(e)}</sup>"),
        };
    }

    /// <summary>
    /// 1, 2 and 5 times each power of ten from just below <paramref name="min"/> to just above <paramref name="max"/>; finer
    /// steps (1, 1.5, 2, 3, 5, 7, then 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8) where fewer than three of those fall between the
    /// two (a loss from 1.3 to 2.5 had the single tick "2").
    /// </summary>
    internal static double[] LogTicks(double min, double max)
    {
        double[][] steps = [[1, 2, 5], [1, 1.5, 2, 3, 5, 7], [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8]];
        var ticks = new List<double>();
        foreach (double[] mantissas in steps)
        {
            ticks.Clear();
            for (int e = (int)Math.Floor(Math.Log10(min)); e <= (int)Math.Ceiling(Math.Log10(max)); e++)
            {
                foreach (double m in mantissas)
                {
                    double t = m * Math.Pow(10, e);
                    if (t >= min / 2.5 && t <= max * 2.5)
                        ticks.Add(t);
                }
            }
            if (ticks.Count(t => t >= min && t <= max) >= 3)
                break;
        }
        return [.. ticks];
    }
}
