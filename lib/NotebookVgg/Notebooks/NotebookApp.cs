using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text;

namespace NotebookVgg.Notebooks;

/// <summary>
/// What a notebook exported as a .NET 10 file-based app (<c>nvgg export NOTEBOOK --to cs</c>) runs on instead of a notebook
/// kernel: <c>display(...)</c>, whose tables and charts go to an HTML report beside the app (NAME.app.html, charts drawn
/// offline) while text goes to the console, the notebook's working folder, and <c>-p NAME VALUE</c> arguments as the
/// parameters' environment variables. Text the app prints is kept in the report too, under the cell that printed it.
/// </summary>
public sealed class NotebookApp : IDisposable
{
    private readonly string _reportPath;
    private readonly string _title;
    private readonly List<(int Cell, StringBuilder Html)> _cells = [];
    private readonly TextWriter _console;
    private readonly CapturingWriter _capture;
    private readonly DateTimeOffset _started = DateTimeOffset.Now;
    private string? _failure;
    private bool _disposed;

    private NotebookApp(string title, string folder)
    {
        _title = title;
        _reportPath = Path.Combine(folder, title + ".app.html");
        _console = Console.Out;
        _capture = new CapturingWriter(this, _console);
        Console.SetOut(_capture);
        AppDomain.CurrentDomain.UnhandledException += OnUnhandledException;
    }

    /// <summary>Where the report is written.</summary>
    public string ReportPath => _reportPath;

