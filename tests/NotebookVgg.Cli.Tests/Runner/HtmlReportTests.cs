using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using NotebookVgg.Charts;
using NotebookVgg.Cli.Runner;
using NotebookVgg.Cli.Tests.TestSupport;
using NotebookVgg.Tests.TestSupport;
using StbImageSharp;
using static NotebookVgg.Cli.Tests.TestSupport.TestNotebooks;

namespace NotebookVgg.Cli.Tests.Runner;

/// <summary>Runs chart.ipynb (Plotly chart + DataFrame) once with --html; the tests below read its outputs.</summary>
public sealed class ChartReportFixture : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _temp = new("nvgg-report");

    internal NotebookRunResult Result { get; private set; } = null!;

    internal string Html { get; private set; } = "";

    public async Task InitializeAsync()
    {
        string notebook = CopyTo(_temp, "chart.ipynb");
        var runner = new NotebookRunner(new NotebookRunOptions { HtmlReport = true });
        Result = await runner.RunAsync(runner.Prepare(notebook));
        Html = File.ReadAllText(Result.ReportPath!);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose() => _temp.Dispose();
}

[Trait("Category", "Notebooks")]
public class HtmlReportTests(ChartReportFixture chart) : IClassFixture<ChartReportFixture>
{
    // Plotly's first trace colour (#636efa) and plot background (rgb(229, 236, 246)) in Plotly.NET's default template.
    private static readonly (int R, int G, int B) TraceColour = (99, 110, 250);
    private static readonly (int R, int G, int B) PlotBackground = (229, 236, 246);

    [Fact]
    public void ChartNotebook_RunsWithPackagesAndKernelExtensions()
    {
        Assert.True(chart.Result.Succeeded, chart.Result.FailedCell?.Failure?.Summary);
        var executed = ReadJson(chart.Result.OutputPath);
        // Plotly.NET.Interactive's formatter made the chart HTML; Microsoft.Data.Analysis's made the table.
        string chartHtml = Text(((JsonArray)CodeCell(executed, 2)["outputs"]!).OfType<JsonObject>().Single()["data"]!["text/html"]);
        Assert.Contains("Plotly.newPlot", chartHtml, StringComparison.Ordinal);
        Assert.Contains("\"name\":\"train loss\"", chartHtml, StringComparison.Ordinal);
        string tableHtml = Text(((JsonArray)CodeCell(executed, 3)["outputs"]!).OfType<JsonObject>().Single()["data"]!["text/html"]);
        Assert.Contains("<th>epoch</th><th>loss</th>", tableHtml, StringComparison.Ordinal);
    }

    [Fact]
    public void Report_IsSelfContained_WithTheChartDataAndTable()
    {
        string html = chart.Html;
        Assert.Contains("\"y\":[2.31,1.52,1.07,0.81,0.64]", html, StringComparison.Ordinal);
        Assert.Contains("\"name\":\"train loss\"", html, StringComparison.Ordinal);
        Assert.Contains("<th>epoch</th><th>loss</th>", html, StringComparison.Ordinal);
        Assert.Contains($"plotly.js v{OfflinePlotly.Version}", html, StringComparison.Ordinal); // the embedded library's banner
        Assert.Contains("<h1", html, StringComparison.Ordinal); // markdown rendered
        // No script, stylesheet or image is loaded from the network.
        Assert.DoesNotMatch(new Regex("<script[^>]*\\bsrc\\s*=\\s*[\"']?(https?:)?//", RegexOptions.IgnoreCase), html);
        Assert.DoesNotMatch(new Regex("<link[^>]*\\bhref\\s*=\\s*[\"']?(https?:)?//", RegexOptions.IgnoreCase), html);
        Assert.DoesNotMatch(new Regex("<img[^>]*\\bsrc\\s*=\\s*[\"']?(https?:)?//", RegexOptions.IgnoreCase), html);
    }

    [Fact]
    public void Report_RenderedInHeadlessChromium_DrawsTheChart()
    {
        using var temp = new TempDirectory("nvgg-chromium");
        string page = temp.Combine("chart.report.html");
        File.WriteAllText(page, chart.Html);

        var pixels = Screenshot(page, temp.Combine("chart.png"));

        Assert.True(pixels.CountNear(PlotBackground) > 20_000, $"no plot area drawn ({pixels.CountNear(PlotBackground)} background pixels)");
        Assert.True(pixels.CountNear(TraceColour) > 300, $"no line drawn ({pixels.CountNear(TraceColour)} pixels of the trace colour)");
    }

    [Fact]
    public void Report_WithoutTheEmbeddedPlotly_DrawsNoChart()
    {
        // The control for the test above: the same page with plotly.js taken out shows no plot.
        using var temp = new TempDirectory("nvgg-chromium");
        string page = temp.Combine("chart.report.html");
        File.WriteAllText(page, chart.Html.Replace(OfflinePlotly.EscapeForScriptElement(OfflinePlotly.Source), "", StringComparison.Ordinal));

        var pixels = Screenshot(page, temp.Combine("chart.png"));

        Assert.Equal(0, pixels.CountNear(TraceColour));
    }

