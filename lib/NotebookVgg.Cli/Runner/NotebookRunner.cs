using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using NotebookVgg.IO;

namespace NotebookVgg.Cli.Runner;

/// <summary>What <see cref="NotebookRunner"/> does with each notebook.</summary>
internal sealed class NotebookRunOptions
{
    /// <summary>-p NAME VALUE pairs, in command-line order (the last value for a name wins).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Parameters { get; init; } = [];

    /// <summary>Where executed notebooks and reports go; null: beside each input.</summary>
    public string? OutputDirectory { get; init; }

    /// <summary>Also write a self-contained NAME.report.html.</summary>
    public bool HtmlReport { get; init; }

    /// <summary>Longest time one cell may run; null: no limit.</summary>
    public TimeSpan? CellTimeout { get; init; }

    /// <summary>Receives kernel events and any console output that happens outside a cell (--kernel-log); null: discarded.</summary>
    public TextWriter? KernelLog { get; init; }

    /// <summary>Called after each cell (for the console's one line per cell).</summary>
    public Action<NotebookRunState, CellResult>? CellFinished { get; init; }

    /// <summary>Called when a cell starts (--log-output, the progress line).</summary>
    public Action<NotebookRunState, CellStart>? CellStarted { get; init; }

    /// <summary>Called with each piece of a running cell's output as it arrives: stream text, or a result's plain text (--log-output).</summary>
    public Action<NotebookRunState, CellOutput>? CellOutput { get; init; }

    /// <summary>
    /// A folder run: each notebook takes the parameters it declares and leaves the others (the command checks that some
    /// notebook declares each); a notebook without a parameters cell takes none. Otherwise an undeclared name is an error.
    /// </summary>
    public bool SkipUndeclaredParameters { get; init; }

    /// <summary>The kernel's working directory (papermill's --cwd); null: each notebook's own folder.</summary>
    public string? WorkingDirectory { get; init; }
}

/// <summary>A code cell about to run.</summary>
internal sealed record CellStart(int? CellNumber, int ExecutionCount, string FirstLine)
{
    public string Label => CellNumber is { } n ? $"cell {n}" : "injected parameters";
}

/// <summary>Output of a running cell: <see cref="Stream"/> is "stdout", "stderr" or "result" (a displayed value's plain text).</summary>
internal sealed record CellOutput(string Stream, string Text);

internal enum CellStatus
{
    Completed,
    Failed,
    NotRun,
}

/// <summary>One code cell's result. <see cref="CellNumber"/> counts all cells of the input notebook from 1; null for the injected cell.</summary>
internal sealed record CellResult(int? CellNumber, int? ExecutionCount, CellStatus Status, TimeSpan Elapsed, CellFailure? Failure, string FirstLine)
{
    public string Label => CellNumber is { } n ? $"cell {n}" : "injected parameters";
}

/// <summary>A notebook read, checked and given its parameters; ready to run.</summary>
internal sealed class NotebookRunState
{
    internal NotebookRunState(NotebookDocument document, IReadOnlyList<BoundParameter> parameters, IReadOnlyDictionary<NotebookCell, int?> cellNumbers,
        IReadOnlyList<ParameterDeclaration> declarations, int? parametersCellNumber)
    {
        Document = document;
        Parameters = parameters;
        CellNumbers = cellNumbers;
        Declarations = declarations;
        ParametersCellNumber = parametersCellNumber;
    }

    /// <summary>What the cell tagged <c>parameters</c> declares (empty without one).</summary>
    public IReadOnlyList<ParameterDeclaration> Declarations { get; }

    /// <summary>The number of the cell tagged <c>parameters</c> in the input notebook; null without one.</summary>
    public int? ParametersCellNumber { get; }

    public NotebookDocument Document { get; }

    public string Name => Path.GetFileName(Document.Path);

    public IReadOnlyList<BoundParameter> Parameters { get; }

    /// <summary>Each cell's number in the input notebook (null for the injected cell).</summary>
    internal IReadOnlyDictionary<NotebookCell, int?> CellNumbers { get; }
}

