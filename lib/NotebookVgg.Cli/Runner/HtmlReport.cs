using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Markdig;
using NotebookVgg.Charts;

namespace NotebookVgg.Cli.Runner;

/// <summary>
/// A self-contained HTML page of an executed notebook: markdown rendered, code, outputs (HTML as the kernel
/// formatted it, images inline as data URIs, DataFrames as the tables their formatter made) and Plotly charts
/// drawn offline with the plotly.js that Plotly.NET.dll carries. Nothing is fetched from the network.
/// </summary>
internal static partial class HtmlReport
{
    // Raw HTML in markdown is shown as text, not run: a shared report of an untrusted notebook must run no script
    // (JupyterLab sanitizes markdown for the same reason). Links and images keep only safe URL schemes (see SafeUrls).
    internal static readonly MarkdownPipeline Markdown = BuildMarkdown();

    private static MarkdownPipeline BuildMarkdown()
    {
        var builder = new MarkdownPipelineBuilder().UseAdvancedExtensions().DisableHtml();
        // Jupyter and VS Code render CommonMark lists: there "- A. Krizhevsky, …" is an author, not a lettered sub-list.
        builder.Extensions.TryRemove<Markdig.Extensions.ListExtras.ListExtraExtension>();
        return builder.Build();
    }

    private const string Style = """
        body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 1100px; padding: 1.5em; color: #1f2328; }
        header { border-bottom: 1px solid #d0d7de; margin-bottom: 1.5em; }
        .status-ok { color: #1a7f37; } .status-failed { color: #cf222e; }
        table.params { border-collapse: collapse; margin: .5em 0 1em; }
        table.params td, table.params th { border: 1px solid #d0d7de; padding: .2em .6em; text-align: left; }
        .cell { margin: 1em 0; }
        .prompt { font: 12px ui-monospace, monospace; color: #57606a; margin-bottom: .2em; }
        pre { background: #f6f8fa; padding: .6em .8em; overflow-x: auto; border-radius: 6px; font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; }
        .code pre.source { border-left: 3px solid #0969da; }
        .output { margin: .4em 0 .4em 1em; overflow-x: auto; }
        .output pre { background: #fff; border: 1px solid #eaeef2; white-space: pre-wrap; overflow-wrap: anywhere; } /* wraps like JupyterLab's outputs */
        .output pre.stderr { background: #fff8f0; }
        .output pre.error { background: #ffebe9; border-color: #ff8182; color: #82071e; }
        .output img { max-width: 100%; }
        .output table { border-collapse: collapse; } .output th, .output td { border: 1px solid #d0d7de; padding: .15em .5em; }
        .output td pre { border: 0; padding: 0; background: none; font: inherit; } /* a DataFrame's numbers: plain text, not boxes */
        .output table:has(> thead > tr > th:first-child > i) tr > :first-child { display: none; } /* a DataFrame's row numbers */
        .not-run { opacity: .55; }
        .error-banner { color: #cf222e; font-size: 1.3em; font-weight: 600; margin: 1em 0; }
        """;

