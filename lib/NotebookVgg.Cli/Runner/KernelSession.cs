using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.Loader;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Commands;
using Microsoft.DotNet.Interactive.CSharp;
using Microsoft.DotNet.Interactive.Events;
using Microsoft.DotNet.Interactive.PackageManagement;

namespace NotebookVgg.Cli.Runner;

/// <summary>How a cell failed.</summary>
internal enum CellFailureKind
{
    CompilationError,
    Exception,
    Timeout,
    Interrupted,
}

/// <summary>A cell's failure: what the error output and the console line say.</summary>
internal sealed record CellFailure(CellFailureKind Kind, string Name, string Message, IReadOnlyList<string> Traceback)
{
    /// <summary>One line: "InvalidOperationException: boom".</summary>
    public string Summary => $"{Name}: {Message.ReplaceLineEndings(" ").Trim()}";
}

/// <summary>What running one cell produced: nbformat outputs (in order) and the failure, if any.</summary>
internal sealed record CellRun(JsonArray Outputs, CellFailure? Failure, TimeSpan Elapsed);

/// <summary>
/// A fresh in-process C# kernel for one notebook run: a CompositeKernel holding a CSharpKernel with
/// <c>#r "nuget:"</c>, the kernel helpers (display, ...) and value sharing, as the official kernel sets up.
/// Kernel extensions that packages ship (Plotly.NET.Interactive, Microsoft.Data.Analysis formatters) are
/// loaded when their package is added, because no public package API does that.
/// </summary>
internal sealed class KernelSession : IDisposable
{
    public const string CSharpKernelName = "csharp";

    private readonly CompositeKernel _kernel;
    private readonly TextWriter _log;
    private readonly IDisposable _subscription;
    private readonly HashSet<string> _loadedExtensionAssemblies = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    // Displayed values by id, across cells: an update replaces the data of the output it belongs to.
    private readonly Dictionary<string, JsonObject> _displaysById = new(StringComparer.Ordinal);
    private readonly List<JsonObject> _unclaimedDisplays = [];
    private JsonArray? _currentOutputs;
    private int _currentExecutionCount;
    private bool _abandoned;

    private KernelSession(TextWriter log)
    {
        _log = log;
        var csharp = new CSharpKernel().UseKernelHelpers().UseValueSharing();
        csharp.UseNugetDirective(OnPackagesResolvedAsync, forceRestore: false);
        _kernel = new CompositeKernel { DefaultKernelName = CSharpKernelName };
        _kernel.Add(csharp, ["c#", "C#"]);
        _subscription = _kernel.KernelEvents.Subscribe(new EventObserver(this));
    }

    /// <summary>
    /// Starts a kernel and warms it up (the first submission compiles for seconds), so that a cell's time and
    /// --timeout measure the cell. <paramref name="log"/> receives one line per kernel event (--kernel-log).
    /// </summary>
    public static async Task<KernelSession> StartAsync(TextWriter log)
    {
        var watch = Stopwatch.StartNew();
        var session = new KernelSession(log);
        var warmUp = await session._kernel.SendAsync(new SubmitCode("System.GC.KeepAlive(null);", CSharpKernelName)).ConfigureAwait(false);
        if (warmUp.Events.OfType<CommandFailed>().FirstOrDefault() is { } failed)
            throw new InvalidOperationException($"the C# kernel did not start: {failed.Message}");
        session.Log($"kernel started in {watch.Elapsed.TotalSeconds:F1} s");
        return session;
    }

    /// <summary>
    /// Runs one cell. A cell still running after <paramref name="timeout"/>, or when <paramref name="interrupt"/>
    /// fires (Ctrl+C), is cancelled and reported as failed; its thread cannot be aborted in .NET, so the session
    /// must not be used again (it is abandoned).
    /// </summary>
    public async Task<CellRun> RunCellAsync(string code, int executionCount, TimeSpan? timeout, CancellationToken interrupt = default)
    {
        ObjectDisposedException.ThrowIf(_abandoned, this);
        var outputs = new JsonArray();
        lock (_gate)
        {
            _currentOutputs = outputs;
            _currentExecutionCount = executionCount;
        }
        var watch = Stopwatch.StartNew();
        var submit = new SubmitCode(code, CSharpKernelName);
        var send = _kernel.SendAsync(submit);
        CellFailure? failure = null;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(interrupt);
        if (timeout is { } limit)
            stop.CancelAfter(limit);
        var stopped = Task.Delay(Timeout.Infinite, stop.Token);
        if (await Task.WhenAny(send, stopped).ConfigureAwait(false) != send)
        {
            _abandoned = true;
            // Ask the kernel to cancel; a cell that ignores cancellation (a loop, a blocking call) keeps its thread.
            var cancel = _kernel.SendAsync(new Cancel());
            await Task.WhenAny(cancel, Task.Delay(TimeSpan.FromSeconds(2))).ConfigureAwait(false);
            if (interrupt.IsCancellationRequested)
            {
                failure = new CellFailure(CellFailureKind.Interrupted, "OperationCanceledException", "the run was interrupted (Ctrl+C) while this cell ran", []);
            }
            else
            {
                string seconds = timeout!.Value.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
                failure = new CellFailure(CellFailureKind.Timeout, "TimeoutException",
                    $"the cell did not finish within {seconds} s (--timeout) and was stopped", []);
            }
        }
        else
        {
            var result = await send.ConfigureAwait(false);
            var failed = result.Events.OfType<CommandFailed>().FirstOrDefault(f => f.Command == submit)
                         ?? result.Events.OfType<CommandFailed>().FirstOrDefault();
            if (failed is not null)
                failure = ToFailure(failed);
        }
        var elapsed = watch.Elapsed;
        lock (_gate)
        {
            _currentOutputs = null;
            if (failure is not null)
                outputs.Add(ErrorOutput(failure));
        }
        Log($"cell [{executionCount}] {(failure is null ? "ok" : "failed: " + failure.Summary)} in {elapsed.TotalSeconds:F2} s");
        return new CellRun(outputs, failure, elapsed);
    }

