using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using NotebookVgg.Cli.Runner;
using NotebookVgg.IO;
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

        [CommandOption("-f|--parameters-file <FILE>")]
        [Description("Set parameters from a YAML file (name: value per line), as papermill's -f. -y and -p given too win over it.")]
        public string[] ParameterFiles { get; init; } = [];

        [CommandOption("-y|--parameters-yaml <YAML>")]
        [Description("Set parameters from YAML text, e.g. -y \"epochs: 5\" or -y \"{epochs: 5, profile: smoke}\". -p given too wins over it.")]
        public string[] ParameterYaml { get; init; } = [];

        [CommandOption("--prepare-only")]
        [Description("Write NAME.executed.ipynb with the parameters injected, without running any cell.")]
        public bool PrepareOnly { get; init; }

        [CommandOption("--help-notebook")]
        [Description("List each notebook's parameters (type, default, environment variable, comment) and run nothing.")]
        public bool HelpNotebook { get; init; }

        [CommandOption("--log-output")]
        [Description("Stream each cell's output to this console as it runs (CI logs show progress).")]
        public bool LogOutput { get; init; }

        [CommandOption("--progress <SECONDS>")]
        [Description("While a cell runs longer than this, print a line this often: time, images/s of the library's work, the cell's latest output. 0: never. Default: 30.")]
        public double Progress { get; init; } = 30;

        [CommandOption("--cwd <DIR>")]
        [Description("Working directory of the notebook's kernel (relative paths in cells resolve against it). Default: each notebook's folder.")]
        public string? WorkingDirectory { get; init; }

        public override ValidationResult Validate()
        {
            if (Inputs.Length == 0)
                return ValidationResult.Error("give at least one notebook or folder");
            if (Timeout is <= 0 or double.NaN)
                return ValidationResult.Error($"--timeout must be a positive number of seconds, not {Timeout}");
            if (Progress is < 0 or double.NaN)
                return ValidationResult.Error($"--progress must be 0 (off) or a positive number of seconds, not {Progress}");
            if (WorkingDirectory is { } cwd && !Directory.Exists(cwd))
                return ValidationResult.Error($"--cwd {cwd}: no such folder");
            if (PrepareOnly && HelpNotebook)
                return ValidationResult.Error("--prepare-only and --help-notebook exclude each other");
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
        // papermill's order: values from files, then YAML text, then -p; the last value given for a name wins.
        var parameters = settings.ParameterFiles.SelectMany(YamlParameters.ReadFile)
            .Concat(settings.ParameterYaml.SelectMany(y => YamlParameters.Parse(y, "-y")))
            .Concat(settings.Parameters.Select(p => p.Split('=', 2)).Select(kv => new KeyValuePair<string, string>(kv[0], kv[1])))
            .ToList();
        bool isChild = Environment.GetEnvironmentVariable(ChildVariable) == "1";
        var notebooks = NotebookRunner.ExpandInputs(settings.Inputs).Distinct(StringComparer.Ordinal).ToList();
        if (settings.HelpNotebook)
            return WriteNotebookHelp(console, notebooks);
        // Several notebooks: each takes the parameters it declares; a name no notebook declares is an error (the parent
        // checks that; its children, one notebook each, take what their notebook declares).
        bool several = notebooks.Count > 1 || isChild;
        if (notebooks.Count > 1)
            CheckEachParameterIsDeclared(notebooks, parameters);
        // Children of one run share its kernel log: the parent starts it empty, each child appends.
        using var kernelLog = settings.KernelLog is { } logPath ? KernelLogFile.Open(logPath, append: isChild) : null;
        using var progress = settings.Progress > 0 && !settings.PrepareOnly
            ? new CellProgress(line => console.WriteLine(line), TimeSpan.FromSeconds(settings.Progress)) : null;
        var runner = new NotebookRunner(new NotebookRunOptions
        {
            Parameters = parameters,
            SkipUndeclaredParameters = several,
            OutputDirectory = settings.Output,
            WorkingDirectory = settings.WorkingDirectory,
            HtmlReport = settings.Html,
            CellTimeout = settings.Timeout is { } seconds ? TimeSpan.FromSeconds(seconds) : null,
            KernelLog = kernelLog,
            CellStarted = (_, cell) => progress?.Started(cell),
            CellOutput = (_, output) =>
            {
                progress?.Output(output);
                if (settings.LogOutput)
                    WriteCellOutput(console, output);
            },
            CellFinished = (state, cell) =>
            {
                progress?.Finished();
                WriteCellLine(console, state, cell);
            },
        });

        if (notebooks.GroupBy(runner.OutputPathFor, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } clash)
            throw new InvalidOperationException($"{string.Join(" and ", clash)} would both be written to {clash.Key}; run them with different --output folders");
        // Every notebook is read and its parameters checked, and every output folder found writable, before the first one runs.
        var prepared = notebooks.Select(runner.Prepare).ToList();
        runner.CheckOutputsWritable(notebooks);
        if (settings.PrepareOnly)
        {
            foreach (var state in prepared)
            {
                string written = runner.SavePrepared(state);
                console.MarkupLine($"{Markup.Escape(state.Name)}: parameters injected, not run → {Markup.Escape(Path.GetRelativePath(Directory.GetCurrentDirectory(), written))}");
            }
            return 0;
        }
        if (prepared.Count > 1)
        {
            kernelLog?.Dispose();
            return await RunEachInItsOwnProcessAsync(console, settings, prepared, parameters).ConfigureAwait(false);
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
        if (kernelLog?.Failure is { } logLost)
            throw logLost; // the notebook ran and its executed copy is written; the log asked for is not whole
        return results.All(r => r.Succeeded) ? 0 : NvggApp.Failure;
    }

    /// <summary>Set in a child's environment: the child runs one notebook of its parent's run.</summary>
    private const string ChildVariable = "NOTEBOOKVGG_RUN_CHILD";

    /// <summary>
    /// Several notebooks: each runs in a child nvgg process of its own, so that a notebook that ends its process
    /// (Environment.Exit, a native crash) fails alone and the next notebooks still run. The child writes its own
    /// lines and executed copy; Ctrl+C here is passed on to the running child through its stdin.
    /// </summary>
    private static async Task<int> RunEachInItsOwnProcessAsync(IAnsiConsole console, Settings settings, IReadOnlyList<NotebookRunState> notebooks,
        IReadOnlyList<KeyValuePair<string, string>> parameters)
    {
        if (settings.KernelLog is { } logPath)
            KernelLogFile.Open(logPath, append: false).Dispose();
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
                child = Process.Start(ChildStartInfo(settings, state.Document.Path, parameters))!;
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

    /// <summary>The same nvgg, for one notebook, with the options of this run (the parameters from -f, -y and -p, merged, as -p).</summary>
    private static ProcessStartInfo ChildStartInfo(Settings settings, string notebook, IReadOnlyList<KeyValuePair<string, string>> parameters)
    {
        var start = NvggProcess.StartInfo("run", notebook);
        start.RedirectStandardInput = true; // the parent's Ctrl+C arrives here (ListenToParent)
        foreach (var (name, value) in parameters)
        {
            start.ArgumentList.Add("-p");
            start.ArgumentList.Add(name + "=" + value);
        }
        if (settings.LogOutput)
            start.ArgumentList.Add("--log-output");
        start.ArgumentList.Add("--progress");
        start.ArgumentList.Add(settings.Progress.ToString("R", CultureInfo.InvariantCulture));
        if (settings.WorkingDirectory is { } cwd)
        {
            start.ArgumentList.Add("--cwd");
            start.ArgumentList.Add(Path.GetFullPath(cwd));
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


    /// <summary>A name that no notebook of a folder run declares is an error (one line); names some notebooks declare are fine.</summary>
    private static void CheckEachParameterIsDeclared(IReadOnlyList<string> notebooks, IReadOnlyList<KeyValuePair<string, string>> parameters)
    {
        if (parameters.Count == 0)
            return;
        var declared = notebooks.SelectMany(DeclarationsOf).Select(d => d.Name).ToHashSet(StringComparer.Ordinal);
        foreach (string name in parameters.Select(p => p.Key).Distinct(StringComparer.Ordinal))
        {
            if (!declared.Contains(name))
            {
                string known = declared.Count == 0 ? "they declare none" : "they declare " + string.Join(", ", declared.Order(StringComparer.Ordinal));
                throw new NotebookParameterException($"no notebook of this run declares parameter '{name}' ({known})");
            }
        }
    }

    private static IReadOnlyList<ParameterDeclaration> DeclarationsOf(string notebook) =>
        NotebookDocument.Load(notebook).Cells.FirstOrDefault(c => c.IsCode && c.HasTag(NotebookParameters.ParametersTag)) is { } cell
            ? NotebookParameters.ReadDeclarations(cell.Source)
            : [];

    /// <summary>--help-notebook: each notebook's parameters, as papermill lists them, and how to set them.</summary>
    private static int WriteNotebookHelp(IAnsiConsole console, IReadOnlyList<string> notebooks)
    {
        foreach (string notebook in notebooks)
        {
            var document = NotebookDocument.Load(notebook);
            string name = Path.GetFileName(notebook);
            int index = document.Cells.ToList().FindIndex(c => c.IsCode && c.HasTag(NotebookParameters.ParametersTag));
            if (index < 0)
            {
                console.MarkupLine($"[bold]{Markup.Escape(name)}[/]: no cell tagged '{NotebookParameters.ParametersTag}': it takes no parameters");
                continue;
            }
            console.MarkupLine($"[bold]{Markup.Escape(name)}[/]: parameters of cell {index + 1} (set with -p NAME VALUE, -y YAML, -f FILE, or the environment variable)");
            var table = new Table().NoBorder().AddColumn("name").AddColumn("type").AddColumn("default").AddColumn("variable").AddColumn("help");
            foreach (var d in NotebookParameters.ReadDeclarations(document.Cells[index].Source))
            {
                string type = d.Type is { } t ? NotebookParameters.TypeName(t) : d.DeclaredType + " (not settable)";
                string value = d.Default switch
                {
                    string text => SymbolLiteral(text),
                    bool b => b ? "true" : "false",
                    IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                    _ => d.DefaultSource,
                };
                table.AddRow(Markup.Escape(d.Name), Markup.Escape(type), Markup.Escape(value), Markup.Escape(d.EnvironmentVariable ?? ""), Markup.Escape(d.Help));
            }
            console.Write(table);
        }
        return 0;
    }

    private static string SymbolLiteral(string text) => Microsoft.CodeAnalysis.CSharp.SymbolDisplay.FormatLiteral(text, quote: true);

    /// <summary>--log-output: a running cell's output, indented under the notebook's name (results: their first lines).</summary>
    private static void WriteCellOutput(IAnsiConsole console, CellOutput output)
    {
        var lines = output.Text.TrimEnd('\n').Split('\n');
        if (output.Stream == "result" && lines.Length > 20)
            lines = [.. lines.Take(20), $"({lines.Length - 20} more lines in the executed notebook)"];
        foreach (string line in lines)
            console.WriteLine("    │ " + line.TrimEnd('\r'));
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
