using System.ComponentModel;
using System.Globalization;
using NotebookVgg.Cli.Notebooks;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NotebookVgg.Cli.Commands;

/// <summary><c>nvgg run</c>: runs C# notebooks headless (papermill-style) and writes executed copies and HTML reports.</summary>
internal sealed class RunCommand : AsyncCommand<RunCommand.Settings>
{
    /// <summary>Exit code after Ctrl+C, as a shell reports SIGINT.</summary>
    public const int Interrupted = 130;

    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<NOTEBOOK|FOLDER>")]
        [Description("Notebooks (.ipynb) to run, or folders whose notebooks run in file-name order.")]
        public string[] Inputs { get; init; } = [];

        [CommandOption("-p|--parameter <NAME=VALUE>")]
        [Description("Set a parameter declared in the cell tagged 'parameters' (also written -p NAME VALUE). Repeatable.")]
        public string[] Parameters { get; init; } = [];

        [CommandOption("-o|--output <DIR>")]
        [Description("Write NAME.executed.ipynb (and the report) here instead of beside each notebook.")]
        public string? Output { get; init; }

        [CommandOption("--html")]
        [Description("Also write a self-contained NAME.report.html (charts drawn offline).")]
        public bool Html { get; init; }

        [CommandOption("--timeout <SECONDS>")]
        [Description("Stop a cell that runs longer than this (the run fails at that cell). Default: no limit.")]
        public double? Timeout { get; init; }

        [CommandOption("--kernel-log <FILE>")]
        [Description("Write the kernel's events and stray console output to this file.")]
        public string? KernelLog { get; init; }