    [Fact]
    public void Render_ShowsMarkdownStreamsErrorsAndImagesInline()
    {
        using var temp = new TempDirectory();
        const string png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
        string path = temp.Combine("synthetic.ipynb");
        File.WriteAllText(path, $$"""
            { "nbformat": 4, "nbformat_minor": 5, "metadata": {},
              "cells": [
                { "cell_type": "markdown", "id": "m", "metadata": {}, "source": ["# Title\n", "Some *emphasis* and ![dot](attachment:dot.png)"],
                  "attachments": { "dot.png": { "image/png": "{{png}}" } } },
                { "cell_type": "code", "id": "c", "metadata": {}, "execution_count": 1, "source": "Show(\"<b>\");",
                  "outputs": [
                    { "output_type": "stream", "name": "stdout", "text": ["<b>not bold</b>\n"] },
                    { "output_type": "display_data", "metadata": {}, "data": { "image/png": "{{png}}", "text/plain": ["an image"] } },
                    { "output_type": "error", "ename": "InvalidOperationException", "evalue": "bad & worse", "traceback": [] }
                  ] }
              ] }
            """);
        var document = NotebookDocument.Load(path);
        var failure = new CellFailure(CellFailureKind.Exception, "InvalidOperationException", "bad & worse", []);
        var result = new NotebookRunResult(path, path, null,
            [new CellResult(2, 1, CellStatus.Failed, TimeSpan.FromSeconds(0.25), failure, "Show(\"<b>\");")], [], TimeSpan.FromSeconds(1));

        string html = HtmlReport.Render(document, result);

        Assert.Contains("<h1 id=\"title\">Title</h1>", html, StringComparison.Ordinal);
        Assert.Contains("<em>emphasis</em>", html, StringComparison.Ordinal);
        Assert.Contains($"<img src=\"data:image/png;base64,{png}\" alt=\"dot\"", html, StringComparison.Ordinal);   // attachment inlined
        Assert.Contains($"<img src=\"data:image/png;base64,{png}\" alt=\"output image\">", html, StringComparison.Ordinal); // output inlined
        Assert.Contains("&lt;b&gt;not bold&lt;/b&gt;", html, StringComparison.Ordinal);
        Assert.Contains("InvalidOperationException: bad &amp; worse", html, StringComparison.Ordinal);
        Assert.Contains("Failed</strong> at cell 2", html, StringComparison.Ordinal);
        Assert.DoesNotContain("plotly", html, StringComparison.OrdinalIgnoreCase); // no chart: plotly.js is not embedded
    }

    [Fact]
    public void Render_MarkdownFromAnUntrustedNotebook_RunsNoScript()
    {
        using var temp = new TempDirectory();
        string path = temp.Combine("hostile.ipynb");
        File.WriteAllText(path, """
            { "nbformat": 4, "nbformat_minor": 5, "metadata": {},
              "cells": [
                { "cell_type": "markdown", "id": "m", "metadata": {}, "source": [
                  "<script>alert(1)</script>\n\n",
                  "<img src=x onerror=\"alert(2)\">\n\n",
                  "[click](javascript:alert(3)) and ![i](javascript:alert(4)) and [ok](https://example.org/)\n"] }
              ] }
            """);
        var document = NotebookDocument.Load(path);
        var result = new NotebookRunResult(path, path, null, [], [], TimeSpan.FromSeconds(1));

        string html = HtmlReport.Render(document, result);

        Assert.DoesNotContain("<script>alert", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<img src=x onerror", html, StringComparison.Ordinal);
        Assert.DoesNotContain("javascript:", html, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt;", html, StringComparison.Ordinal); // shown as text
        Assert.Contains("href=\"https://example.org/\"", html, StringComparison.Ordinal);    // safe links stay
    }

    private sealed class Pixels(ImageResult image)
    {
        public int CountNear((int R, int G, int B) colour, int tolerance = 12)
        {
            int count = 0;
            var data = image.Data;
            for (int i = 0; i + 3 < data.Length; i += 4)
            {
                if (Math.Abs(data[i] - colour.R) <= tolerance && Math.Abs(data[i + 1] - colour.G) <= tolerance && Math.Abs(data[i + 2] - colour.B) <= tolerance)
                    count++;
            }
            return count;
        }
    }

    private static Pixels Screenshot(string page, string png)
    {
        const string chromium = "/usr/bin/chromium";
        if (!File.Exists(chromium))
            throw new FileNotFoundException($"{chromium} is missing: this test renders the report in Debian's chromium; ./test.sh installs it (apt-get install chromium)");
        var (exitCode, stdout, stderr) = ExternalProcess.Run(chromium,
        [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-extensions", "--user-data-dir=" + Path.Combine(Path.GetDirectoryName(png)!, "profile"),
            // Nothing may come from the network: every host name fails to resolve.
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--screenshot=" + png, "--window-size=1000,1400", "--virtual-time-budget=5000", new Uri(page).AbsoluteUri,
        ], TimeSpan.FromSeconds(90));
        Assert.True(File.Exists(png), $"chromium wrote no screenshot (exit {exitCode}): {stderr}{stdout}");
        using var stream = File.OpenRead(png);
        var image = ImageResult.FromStream(stream, ColorComponents.RedGreenBlueAlpha);
        Assert.Equal(1000, image.Width);
        return new Pixels(image);
    }

    [Fact]
    public void Markdown_ReadsAnAuthorsInitialAsText_AsJupyterDoes_NotAsALetteredList()
    {
        string html = Markdig.Markdown.ToHtml("- A. Krizhevsky, I. Sutskever, *ImageNet Classification*, 2012.\n", HtmlReport.Markdown);

        Assert.Contains("<li>A. Krizhevsky, I. Sutskever", html, StringComparison.Ordinal);
        Assert.DoesNotContain("type=\"A\"", html, StringComparison.Ordinal);
        Assert.Contains("<em>ImageNet Classification</em>", html, StringComparison.Ordinal); // the rest still renders
    }
}