/// <summary>The result of running one notebook.</summary>
internal sealed record NotebookRunResult(
    string InputPath,
    string OutputPath,
    string? ReportPath,
    IReadOnlyList<CellResult> Cells,
    IReadOnlyList<BoundParameter> Parameters,
    TimeSpan Elapsed)
{
    public CellResult? FailedCell => Cells.FirstOrDefault(c => c.Status == CellStatus.Failed);

    public bool Succeeded => FailedCell is null;
}

/// <summary>
/// Runs C# notebooks headless, as papermill does for Python: each notebook in a fresh in-process kernel
/// (<see cref="KernelSession"/>), with the notebook's folder as working directory, parameters injected after
/// the cell tagged <c>parameters</c>, and outputs, execution counts and per-cell timing written into an
/// executed copy (NAME.executed.ipynb) that opens in VS Code and Jupyter. The copy is saved (atomically: a temporary
/// name, then a rename) as each cell starts and at the end, so a run that is killed keeps every finished cell.
/// A failing cell stops the run; the copy then carries papermill's error banner at the top and the error in that cell.
/// </summary>
internal sealed class NotebookRunner(NotebookRunOptions options)
{
    // Resolved once: the working directory changes while notebooks run.
    private readonly string? _outputDirectory = options.OutputDirectory is { } dir ? Path.GetFullPath(dir) : null;
    private readonly string? _workingDirectory = options.WorkingDirectory is { } cwd ? Path.GetFullPath(cwd) : null;

    /// <summary>Tag of the error banner cells a failed run adds (papermill's own tag, so tools that know it find them).</summary>
    public const string ErrorCellTag = "papermill-error-cell-tag";

    /// <summary>Set in the kernel's environment while nvgg run runs a notebook: the setup cell then builds nothing (the library is nvgg's own).</summary>
    public const string RunnerVariable = "NOTEBOOKVGG_RUNNER";

    public const string ExecutedSuffix = ".executed.ipynb";
    public const string ReportSuffix = ".report.html";

    /// <summary>The notebooks named by files and folders (a folder: its .ipynb files in file-name order, executed copies left out).</summary>
    public static IReadOnlyList<string> ExpandInputs(IEnumerable<string> paths)
    {
        var notebooks = new List<string>();
        foreach (string path in paths)
        {
            if (Directory.Exists(path))
            {
                var found = Directory.GetFiles(path, "*.ipynb")
                    .Where(f => !f.EndsWith(ExecutedSuffix, StringComparison.OrdinalIgnoreCase))
                    .Order(StringComparer.Ordinal)
                    .ToList();
                if (found.Count == 0)
                    throw new FileNotFoundException($"no notebooks (*.ipynb) in folder {path}");
                notebooks.AddRange(found);
            }
            else if (File.Exists(path))
            {
                notebooks.Add(path);
            }
            else
            {
                throw new FileNotFoundException($"notebook or folder not found: {path}", path);
            }
        }
        return notebooks.Select(Path.GetFullPath).ToList();
    }

    /// <summary>Where the executed copy of <paramref name="notebookPath"/> goes.</summary>
    public string OutputPathFor(string notebookPath) => OutputBase(notebookPath) + ExecutedSuffix;

    /// <summary>Where the HTML report of <paramref name="notebookPath"/> goes.</summary>
    public string ReportPathFor(string notebookPath) => OutputBase(notebookPath) + ReportSuffix;