    /// <summary>
    /// Receives a running cell's output as it arrives, besides the notebook: ("stdout" | "stderr", text) for streams,
    /// ("result", plain text) for displayed and returned values (--log-output).
    /// </summary>
    public Action<string, string>? OutputProduced { get; set; }

    public void Dispose()
    {
        _subscription.Dispose();
        if (_abandoned)
            return; // a cell is still running on its thread; disposing the kernel under it could block.
        _kernel.Dispose();
    }

    // Loads the assemblies of resolved packages, then the kernel extensions they ship in interactive-extensions/dotnet/.
    private async Task OnPackagesResolvedAsync(CSharpKernel kernel, IReadOnlyList<ResolvedPackageReference> packages)
    {
        kernel.AddAssemblyReferences(packages.SelectMany(p => p.AssemblyPaths));
        foreach (var package in packages)
        {
            Log($"package {package.PackageName} {package.PackageVersion} ({package.PackageRoot})");
            string extensionDir = Path.Combine(package.PackageRoot, "interactive-extensions", "dotnet");
            if (!Directory.Exists(extensionDir))
                continue;
            foreach (string dll in Directory.GetFiles(extensionDir, "*.dll").Order(StringComparer.Ordinal))
                await LoadExtensionAsync(dll, kernel.RootKernel).ConfigureAwait(false);
        }
    }