    public static string Render(NotebookDocument document, NotebookRunResult result)
    {
        var cells = document.Cells;
        bool needsPlotly = cells.SelectMany(Outputs).Any(o => RichHtml(o) is { } html && html.Contains("plotly", StringComparison.OrdinalIgnoreCase));
        string title = Path.GetFileNameWithoutExtension(document.Path);

        var page = new StringBuilder();
        page.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        page.Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        page.Append("<title>").Append(Encode(title)).Append(" — nvgg run report</title>\n");
        page.Append("<style>\n").Append(Style).Append("</style>\n");
        if (needsPlotly)
        {
            page.Append("<script>\n").Append(OfflinePlotly.Script).Append("</script>\n");
        }
        page.Append("</head>\n<body>\n");
        AppendHeader(page, title, result);
        var results = result.Cells.ToList();
        int codeIndex = 0;
        foreach (var cell in cells)
        {
            if (cell.HasTag(NotebookRunner.ErrorCellTag))
            {
                // papermill's banner and anchor hold raw HTML, which markdown here shows as text: drawn from the result instead.
                bool anchor = cell.Source.Contains("id=\"papermill-error-cell\"", StringComparison.Ordinal);
                page.Append(anchor
                    ? "<div class=\"error-banner\" id=\"papermill-error-cell\">Execution using nvgg run encountered an exception here and stopped:</div>\n"
                    : $"<div class=\"error-banner\">An exception was encountered at <a href=\"#papermill-error-cell\">{Encode(result.FailedCell?.Label ?? "")}" +
                      $" (In [{result.FailedCell?.ExecutionCount}])</a>: {Encode(result.FailedCell?.Failure?.Summary ?? "")}</div>\n");
            }
            else if (cell.CellType == "markdown")
            {
                page.Append("<section class=\"cell markdown\">\n").Append(RenderMarkdown(cell)).Append("</section>\n");
            }
            else if (cell.IsCode)
            {
                var cellResult = codeIndex < results.Count ? results[codeIndex] : null;
                codeIndex++;
                AppendCodeCell(page, cell, cellResult);
            }
            else
            {
                page.Append("<section class=\"cell raw\"><pre>").Append(Encode(cell.Source)).Append("</pre></section>\n");
            }
        }
        page.Append("</body>\n</html>\n");
        return page.ToString();
    }

    private static void AppendHeader(StringBuilder page, string title, NotebookRunResult result)
    {
        var inv = CultureInfo.InvariantCulture;
        page.Append("<header>\n<h1>").Append(Encode(title)).Append("</h1>\n<p>");
        if (result.FailedCell is { } failed)
            page.Append("<strong class=\"status-failed\">Failed</strong> at ").Append(Encode(failed.Label)).Append(": ").Append(Encode(failed.Failure?.Summary ?? ""));
        else
            page.Append("<strong class=\"status-ok\">Completed</strong>");
        page.Append(" · ").Append(result.Cells.Count(c => c.Status != CellStatus.NotRun)).Append(" code cells run in ")
            .Append(result.Elapsed.TotalSeconds.ToString("F1", inv)).Append(" s · ")
            .Append(Encode(DateTimeOffset.Now.ToString("yyyy-MM-dd HH:mm zzz", inv))).Append("</p>\n");
        if (result.Parameters.Count > 0)
        {
            page.Append("<table class=\"params\"><tr><th>parameter</th><th>value</th></tr>\n");
            foreach (var p in result.Parameters)
                page.Append("<tr><td><code>").Append(Encode(p.Name)).Append("</code></td><td><code>").Append(Encode(p.Literal)).Append("</code></td></tr>\n");
            page.Append("</table>\n");
        }
        page.Append("</header>\n");
    }

    private static void AppendCodeCell(StringBuilder page, NotebookCell cell, CellResult? result)
    {
        var inv = CultureInfo.InvariantCulture;
        bool notRun = result is null || result.Status == CellStatus.NotRun;
        page.Append("<section class=\"cell code").Append(notRun ? " not-run" : "").Append("\">\n<div class=\"prompt\">");
        page.Append(result?.ExecutionCount is { } n ? $"In [{n}]" : "In [ ]");
        if (cell.HasTag(NotebookParameters.InjectedTag))
            page.Append(" · injected parameters");
        else if (cell.HasTag(NotebookParameters.ParametersTag))
            page.Append(" · parameters (defaults)");
        if (result is { Status: not CellStatus.NotRun })
            page.Append(" · ").Append(result.Elapsed.TotalSeconds.ToString("F2", inv)).Append(" s");
        else
            page.Append(" · not run");
        page.Append("</div>\n<pre class=\"source\"><code class=\"language-csharp\">").Append(Encode(cell.Source)).Append("</code></pre>\n");
        foreach (var output in Outputs(cell))
            page.Append("<div class=\"output\">").Append(RenderOutput(output)).Append("</div>\n");
        page.Append("</section>\n");
    }

    private static IEnumerable<JsonObject> Outputs(NotebookCell cell) =>
        cell.Json["outputs"] is JsonArray outputs ? outputs.OfType<JsonObject>() : [];