        public override ValidationResult Validate()
        {
            if (Inputs.Length == 0)
                return ValidationResult.Error("give at least one notebook or folder");
            if (Timeout is <= 0 or double.NaN)
                return ValidationResult.Error($"--timeout must be a positive number of seconds, not {Timeout}");
            foreach (string p in Parameters)
            {
                if (!p.Contains('=', StringComparison.Ordinal) || p.StartsWith('='))
                    return ValidationResult.Error($"-p needs a name and a value (-p NAME VALUE or -p NAME=VALUE), not '{p}'");
            }
            return ValidationResult.Success();
        }
    }

    /// <summary>
    /// Rewrites papermill's "-p NAME VALUE" into "-p NAME=VALUE", the form the option parser takes.
    /// A "-p" whose next word already holds '=' is left as it is.
    /// </summary>
    public static string[] NormalizeParameterArguments(string[] args)
    {
        var result = new List<string>(args.Length);
        for (int i = 0; i < args.Length; i++)
        {
            bool isParameter = args[i] is "-p" or "--parameter";
            if (isParameter && i + 2 < args.Length && !args[i + 1].Contains('=', StringComparison.Ordinal))
            {
                result.Add(args[i]);
                result.Add(args[i + 1] + "=" + args[i + 2]);
                i += 2;
                continue;
            }
            result.Add(args[i]);
        }
        return result.ToArray();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        // The CLI's own lines go to the console as it is now: while kernels run, and after a stopped cell (whose
        // kernel may put back its own Console redirection late), Console.Out/Error may point elsewhere.
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
        var stderr = Console.Error;
        if (Console.IsOutputRedirected)
            console.Profile.Width = 4096; // a log gets one line per cell, not lines wrapped at 80 columns
        var parameters = settings.Parameters
            .Select(p => p.Split('=', 2))
            .Select(kv => new KeyValuePair<string, string>(kv[0], kv[1]))
            .ToList();
        using var kernelLog = settings.KernelLog is { } logPath ? OpenLog(logPath) : null;
        var runner = new NotebookRunner(new NotebookRunOptions
        {
            Parameters = parameters,
            OutputDirectory = settings.Output,
            HtmlReport = settings.Html,
            CellTimeout = settings.Timeout is { } seconds ? TimeSpan.FromSeconds(seconds) : null,
            KernelLog = kernelLog,
            CellFinished = (state, cell) => WriteCellLine(console, state, cell),
        });

        var notebooks = NotebookRunner.ExpandInputs(settings.Inputs).Distinct(StringComparer.Ordinal).ToList();
        if (notebooks.GroupBy(runner.OutputPathFor, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } clash)
            throw new InvalidOperationException($"{string.Join(" and ", clash)} would both be written to {clash.Key}; run them with different --output folders");
        // Every notebook is read and its parameters checked before the first one runs.
        var prepared = notebooks.Select(runner.Prepare).ToList();
        // Ctrl+C: the running cell fails as interrupted, the executed copy is still written, later notebooks do not run.
        // A second Ctrl+C ends the process at once.
        using var interrupt = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (interrupt.IsCancellationRequested)
                return;
            e.Cancel = true;
            interrupt.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        var results = new List<NotebookRunResult>();
        try
        {
            foreach (var state in prepared)
            {
                if (interrupt.IsCancellationRequested)
                    break;
                console.MarkupLine($"[bold]{Markup.Escape(state.Name)}[/]" +
                    (state.Parameters.Count > 0 ? " " + Markup.Escape(string.Join(" ", state.Parameters.Select(p => $"{p.Name}={p.Literal}"))) : ""));
                var result = await runner.RunAsync(state, interrupt.Token).ConfigureAwait(false);
                results.Add(result);
                WriteNotebookSummary(console, stderr, state, result);
            }
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
        if (interrupt.IsCancellationRequested)
            return Interrupted;
        if (results.Count > 1)
        {
            int failed = results.Count(r => !r.Succeeded);
            console.MarkupLine(failed == 0
                ? $"[green]{results.Count} notebooks passed[/]"
                : $"[red]{failed} of {results.Count} notebooks failed[/]: {Markup.Escape(string.Join(", ", results.Where(r => !r.Succeeded).Select(r => Path.GetFileName(r.InputPath))))}");
        }
        return results.All(r => r.Succeeded) ? 0 : NvggApp.Failure;
    }

    private static StreamWriter OpenLog(string path)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        return new StreamWriter(full, append: false) { AutoFlush = true };
    }

    private static void WriteCellLine(IAnsiConsole console, NotebookRunState state, CellResult cell)
    {
        string time = Seconds(cell.Elapsed).PadLeft(8);
        string label = $"{cell.Label} [{cell.ExecutionCount}]".PadRight(26);
        if (cell.Status == CellStatus.Failed)
            console.MarkupLine($"  [red]{Markup.Escape(label)} {time}  FAILED[/] {Markup.Escape(Shorten(cell.Failure?.Summary ?? "", 300))}");
        else
            console.MarkupLine($"  {Markup.Escape(label)} {time}  [grey]{Markup.Escape(cell.FirstLine)}[/]");
    }

    private static void WriteNotebookSummary(IAnsiConsole console, TextWriter stderr, NotebookRunState state, NotebookRunResult result)
    {
        int run = result.Cells.Count(c => c.Status != CellStatus.NotRun);
        int notRun = result.Cells.Count(c => c.Status == CellStatus.NotRun);
        string written = Path.GetRelativePath(Directory.GetCurrentDirectory(), result.OutputPath)
            + (result.ReportPath is { } report ? ", " + Path.GetRelativePath(Directory.GetCurrentDirectory(), report) : "");
        if (result.FailedCell is { } failed)
        {
            // One line that names notebook, cell and error, for CI logs.
            stderr.WriteLine($"nvgg run: {state.Name}: {failed.Label} failed: {failed.Failure?.Summary}");
            console.MarkupLine($"[red]{Markup.Escape(state.Name)}: failed at {Markup.Escape(failed.Label)}[/] after {run} cells in {Seconds(result.Elapsed)}" +
                (notRun > 0 ? $", {notRun} not run" : "") + $" → {Markup.Escape(written)}");
        }
        else
        {
            console.MarkupLine($"[green]{Markup.Escape(state.Name)}: {run} cells passed[/] in {Seconds(result.Elapsed)} → {Markup.Escape(written)}");
        }
    }

    private static string Shorten(string text, int length) => text.Length <= length ? text : text[..(length - 3)] + "...";

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture) + " s";
}
