using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using NotebookVgg.Cli.Runner;
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
        bool isChild = Environment.GetEnvironmentVariable(ChildVariable) == "1";
        // Children of one run share its kernel log: the parent starts it empty, each child appends.
        using var kernelLog = settings.KernelLog is { } logPath ? OpenLog(logPath, append: isChild) : null;
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
        if (prepared.Count > 1)
        {
            kernelLog?.Dispose();
            return await RunEachInItsOwnProcessAsync(console, settings, prepared).ConfigureAwait(false);
        }
        // Ctrl+C: the running cell fails as interrupted, the executed copy is still written, later notebooks do not run.
        // A second Ctrl+C ends the process at once.
        using var interrupt = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (isChild)
            {
                e.Cancel = true; // the parent decides, and says so on stdin (ListenToParent)
                return;
            }
            if (interrupt.IsCancellationRequested)
                return;
            e.Cancel = true;
            interrupt.Cancel();
        };
        if (isChild)
            ListenToParent(interrupt);
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
        return results.All(r => r.Succeeded) ? 0 : NvggApp.Failure;
    }

    /// <summary>Set in a child's environment: the child runs one notebook of its parent's run.</summary>
    private const string ChildVariable = "NOTEBOOKVGG_RUN_CHILD";

    /// <summary>
    /// Several notebooks: each runs in a child nvgg process of its own, so that a notebook that ends its process
    /// (Environment.Exit, a native crash) fails alone and the next notebooks still run. The child writes its own
    /// lines and executed copy; Ctrl+C here is passed on to the running child through its stdin.
    /// </summary>
    private static async Task<int> RunEachInItsOwnProcessAsync(IAnsiConsole console, Settings settings, IReadOnlyList<NotebookRunState> notebooks)
    {
        if (settings.KernelLog is { } logPath)
            OpenLog(logPath, append: false).Dispose();
        using var interrupt = new CancellationTokenSource();
        Process? child = null;
        int interrupts = 0;
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            // First Ctrl+C: the child stops its cell and writes its copy. Second: the child ends at once, and so does this process.
            if (++interrupts > 1)
                e.Cancel = false;
            else
                e.Cancel = true;
            interrupt.Cancel();
            TellChild(child, "interrupt");
        };
        Console.CancelKeyPress += onCancel;
        var failed = new List<string>();
        int run = 0;
        try
        {
            foreach (var state in notebooks)
            {
                if (interrupt.IsCancellationRequested)
                    break;
                child = Process.Start(ChildStartInfo(settings, state.Document.Path))!;
                if (interrupt.IsCancellationRequested)
                    TellChild(child, "interrupt");
                await child.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                int code = child.ExitCode;
                child.Dispose();
                child = null;
                run++;
                if (code == Interrupted)
                    return Interrupted;
                if (code == 0)
                    continue;
                failed.Add(state.Name);
                if (code != NvggApp.Failure)
                {
                    // Killed by a signal or a crash: the child could not say so itself.
                    string how = code > 128 ? $"signal {code - 128}" : $"exit code {code}";
                    Console.Error.WriteLine($"nvgg run: {state.Name}: the kernel's process ended ({how}) before the notebook finished");
                }
            }
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
        if (interrupt.IsCancellationRequested)
            return Interrupted;
        console.MarkupLine(failed.Count == 0
            ? $"[green]{run} notebooks passed[/]"
            : $"[red]{failed.Count} of {run} notebooks failed[/]: {Markup.Escape(string.Join(", ", failed))}");
        return failed.Count == 0 ? 0 : NvggApp.Failure;
    }

    /// <summary>The same nvgg, for one notebook, with the options of this run.</summary>
    private static ProcessStartInfo ChildStartInfo(Settings settings, string notebook)
    {
        var start = NvggProcess.StartInfo("run", notebook);
        start.RedirectStandardInput = true; // the parent's Ctrl+C arrives here (ListenToParent)
        foreach (string parameter in settings.Parameters)
        {
            start.ArgumentList.Add("-p");
            start.ArgumentList.Add(parameter);
        }
        if (settings.Output is { } output)
        {
            start.ArgumentList.Add("--output");
            start.ArgumentList.Add(Path.GetFullPath(output));
        }
        if (settings.Html)
            start.ArgumentList.Add("--html");
        if (settings.Timeout is { } timeout)
        {
            start.ArgumentList.Add("--timeout");
            start.ArgumentList.Add(timeout.ToString("R", CultureInfo.InvariantCulture));
        }
        if (settings.KernelLog is { } log)
        {
            start.ArgumentList.Add("--kernel-log");
            start.ArgumentList.Add(Path.GetFullPath(log));
        }
        start.Environment[ChildVariable] = "1";
        return start;
    }

    private static void TellChild(Process? child, string line)
    {
        try
        {
            child?.StandardInput.WriteLine(line);
            child?.StandardInput.Flush();
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or ObjectDisposedException)
        {
            // The child has just ended: nothing to tell.
        }
    }

    /// <summary>
    /// In a child: "interrupt" on stdin (the parent's Ctrl+C) stops the running cell; a second one, or the parent
    /// going away (end of stdin), ends this process at once.
    /// </summary>
    private static void ListenToParent(CancellationTokenSource interrupt)
    {
        var thread = new Thread(() =>
        {
            while (true)
            {
                string? line = Console.In.ReadLine();
                if (interrupt.IsCancellationRequested)
                    Environment.Exit(Interrupted);
                interrupt.Cancel();
                if (line is null)
                    return;
            }
        })
        { IsBackground = true, Name = "nvgg run: the parent's interrupts" };
        thread.Start();
    }

    private static StreamWriter OpenLog(string path, bool append)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        return new StreamWriter(full, append) { AutoFlush = true };
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