    /// <summary>
    /// Reads and checks a notebook and injects the parameters; throws (one clear line) on a notebook that cannot
    /// run here or parameters that do not fit it, before anything runs.
    /// </summary>
    public NotebookRunState Prepare(string notebookPath)
    {
        var document = NotebookDocument.Load(notebookPath);
        string name = Path.GetFileName(document.Path);
        string defaultKernel = document.DefaultKernelName;

        // A previous run's injected cell and error banners (re-running an executed copy) are replaced, as papermill does.
        foreach (var stale in document.Cells.Where(c => c.HasTag(NotebookParameters.InjectedTag) || c.HasTag(ErrorCellTag)).ToList())
            document.RemoveCell(stale);

        var cellNumbers = new Dictionary<NotebookCell, int?>();
        for (int i = 0; i < document.Cells.Count; i++)
        {
            var cell = document.Cells[i];
            cellNumbers[cell] = i + 1;
            if (!cell.IsCode)
                continue;
            string kernel = cell.KernelName ?? defaultKernel;
            if (!IsCSharp(kernel))
                throw new NotSupportedException($"{name}: cell {i + 1} runs in the '{kernel}' kernel; nvgg run runs C# cells only");
        }

        var parametersCell = document.Cells.FirstOrDefault(c => c.IsCode && c.HasTag(NotebookParameters.ParametersTag));
        var declarations = parametersCell is null ? [] : NotebookParameters.ReadDeclarations(parametersCell.Source);
        IReadOnlyList<BoundParameter> bound = [];
        if (options.Parameters.Count > 0 && parametersCell is null && !options.SkipUndeclaredParameters)
            throw new NotebookParameterException($"{name}: parameters given, but the notebook has no code cell tagged '{NotebookParameters.ParametersTag}'");
        if (options.Parameters.Count > 0 && parametersCell is not null)
            bound = NotebookParameters.Bind(declarations, options.Parameters, name, options.SkipUndeclaredParameters);
        if (bound.Count > 0)
        {
            int index = document.Cells.ToList().IndexOf(parametersCell!);
            var injected = NotebookCell.NewCode(
                NotebookParameters.InjectedCellSource(bound),
                parametersCell!.KernelName ?? KernelSession.CSharpKernelName,
                [NotebookParameters.InjectedTag],
                document.CellsHaveIds ? "injected-parameters" : null);
            document.InsertCellAfter(index, injected);
            cellNumbers[injected] = null;
        }
        return new NotebookRunState(document, bound, cellNumbers, declarations, parametersCell is null ? null : cellNumbers[parametersCell]);
    }

    /// <summary>
    /// Fails, before anything runs, when the folder an executed copy or report of <paramref name="notebookPaths"/> would go to
    /// cannot be created or written: one line naming the folder.
    /// </summary>
    public void CheckOutputsWritable(IEnumerable<string> notebookPaths)
    {
        foreach (string folder in notebookPaths.Select(p => Path.GetDirectoryName(OutputPathFor(p))!).Distinct(StringComparer.Ordinal))
        {
            // Creating a file is what each save does: OutputCheck tries exactly that (a probe file, removed at once).
            if (!OutputCheck.CanWrite(folder, out var error))
                throw new WriteFailedException(folder, WriteFailure.Classify(error!) ?? WriteProblem.Other,
                    $"cannot write executed notebooks to {folder}: {WriteFailure.What(error!)} (choose another folder with --output)", inner: error);
        }
    }

    /// <summary>--prepare-only: writes the notebook with its parameters injected and the run's metadata, without running a cell.</summary>
    public string SavePrepared(NotebookRunState state)
    {
        foreach (var cell in state.Document.Cells)
            cell.ResetExecution();
        string outputPath = OutputPathFor(state.Document.Path);
        RecordRun(state, null, null, outputPath, []);
        AtomicFile.WriteAllText(outputPath, state.Document.ToJson(), "executed notebook");
        return outputPath;
    }

