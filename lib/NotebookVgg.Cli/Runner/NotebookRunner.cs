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
}

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
    internal NotebookRunState(NotebookDocument document, IReadOnlyList<BoundParameter> parameters, IReadOnlyDictionary<NotebookCell, int?> cellNumbers)
    {
        Document = document;
        Parameters = parameters;
        CellNumbers = cellNumbers;
    }

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
/// executed copy (NAME.executed.ipynb) that opens in VS Code and Jupyter. A failing cell stops the run;
/// the executed copy is still written with the error in that cell.
/// </summary>
internal sealed class NotebookRunner(NotebookRunOptions options)
{
    // Resolved once: the working directory changes while notebooks run.
    private readonly string? _outputDirectory = options.OutputDirectory is { } dir ? Path.GetFullPath(dir) : null;

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

        // A previous run's injected cell (re-running an executed copy) is replaced, as papermill does.
        foreach (var stale in document.Cells.Where(c => c.HasTag(NotebookParameters.InjectedTag)).ToList())
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
        IReadOnlyList<BoundParameter> bound = [];
        if (options.Parameters.Count > 0)
        {
            if (parametersCell is null)
                throw new NotebookParameterException($"{name}: -p given, but the notebook has no code cell tagged '{NotebookParameters.ParametersTag}'");
            bound = NotebookParameters.Bind(NotebookParameters.ReadDeclarations(parametersCell.Source), options.Parameters, name);
            int index = document.Cells.ToList().IndexOf(parametersCell);
            var injected = NotebookCell.NewCode(
                NotebookParameters.InjectedCellSource(bound),
                parametersCell.KernelName ?? KernelSession.CSharpKernelName,
                [NotebookParameters.InjectedTag],
                document.CellsHaveIds ? "injected-parameters" : null);
            document.InsertCellAfter(index, injected);
            cellNumbers[injected] = null;
        }
        return new NotebookRunState(document, bound, cellNumbers);
    }

    /// <summary>Runs a prepared notebook and writes the executed copy (and the report). Never throws for a failing cell.</summary>
    /// <remarks><paramref name="interrupt"/> (Ctrl+C) stops the running cell as a failure; the executed copy is still written.</remarks>
    public async Task<NotebookRunResult> RunAsync(NotebookRunState state, CancellationToken interrupt = default)
    {
        var document = state.Document;
        var started = DateTimeOffset.Now;
        var watch = Stopwatch.StartNew();
        foreach (var cell in document.Cells)
            cell.ResetExecution();

        var log = options.KernelLog ?? TextWriter.Null;
        log.WriteLine($"=== {document.Path} (started {started:O})");
        string previousDirectory = Directory.GetCurrentDirectory();
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
            // Relative #r and file paths resolve against the notebook's folder, as in VS Code.
            Directory.SetCurrentDirectory(Path.GetDirectoryName(document.Path)!);
            // The kernel captures Console while a cell runs; anything written outside a cell (a background
            // thread, a timed-out cell) goes to the kernel log, never between the CLI's own lines.
            var stray = TextWriter.Synchronized(new PrefixWriter(log, "console: "));
            Console.SetOut(stray);
            Console.SetError(stray);

            session = await KernelSession.StartAsync(log).ConfigureAwait(false);
            int executionCount = 0;
            bool stopped = false;
            foreach (var cell in document.Cells.Where(c => c.IsCode))
            {
                int? number = state.CellNumbers.GetValueOrDefault(cell);
                string firstLine = FirstLine(cell.Source);
                if (stopped)
                {
                    cell.Metadata["papermill"] = CellTiming(null, null, "pending", false);
                    results.Add(new CellResult(number, null, CellStatus.NotRun, TimeSpan.Zero, null, firstLine));
                    continue;
                }
                executionCount++;
                var cellStart = DateTimeOffset.Now;
                running = cell;
                var run = await session.RunCellAsync(cell.Source, executionCount, options.CellTimeout, interrupt).ConfigureAwait(false);
                running = null;
                cell.Json["outputs"] = run.Outputs;
                cell.Json["execution_count"] = executionCount;
                bool failed = run.Failure is not null;
                cell.Metadata["papermill"] = CellTiming(cellStart, cellStart + run.Elapsed, failed ? "failed" : "completed", failed);
                var cellResult = new CellResult(number, executionCount, failed ? CellStatus.Failed : CellStatus.Completed, run.Elapsed, run.Failure, firstLine);
                results.Add(cellResult);
                options.CellFinished?.Invoke(state, cellResult);
                stopped = failed;
            }
        }
        finally
        {
            AppDomain.CurrentDomain.ProcessExit -= onProcessExit;
            session?.Dispose();
            Console.SetOut(previousOut);
            Console.SetError(previousError);
            Directory.SetCurrentDirectory(previousDirectory);
            log.Flush();
        }

        var elapsed = watch.Elapsed;
        string outputPath = OutputPathFor(document.Path);
        RecordRun(state, started, elapsed, outputPath, results);
        AtomicFile.WriteAllText(outputPath, document.ToJson());
        var result = new NotebookRunResult(document.Path, outputPath, null, results, state.Parameters, elapsed);
        if (!options.HtmlReport)
            return result;
        result = result with { ReportPath = ReportPathFor(document.Path) };
        AtomicFile.WriteAllText(result.ReportPath!, HtmlReport.Render(document, result));
        return result;
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
            AtomicFile.WriteAllText(outputPath, document.ToJson());
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

    // Papermill-like metadata, so tools that read metadata.papermill.parameters (and people) see what ran.
    private void RecordRun(NotebookRunState state, DateTimeOffset started, TimeSpan elapsed, string outputPath, IReadOnlyList<CellResult> results)
    {
        var parameters = new JsonObject();
        foreach (var p in state.Parameters)
        {
            parameters[p.Name] = p.Value switch
            {
                string s => JsonValue.Create(s),
                int i => JsonValue.Create(i),
                long l => JsonValue.Create(l),
                double d when double.IsFinite(d) => JsonValue.Create(d),
                double d => JsonValue.Create(d.ToString(CultureInfo.InvariantCulture)),
                bool b => JsonValue.Create(b),
                _ => JsonValue.Create(p.Value.ToString()),
            };
        }
        var failed = results.FirstOrDefault(r => r.Status == CellStatus.Failed);
        state.Document.Metadata["papermill"] = new JsonObject
        {
            ["parameters"] = parameters,
            ["input_path"] = state.Document.Path,
            ["output_path"] = outputPath,
            ["start_time"] = started.ToString("O", CultureInfo.InvariantCulture),
            ["end_time"] = (started + elapsed).ToString("O", CultureInfo.InvariantCulture),
            ["duration"] = Math.Round(elapsed.TotalSeconds, 3),
            ["exception"] = failed is not null,
            ["runner"] = "nvgg run " + typeof(NotebookRunner).Assembly.GetName().Version?.ToString(3),
        };
    }

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