    private static string RenderOutput(JsonObject output)
    {
        switch (output["output_type"]?.GetValue<string>())
        {
            case "stream":
                string name = output["name"]?.GetValue<string>() == "stderr" ? "stderr" : "stdout";
                return $"<pre class=\"{name}\">{Encode(NotebookDocument.JoinText(output["text"]))}</pre>";
            case "error":
                var traceback = output["traceback"] is JsonArray lines ? string.Join("\n", lines.Select(l => l?.GetValue<string>())) : "";
                string heading = $"{output["ename"]?.GetValue<string>()}: {output["evalue"]?.GetValue<string>()}";
                string body = traceback.Contains(output["evalue"]?.GetValue<string>() ?? "\u0000", StringComparison.Ordinal) ? traceback : heading + "\n" + traceback;
                return $"<pre class=\"error\">{Encode(body.TrimEnd())}</pre>";
            case "display_data" or "execute_result":
                return RenderMimeBundle(output["data"] as JsonObject ?? []);
            default:
                return "";
        }
    }

    private static string RenderMimeBundle(JsonObject data)
    {
        string? Text(string mime) => data[mime] is { } node ? NotebookDocument.JoinText(node) : null;
        if (Text("text/html") is { } html)
            return html;
        if (Text("image/svg+xml") is { } svg)
            return svg;
        foreach (string mime in new[] { "image/png", "image/jpeg", "image/gif" })
        {
            if (Text(mime) is { } base64)
                return $"<img src=\"data:{mime};base64,{base64.Replace("\n", "", StringComparison.Ordinal)}\" alt=\"output image\">";
        }
        if (Text("text/markdown") is { } markdown)
            return SafeUrls(Markdig.Markdown.ToHtml(markdown, Markdown));
        if (data["application/json"] is { } json)
            return $"<pre>{Encode(json.ToJsonString())}</pre>";
        if (Text("text/plain") is { } plain)
            return $"<pre>{Encode(plain)}</pre>";
        return data.Count > 0 ? $"<pre>({Encode(string.Join(", ", data.Select(kv => kv.Key)))})</pre>" : "";
    }

    private static string? RichHtml(JsonObject output) =>
        output["data"]?["text/html"] is { } html ? NotebookDocument.JoinText(html) : null;

    /// <summary>Neutralizes script-bearing URLs (javascript:, vbscript:, data:text/html) in rendered markdown's links and images.</summary>
    internal static string SafeUrls(string html) => UnsafeUrl().Replace(html, "$1=\"#unsafe-url-removed\"");

    [System.Text.RegularExpressions.GeneratedRegex(@"\b(href|src)\s*=\s*""\s*(?:javascript|vbscript|data\s*:\s*text/html)[^""]*""",
        System.Text.RegularExpressions.RegexOptions.IgnoreCase)]
    private static partial System.Text.RegularExpressions.Regex UnsafeUrl();

    // Markdown cells, with images attached to the cell (attachment:NAME) inlined as data URIs.
    private static string RenderMarkdown(NotebookCell cell)
    {
        string html = SafeUrls(Markdig.Markdown.ToHtml(cell.Source, Markdown));
        if (cell.Json["attachments"] is JsonObject attachments)
        {
            foreach (var (name, bundle) in attachments)
            {
                if (bundle is not JsonObject mimes)
                    continue;
                foreach (var (mime, value) in mimes)
                {
                    if (!mime.StartsWith("image/", StringComparison.Ordinal) || value is null)
                        continue;
                    string uri = $"data:{mime};base64,{NotebookDocument.JoinText(value).Replace("\n", "", StringComparison.Ordinal)}";
                    html = html.Replace($"attachment:{name}", uri, StringComparison.Ordinal)
                               .Replace($"attachment:{Uri.EscapeDataString(name)}", uri, StringComparison.Ordinal);
                    break;
                }
            }
        }
        return html;
    }

    private static string Encode(string text) => WebUtility.HtmlEncode(text);
}