    /// <summary>
    /// Runs a prepared notebook and writes the executed copy (as each cell starts, so it holds every finished cell, and at
    /// the end) and the report. Never throws for a failing cell.
    /// </summary>
    /// <remarks><paramref name="interrupt"/> (Ctrl+C) stops the running cell as a failure; the executed copy is still written.</remarks>
    public async Task<NotebookRunResult> RunAsync(NotebookRunState state, CancellationToken interrupt = default)
    {
        var document = state.Document;
        var started = DateTimeOffset.Now;
        var watch = Stopwatch.StartNew();
        string outputPath = OutputPathFor(document.Path);
        foreach (var cell in document.Cells.Where(c => c.IsCode))
        {
            cell.ResetExecution();
            cell.Metadata["papermill"] = CellTiming(null, null, "pending", false);
        }

        var log = options.KernelLog ?? TextWriter.Null;
        log.WriteLine($"=== {document.Path} (started {started:O})");
        string previousDirectory = Directory.GetCurrentDirectory();
        string? previousRunner = Environment.GetEnvironmentVariable(RunnerVariable);
        var (previousOut, previousError) = (Console.Out, Console.Error);
        var results = new List<CellResult>();
        KernelSession? session = null;
        NotebookCell? running = null;
        // The kernel runs in this process: a cell that calls Environment.Exit ends it. That is a failure, never a pass:
        // record it in the executed copy and leave with exit code 1.
        EventHandler onProcessExit = (_, _) => KernelExited(document, running, previousError);
        AppDomain.CurrentDomain.ProcessExit += onProcessExit;
        try
        {
            // Relative #r and file paths resolve against the notebook's folder (or --cwd), as in VS Code.
            Directory.SetCurrentDirectory(_workingDirectory ?? Path.GetDirectoryName(document.Path)!);
            Environment.SetEnvironmentVariable(RunnerVariable, "nvgg-run");
            // The kernel captures Console while a cell runs; anything written outside a cell (a background
            // thread, a timed-out cell) goes to the kernel log, never between the CLI's own lines.
            var stray = TextWriter.Synchronized(new PrefixWriter(log, "console: "));
            Console.SetOut(stray);
            Console.SetError(stray);

            session = await KernelSession.StartAsync(log).ConfigureAwait(false);
            if (options.CellOutput is { } onOutput)
                session.OutputProduced = (stream, text) => onOutput(state, new CellOutput(stream, text));
            int executionCount = 0;
            bool stopped = false;
            foreach (var cell in document.Cells.Where(c => c.IsCode))
            {
                int? number = state.CellNumbers.GetValueOrDefault(cell);
                string firstLine = FirstLine(cell.Source);
                if (stopped)
                {
                    results.Add(new CellResult(number, null, CellStatus.NotRun, TimeSpan.Zero, null, firstLine));
                    continue;
                }
                executionCount++;
                var cellStart = DateTimeOffset.Now;
                cell.Metadata["papermill"] = CellTiming(cellStart, null, "running", false);
                // Saved as each cell starts: the copy holds every cell finished so far, and says which one was running.
                Save(state, started, watch.Elapsed, outputPath, results, finished: false);
                options.CellStarted?.Invoke(state, new CellStart(number, executionCount, firstLine));
                running = cell;
                var run = await session.RunCellAsync(cell.Source, executionCount, options.CellTimeout, interrupt).ConfigureAwait(false);
                running = null;
                cell.Json["outputs"] = run.Outputs;
                cell.Json["execution_count"] = executionCount;
                bool failed = run.Failure is not null;
                cell.Metadata["papermill"] = CellTiming(cellStart, cellStart + run.Elapsed, failed ? "failed" : "completed", failed);
                var cellResult = new CellResult(number, executionCount, failed ? CellStatus.Failed : CellStatus.Completed, run.Elapsed, run.Failure, firstLine);
                results.Add(cellResult);
                stopped = failed;
                options.CellFinished?.Invoke(state, cellResult);
            }
        }
        finally
        {
            AppDomain.CurrentDomain.ProcessExit -= onProcessExit;
            session?.Dispose();
            Console.SetOut(previousOut);
            Console.SetError(previousError);
            Directory.SetCurrentDirectory(previousDirectory);
            Environment.SetEnvironmentVariable(RunnerVariable, previousRunner);
            log.Flush();
        }

        var elapsed = watch.Elapsed;
        if (results.FirstOrDefault(r => r.Status == CellStatus.Failed) is { } failedCell)
            AddErrorBanner(document, state, failedCell);
        Save(state, started, elapsed, outputPath, results, finished: true);
        var result = new NotebookRunResult(document.Path, outputPath, null, results, state.Parameters, elapsed);
        if (!options.HtmlReport)
            return result;
        result = result with { ReportPath = ReportPathFor(document.Path) };
        AtomicFile.WriteAllText(result.ReportPath!, HtmlReport.Render(document, result), "report");
        return result;
    }

    private void Save(NotebookRunState state, DateTimeOffset started, TimeSpan elapsed, string outputPath, IReadOnlyList<CellResult> results, bool finished)
    {
        RecordRun(state, started, finished ? elapsed : null, outputPath, results);
        AtomicFile.WriteAllText(outputPath, state.Document.ToJson(), "executed notebook");
    }

