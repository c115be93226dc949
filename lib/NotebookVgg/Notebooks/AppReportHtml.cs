using System.Collections;
using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.Data.Analysis;
using Plotly.NET;

namespace NotebookVgg.Notebooks;

/// <summary>How <see cref="NotebookApp"/>'s report shows a displayed value (its charts' plotly.js: <see cref="Charts.OfflinePlotly"/>).</summary>
internal static class AppReportHtml
{
    // Charts as Plotly.NET draws them (plotly.js embedded once in the page), tables as tables, the rest as text.
    public static (string Html, string? Text) Render(object? value)
    {
        switch (value)
        {
            case null:
                return ("<pre>null</pre>", "null");
            case GenericChart chart:
                return ($"<div class=\"chart\">{GenericChart.toChartHTML(chart)}</div>", "(chart: in the report)");
            case DataFrame frame:
                return (Table(frame), frame.ToString());
            case string text:
                return ($"<pre>{WebUtility.HtmlEncode(text)}</pre>", text);
            case IFormattable formattable:
                string formatted = formattable.ToString(null, CultureInfo.CurrentCulture);
                return ($"<pre>{WebUtility.HtmlEncode(formatted)}</pre>", formatted);
            case IEnumerable items:
                string joined = string.Join("\n", items.Cast<object?>().Select(i => i?.ToString()));
                return ($"<pre>{WebUtility.HtmlEncode(joined)}</pre>", joined);
            default:
                string plain = value.ToString() ?? "";
                return ($"<pre>{WebUtility.HtmlEncode(plain)}</pre>", plain);
        }
    }

    private static string Table(DataFrame frame)
    {
        var html = new StringBuilder("<table><tr>");
        foreach (var column in frame.Columns)
            html.Append("<th>").Append(WebUtility.HtmlEncode(column.Name)).Append("</th>");
        html.Append("</tr>\n");
        long rows = Math.Min(frame.Rows.Count, 500);
        for (long r = 0; r < rows; r++)
        {
            html.Append("<tr>");
            foreach (var column in frame.Columns)
                html.Append("<td>").Append(WebUtility.HtmlEncode(Convert.ToString(column[r], CultureInfo.CurrentCulture) ?? "")).Append("</td>");
            html.Append("</tr>\n");
        }
        if (frame.Rows.Count > rows)
            html.Append($"<tr><td colspan=\"{frame.Columns.Count}\">… {frame.Rows.Count - rows:N0} more rows</td></tr>\n");
        return html.Append("</table>").ToString();
    }
}