    /// <summary>
    /// Starts an exported notebook: the working folder becomes the app's own (relative paths resolve as in the notebook),
    /// <c>-p NAME VALUE</c> (or <c>-p NAME=VALUE</c>) arguments set <c>NOTEBOOKVGG_&lt;NAME&gt;</c>, which the parameters
    /// cell reads.
    /// </summary>
    /// <exception cref="ArgumentException">An argument other than -p NAME VALUE.</exception>
    public static NotebookApp Start(string title, string[] args, [CallerFilePath] string sourcePath = "")
    {
        ArgumentNullException.ThrowIfNull(args);
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] is not ("-p" or "--parameter") || i + 1 >= args.Length)
                throw new ArgumentException($"unexpected argument '{args[i]}': this app takes -p NAME VALUE (a notebook parameter), repeated");
            string name = args[++i], value;
            int equals = name.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
                (name, value) = (name[..equals], name[(equals + 1)..]);
            else if (i + 1 < args.Length)
                value = args[++i];
            else
                throw new ArgumentException($"-p {name}: give a value (-p NAME VALUE)");
            Environment.SetEnvironmentVariable(NotebookParameter.VariableFor(name), value);
        }
        string folder = Path.GetDirectoryName(Path.GetFullPath(sourcePath)) is { Length: > 0 } dir && Directory.Exists(dir)
            ? dir
            : Directory.GetCurrentDirectory();
        Directory.SetCurrentDirectory(folder);
        return new NotebookApp(title, folder);
    }

    /// <summary>Marks the start of the notebook's cell <paramref name="number"/>: what follows goes under it in the report.</summary>
    public void Cell(int number)
    {
        lock (_cells)
            _cells.Add((number, new StringBuilder()));
    }

    /// <summary>Shows <paramref name="value"/>: in the report (a table, a chart, text) and, as text, on the console.</summary>
    public Displayed Display(object? value)
    {
        var shown = new Displayed(this, Append(""));
        shown.Update(value);
        return shown;
    }

    /// <summary>Writes the report (atomically).</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        AppDomain.CurrentDomain.UnhandledException -= OnUnhandledException;
        Console.Out.Flush();
        Console.SetOut(_console);
        WriteReport();
        _console.WriteLine($"report: {_reportPath}");
    }

    /// <summary>A displayed value; <see cref="Update"/> replaces it where it was shown, as a notebook's display does.</summary>
    public sealed class Displayed
    {
        private readonly NotebookApp _app;
        private readonly StringBuilder _slot;

        internal Displayed(NotebookApp app, StringBuilder slot)
        {
            _app = app;
            _slot = slot;
        }

        /// <summary>Replaces the shown value (the console gets the new value's text only for text values).</summary>
        public void Update(object? value)
        {
            var (html, text) = AppReportHtml.Render(value);
            lock (_app._cells)
                _slot.Clear().Append(html);
            if (text is not null)
                _app._console.WriteLine(text);
        }
    }

    private StringBuilder Append(string html)
    {
        lock (_cells)
        {
            if (_cells.Count == 0)
                _cells.Add((0, new StringBuilder()));
            var slot = new StringBuilder(html);
            _cells[^1].Html.Append("\u0000");
            _slots.Add(slot);
            return slot;
        }
    }

    private readonly List<StringBuilder> _slots = [];

    private void Printed(string text)
    {
        lock (_cells)
        {
            if (_cells.Count == 0)
                _cells.Add((0, new StringBuilder()));
            _cells[^1].Html.Append("\u0001").Append(text);
        }
    }

    private void OnUnhandledException(object sender, UnhandledExceptionEventArgs e)
    {
        _failure = e.ExceptionObject.ToString();
        Dispose();
    }

    private void WriteReport()
    {
        var page = new StringBuilder();
        page.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>")
            .Append(WebUtility.HtmlEncode(_title)).Append(" — exported notebook app</title>\n<style>\n")
            .Append("body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 1.5em; }\n")
            .Append("pre { background: #f6f8fa; padding: .6em; white-space: pre-wrap; } .cell { margin: 1em 0; } ")
            .Append(".prompt { font: 12px monospace; color: #57606a; } .failed { color: #cf222e; }\n")
            .Append("table { border-collapse: collapse; } th, td { border: 1px solid #d0d7de; padding: .15em .5em; }\n</style>\n");
        bool charts;
        lock (_cells)
            charts = _slots.Any(s => s.ToString().Contains("class=\"chart\"", StringComparison.Ordinal));
        if (charts)
            page.Append("<script>\n").Append(Charts.OfflinePlotly.Script).Append("\n</script>\n");
        page.Append("</head>\n<body>\n<h1>").Append(WebUtility.HtmlEncode(_title)).Append("</h1>\n<p>")
            .Append(_failure is null ? "Completed" : "<strong class=\"failed\">Failed</strong>")
            .Append(CultureInfo.InvariantCulture, $" · started {_started:yyyy-MM-dd HH:mm zzz} · {(DateTimeOffset.Now - _started).TotalSeconds:F1} s</p>\n");
        lock (_cells)
        {
            int slot = 0;
            foreach (var (cell, html) in _cells)
            {
                page.Append("<section class=\"cell\"><div class=\"prompt\">").Append(cell > 0 ? $"cell {cell}" : "start").Append("</div>\n");
                var printed = new StringBuilder();
                foreach (char c in html.ToString())
                {
                    if (c == '\u0000')
                    {
                        Flush(page, printed);
                        page.Append(_slots[slot++]).Append('\n');
                    }
                    else if (c != '\u0001')
                    {
                        printed.Append(c);
                    }
                }
                Flush(page, printed);
                page.Append("</section>\n");
            }
        }
        if (_failure is not null)
            page.Append("<pre class=\"failed\">").Append(WebUtility.HtmlEncode(_failure)).Append("</pre>\n");
        page.Append("</body>\n</html>\n");
        IO.AtomicFile.WriteAllText(_reportPath, page.ToString());

        static void Flush(StringBuilder page, StringBuilder printed)
        {
            if (printed.Length > 0)
                page.Append("<pre>").Append(WebUtility.HtmlEncode(printed.ToString())).Append("</pre>\n");
            printed.Clear();
        }
    }

    // Console output: to the console as before, and into the report under the current cell.
    private sealed class CapturingWriter(NotebookApp app, TextWriter console) : TextWriter
    {
        public override Encoding Encoding => console.Encoding;

        public override void Write(char value)
        {
            console.Write(value);
            app.Printed(value.ToString());
        }

        public override void Write(string? value)
        {
            console.Write(value);
            if (value is not null)
                app.Printed(value);
        }

        public override void WriteLine(string? value) => Write(value + "\n");

        public override void Flush() => console.Flush();
    }
}
