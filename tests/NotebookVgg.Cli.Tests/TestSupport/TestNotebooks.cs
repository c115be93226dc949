using System.Diagnostics;
using System.Text.Json.Nodes;
using NotebookVgg.Tests.TestSupport;

// Each notebook run changes the process's working directory and Console; tests run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace NotebookVgg.Cli.Tests.TestSupport;

/// <summary>The purpose-written notebooks under Notebooks/, copied into a temporary folder per test.</summary>
internal static class TestNotebooks
{
    public static string SourceFolder { get; } = RepoFiles.Path("tests", "NotebookVgg.Cli.Tests", "Runner");

    /// <summary>Copies notebook <paramref name="name"/> (e.g. "throws.ipynb") into <paramref name="folder"/> and returns its path.</summary>
    public static string CopyTo(TempDirectory folder, string name)
    {
        string source = Path.Combine(SourceFolder, name);
        if (!File.Exists(source))
            throw new FileNotFoundException($"test notebook missing: {source}", source);
        string target = folder.Combine(name);
        File.Copy(source, target, overwrite: true);
        return target;
    }

    public static JsonObject ReadJson(string path) => (JsonObject)JsonNode.Parse(File.ReadAllText(path))!;

    public static JsonArray Cells(JsonObject notebook) => (JsonArray)notebook["cells"]!;

    public static JsonObject CodeCell(JsonObject notebook, int index) =>
        Cells(notebook).OfType<JsonObject>().Where(c => (string?)c["cell_type"] == "code").ElementAt(index);

    public static string Text(JsonNode? node) => node switch
    {
        JsonArray lines => string.Concat(lines.Select(l => (string?)l)),
        JsonValue v => (string?)v ?? "",
        _ => "",
    };

    /// <summary>All stream text of one stream ("stdout" or "stderr") in a cell.</summary>
    public static string StreamText(JsonObject cell, string name) =>
        string.Concat(((JsonArray)cell["outputs"]!).OfType<JsonObject>()
            .Where(o => (string?)o["output_type"] == "stream" && (string?)o["name"] == name)
            .Select(o => Text(o["text"])));

    public static IReadOnlyList<string> Tags(JsonObject cell) =>
        cell["metadata"]?["tags"] is JsonArray tags ? tags.Select(t => (string?)t ?? "").ToList() : [];
}

/// <summary>Runs the built CLI (nvgg.dll of this configuration) as a person would, in its own process.</summary>
internal static class Nvgg
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static string DllPath
    {
        get
        {
            string configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Debug" : "Release";
            string path = RepoFiles.Path("lib", "NotebookVgg.Cli", "bin", configuration, "net10.0", "nvgg.dll");
            if (!File.Exists(path))
                throw new FileNotFoundException($"{path}: build the CLI first (dotnet build NotebookVgg.sln -c {configuration})", path);
            return path;
        }
    }

    public static Result Run(string workingDirectory, params string[] args) => RunAndInterrupt(workingDirectory, interruptWhenStdoutHas: null, args);

    /// <summary>Runs nvgg with extra environment variables and its own time limit.</summary>
    public static Result RunWith(string workingDirectory, IReadOnlyDictionary<string, string> environment, TimeSpan limit, params string[] args) =>
        RunAndInterrupt(workingDirectory, null, args, environment, limit);

    /// <summary>Runs nvgg; once stdout contains <paramref name="interruptWhenStdoutHas"/>, sends it SIGINT (Ctrl+C).</summary>
    public static Result RunAndInterrupt(string workingDirectory, string? interruptWhenStdoutHas, params string[] args) =>
        RunAndInterrupt(workingDirectory, interruptWhenStdoutHas, args, null, TimeSpan.FromMinutes(3));

    private static Result RunAndInterrupt(string workingDirectory, string? interruptWhenStdoutHas, string[] args,
        IReadOnlyDictionary<string, string>? environment, TimeSpan limit)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(DllPath);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            start.Environment[name] = value;
        foreach (string arg in args)
            start.ArgumentList.Add(arg);
        if (interruptWhenStdoutHas is not null)
            RestoreDefaultSigint();
        using var process = Process.Start(start)!;
        var stdoutText = new System.Text.StringBuilder();
        var stdout = Task.Run(async () =>
        {
            bool interrupted = false;
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                lock (stdoutText)
                    stdoutText.AppendLine(line);
                if (!interrupted && interruptWhenStdoutHas is not null && line.Contains(interruptWhenStdoutHas, StringComparison.Ordinal))
                {
                    interrupted = true;
                    using var kill = Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
                    await kill.WaitForExitAsync();
                }
            }
            lock (stdoutText)
                return stdoutText.ToString();
        });
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            string printed;
            lock (stdoutText)
                printed = stdoutText.ToString();
            // What it printed says where it hung.
            throw new TimeoutException($"nvgg {string.Join(' ', args)} did not finish within {limit.TotalMinutes:F0} minutes; " +
                $"stdout: {Tail(printed)}; stderr: {Tail(stderr.IsCompleted ? stderr.Result : "")}");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    private static string Tail(string text) => text.Length <= 2000 ? text : "…" + text[^2000..];

    /// <summary>
    /// A process started in the background without job control (nohup, "cmd &amp;" in a script, some CI runners) inherits
    /// SIGINT as ignored, and .NET keeps an ignored SIGINT ignored: the child would never see the Ctrl+C this test sends.
    /// Restore the default disposition here, so the child inherits it as a terminal's foreground process would.
    /// </summary>
    private static void RestoreDefaultSigint()
    {
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
            _ = Signal(2 /* SIGINT */, IntPtr.Zero /* SIG_DFL */);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "signal")]
    private static extern IntPtr Signal(int signal, IntPtr handler);
}