    /// <summary>
    /// papermill's error banner: a markdown cell at the top saying where the run stopped, linked to an anchor cell
    /// placed just before the failed cell. Both carry <see cref="ErrorCellTag"/>, so a later run removes them.
    /// </summary>
    private static void AddErrorBanner(NotebookDocument document, NotebookRunState state, CellResult failed)
    {
        const string style = "color:red; font-family:Helvetica Neue, Helvetica, Arial, sans-serif; font-size:2em;";
        var failedCell = state.CellNumbers.First(kv => kv.Value == failed.CellNumber && kv.Key.Json["execution_count"] is not null).Key;
        string summary = System.Net.WebUtility.HtmlEncode(failed.Failure?.Summary ?? "");
        var anchor = NotebookCell.NewMarkdown(
            $"<span id=\"papermill-error-cell\" style=\"{style}\">Execution using nvgg run encountered an exception here and stopped:</span>",
            [ErrorCellTag], document.CellsHaveIds ? "papermill-error-cell" : null);
        document.InsertCellAfter(document.Cells.ToList().IndexOf(failedCell) - 1, anchor);
        var banner = NotebookCell.NewMarkdown(
            $"<span style=\"{style}\">An Exception was encountered at '<a href=\"#papermill-error-cell\">In [{failed.ExecutionCount}]</a>'.</span>\n\n" +
            $"{System.Net.WebUtility.HtmlEncode(failed.Label)}: <code>{summary}</code>",
            [ErrorCellTag], document.CellsHaveIds ? "papermill-error-banner" : null);
        document.InsertCellAfter(-1, banner);
    }

    /// <summary>
    /// The process is ending while <paramref name="cell"/> runs (the notebook called Environment.Exit): the cell gets an
    /// error output, the executed copy is written, and the process exits with 1 whatever code the notebook asked for.
    /// </summary>
    private void KernelExited(NotebookDocument document, NotebookCell? cell, TextWriter stderr)
    {
        if (cell is null)
            return;
        const string message = "the notebook ended the kernel's process (Environment.Exit) before its last cell finished";
        cell.Json["outputs"] = new JsonArray(new JsonObject
        {
            ["output_type"] = "error",
            ["ename"] = "KernelExited",
            ["evalue"] = message,
            ["traceback"] = new JsonArray(),
        });
        cell.Metadata["papermill"] = CellTiming(null, DateTimeOffset.Now, "failed", true);
        string outputPath = OutputPathFor(document.Path);
        try
        {
            AtomicFile.WriteAllText(outputPath, document.ToJson(), "executed notebook");
        }
        catch (IOException)
        {
        }
        stderr.WriteLine($"nvgg run: {Path.GetFileName(document.Path)}: {message}; executed copy: {outputPath}");
        stderr.Flush();
        Environment.ExitCode = 1;
    }

    /// <summary>Prepares every notebook first (so bad parameters fail before anything runs), then runs them in order.</summary>
    public async Task<IReadOnlyList<NotebookRunResult>> RunAllAsync(IEnumerable<string> notebookPaths)
    {
        var prepared = notebookPaths.Select(Prepare).ToList();
        var results = new List<NotebookRunResult>();
        foreach (var state in prepared)
            results.Add(await RunAsync(state).ConfigureAwait(false));
        return results;
    }

    private string OutputBase(string notebookPath)
    {
        string full = Path.GetFullPath(notebookPath);
        string stem = Path.GetFileNameWithoutExtension(full);
        if (stem.EndsWith(".executed", StringComparison.OrdinalIgnoreCase))
            stem = stem[..^".executed".Length];
        string directory = _outputDirectory ?? Path.GetDirectoryName(full)!;
        return Path.Combine(directory, stem);
    }