    private async Task LoadExtensionAsync(string dll, Kernel kernel)
    {
        if (!_loadedExtensionAssemblies.Add(Path.GetFileName(dll)))
            return;
        Assembly assembly = AssemblyLoadContext.Default.LoadFromAssemblyPath(dll);
        foreach (var type in assembly.GetExportedTypes().Where(t => typeof(IKernelExtension).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false }))
        {
            var extension = (IKernelExtension)Activator.CreateInstance(type)!;
            await extension.OnLoadAsync(kernel).ConfigureAwait(false);
            Log($"kernel extension {type.FullName} loaded from {dll}");
        }
    }

    private void OnEvent(KernelEvent e)
    {
        lock (_gate)
        {
            Log($"[{_currentExecutionCount}] {Describe(e)}");
            var outputs = _currentOutputs;
            if (outputs is not null && OutputProduced is { } onOutput)
                TellOutput(onOutput, e);
            switch (e)
            {
                case StandardOutputValueProduced stdout when outputs is not null:
                    AppendStream(outputs, "stdout", PlainText(stdout));
                    break;
                case StandardErrorValueProduced stderr when outputs is not null:
                    AppendStream(outputs, "stderr", PlainText(stderr));
                    break;
                case ErrorProduced error when outputs is not null:
                    AppendStream(outputs, "stderr", error.Message + "\n");
                    break;
                case ReturnValueProduced value when outputs is not null:
                    outputs.Add(new JsonObject
                    {
                        ["output_type"] = "execute_result",
                        ["data"] = MimeBundle(value),
                        ["execution_count"] = _currentExecutionCount,
                        ["metadata"] = new JsonObject(),
                    });
                    break;
                case DisplayedValueUpdated update when update.ValueId is { } id && FindUpdatedDisplay(id, outputs) is { } shown:
                    shown["data"] = MimeBundle(update);
                    break;
                case DisplayedValueProduced or DisplayedValueUpdated when outputs is not null:
                    var display = (DisplayEvent)e;
                    var output = new JsonObject
                    {
                        ["output_type"] = "display_data",
                        ["data"] = MimeBundle(display),
                        ["metadata"] = new JsonObject(),
                    };
                    if (display.ValueId is { } valueId)
                        _displaysById[valueId] = output;
                    if (e is DisplayedValueProduced)
                        _unclaimedDisplays.Add(output);
                    outputs.Add(output);
                    break;
            }
        }
    }

    private static void TellOutput(Action<string, string> onOutput, KernelEvent e)
    {
        try
        {
            switch (e)
            {
                case StandardOutputValueProduced stdout:
                    onOutput("stdout", PlainText(stdout));
                    break;
                case StandardErrorValueProduced stderr:
                    onOutput("stderr", PlainText(stderr));
                    break;
                case ErrorProduced error:
                    onOutput("stderr", error.Message + "\n");
                    break;
                case ReturnValueProduced or DisplayedValueProduced:
                    if (((DisplayEvent)e).FormattedValues.FirstOrDefault(f => f.MimeType == "text/plain") is { } plain)
                        onOutput("result", plain.Value + "\n");
                    break;
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // The console went away: the notebook still gets the output.
        }
    }

    // The display() helper's DisplayedValue updates under an id other than the one its first display carried
    // (seen with 1.0.0-beta.26120.1), so an update with an unknown id goes to the latest display that no other id has
    // claimed: the usual "var d = display(x); d.Update(y);" pattern.
    private JsonObject? FindUpdatedDisplay(string id, JsonArray? currentOutputs)
    {
        if (_displaysById.TryGetValue(id, out var known))
        {
            _unclaimedDisplays.Remove(known);
            return known;
        }
        // The current cell first; else the latest unclaimed display of an earlier cell: a live chart shown in one cell
        // ("var view = display(chart);") and updated by the next one, which is what Jupyter shows too.
        var latest = _unclaimedDisplays.LastOrDefault(o => currentOutputs is not null && currentOutputs.Contains(o))
            ?? _unclaimedDisplays.LastOrDefault();
        if (latest is null)
            return null;
        _unclaimedDisplays.Remove(latest);
        _displaysById[id] = latest;
        return latest;
    }

    private static void AppendStream(JsonArray outputs, string name, string text)
    {
        // Consecutive writes to one stream form one output, as in Jupyter.
        if (outputs.Count > 0 && outputs[^1] is JsonObject last
            && last["output_type"]?.GetValue<string>() == "stream" && last["name"]?.GetValue<string>() == name)
        {
            last["text"] = NotebookDocument.ToLines(NotebookDocument.JoinText(last["text"]) + text);
            return;
        }
        outputs.Add(new JsonObject { ["output_type"] = "stream", ["name"] = name, ["text"] = NotebookDocument.ToLines(text) });
    }

    private static string PlainText(DisplayEvent e) =>
        e.FormattedValues.FirstOrDefault(f => f.MimeType == "text/plain")?.Value ?? e.FormattedValues.FirstOrDefault()?.Value ?? "";

    private static JsonObject MimeBundle(DisplayEvent e)
    {
        var data = new JsonObject();
        foreach (var value in e.FormattedValues)
        {
            // nbformat: JSON mime types hold JSON, the others text (as a list of lines).
            if (value.MimeType.EndsWith("json", StringComparison.Ordinal) && TryParseJson(value.Value) is { } json)
                data[value.MimeType] = json;
            else if (value.MimeType.StartsWith("image/", StringComparison.Ordinal) && value.MimeType != "image/svg+xml")
                data[value.MimeType] = value.Value; // base64: one string
            else
                data[value.MimeType] = NotebookDocument.ToLines(value.Value);
        }
        return data;
    }

    private static JsonNode? TryParseJson(string text)
    {
        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static CellFailure ToFailure(CommandFailed failed)
    {
        if (failed.Exception is CodeSubmissionCompilationErrorException)
            return new CellFailure(CellFailureKind.CompilationError, "CompilationError", failed.Message, failed.Message.Split('\n'));
        if (failed.Exception is { } ex)
            return new CellFailure(CellFailureKind.Exception, ex.GetType().Name, ex.Message, ex.ToString().Split('\n'));
        return new CellFailure(CellFailureKind.Exception, "Error", failed.Message, failed.Message.Split('\n'));
    }

    private static JsonObject ErrorOutput(CellFailure failure) => new()
    {
        ["output_type"] = "error",
        ["ename"] = failure.Name,
        ["evalue"] = failure.Message,
        ["traceback"] = new JsonArray(failure.Traceback.Select(line => (JsonNode)JsonValue.Create(line.TrimEnd('\r'))).ToArray()),
    };

    private static string Describe(KernelEvent e)
    {
        string detail = e switch
        {
            DisplayEvent d => $"id={d.ValueId} " + string.Join(", ", d.FormattedValues.Select(f => $"{f.MimeType}:{Shorten(f.Value)}")),
            CommandFailed f => Shorten(f.Message),
            PackageAdded p => $"{p.PackageReference.PackageName} {p.PackageReference.PackageVersion}",
            _ => "",
        };
        return $"{e.GetType().Name} {detail}".TrimEnd();
    }

    private static string Shorten(string text)
    {
        text = text.ReplaceLineEndings(" ");
        return text.Length <= 200 ? text : text[..200] + "...";
    }

    private void Log(string line)
    {
        lock (_log)
            _log.WriteLine($"{DateTime.Now:HH:mm:ss.fff} {line}");
    }

    private sealed class EventObserver(KernelSession session) : IObserver<KernelEvent>
    {
        public void OnCompleted() { }

        public void OnError(Exception error) => session.Log($"kernel event stream failed: {error.Message}");

        public void OnNext(KernelEvent value) => session.OnEvent(value);
    }
}