    /// <summary>
    /// papermill's notebook metadata, so tools that read metadata.papermill (and people) see what ran: the declared
    /// defaults, the values this run used (injected ones, and NOTEBOOKVGG_* variables that override a declared
    /// parameter), every NOTEBOOKVGG_* variable set, times, whether it failed, and the runner's version.
    /// </summary>
    private static void RecordRun(NotebookRunState state, DateTimeOffset? started, TimeSpan? elapsed, string outputPath, IReadOnlyList<CellResult> results)
    {
        var defaults = new JsonObject();
        foreach (var d in state.Declarations)
            defaults[d.Name] = d.Default is { } value ? ToJson(value) : JsonValue.Create(d.DefaultSource);
        var environment = NotebookVggVariables();
        var parameters = new JsonObject();
        foreach (var d in state.Declarations)
        {
            if (d.EnvironmentVariable is { } variable && environment.TryGetValue(variable, out string? text) && text.Length > 0)
                parameters[d.Name] = ToJson(d.Type is { } type ? NotebookParameters.TryParse(type, text) ?? text : text);
        }
        foreach (var p in state.Parameters)
            parameters[p.Name] = ToJson(p.Value);
        var variables = new JsonObject();
        foreach (var (name, value) in environment)
            variables[name] = value;
        var failed = results.FirstOrDefault(r => r.Status == CellStatus.Failed);
        var inv = CultureInfo.InvariantCulture;
        state.Document.Metadata["papermill"] = new JsonObject
        {
            ["default_parameters"] = defaults,
            ["parameters"] = parameters,
            ["environment_variables"] = variables,
            ["input_path"] = state.Document.Path,
            ["output_path"] = outputPath,
            ["start_time"] = started?.ToString("O", inv),
            ["end_time"] = started is { } s && elapsed is { } e ? (s + e).ToString("O", inv) : null,
            ["duration"] = elapsed is { } d2 ? Math.Round(d2.TotalSeconds, 3) : null,
            ["exception"] = elapsed is null && failed is null ? null : failed is not null,
            ["runner"] = new JsonObject { ["name"] = "nvgg run", ["version"] = RunnerVersion },
        };
    }

    /// <summary>nvgg's version as built (informational: the package version, and the commit where the build recorded it).</summary>
    public static string RunnerVersion { get; } =
        typeof(NotebookRunner).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion
        ?? typeof(NotebookRunner).Assembly.GetName().Version?.ToString(3) ?? "unknown";

    // NOTEBOOKVGG_* variables that a notebook may read, in name order (the runner's own bookkeeping variables left out).
    private static SortedDictionary<string, string> NotebookVggVariables()
    {
        var found = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            if (entry.Key is string name && name.StartsWith("NOTEBOOKVGG_", StringComparison.Ordinal)
                && name is not RunnerVariable and not "NOTEBOOKVGG_RUN_CHILD")
                found[name] = entry.Value as string ?? "";
        }
        return found;
    }

    private static JsonNode? ToJson(object? value) => value switch
    {
        null => null,
        string s => JsonValue.Create(s),
        int i => JsonValue.Create(i),
        long l => JsonValue.Create(l),
        double d when double.IsFinite(d) => JsonValue.Create(d),
        float f when float.IsFinite(f) => JsonValue.Create(f),
        bool b => JsonValue.Create(b),
        IFormattable f => JsonValue.Create(f.ToString(null, CultureInfo.InvariantCulture)),
        _ => JsonValue.Create(value.ToString()),
    };

    private static JsonObject CellTiming(DateTimeOffset? start, DateTimeOffset? end, string status, bool exception) => new()
    {
        ["start_time"] = start?.ToString("O", CultureInfo.InvariantCulture),
        ["end_time"] = end?.ToString("O", CultureInfo.InvariantCulture),
        ["duration"] = start is { } s && end is { } e ? Math.Round((e - s).TotalSeconds, 3) : null,
        ["status"] = status,
        ["exception"] = exception,
    };

    private static bool IsCSharp(string kernelName) =>
        kernelName is "csharp" or "c#" or "C#";

    private static string FirstLine(string source)
    {
        string line = source.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0) ?? "";
        return line.Length <= 60 ? line : line[..57] + "...";
    }

    /// <summary>Writes each line of text to the log with a prefix (console output that escaped the kernel's capture).</summary>
    private sealed class PrefixWriter(TextWriter inner, string prefix) : TextWriter
    {
        private readonly System.Text.StringBuilder _line = new();

        public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;

        public override void Write(char value)
        {
            if (value == '\n')
            {
                try
                {
                    inner.WriteLine(prefix + _line.ToString().TrimEnd('\r'));
                }
                catch (ObjectDisposedException)
                {
                    // A stopped cell's thread writing after the log was closed: nowhere left to put it.
                }
                _line.Clear();
            }
            else
            {
                _line.Append(value);
            }
        }
    }
}
