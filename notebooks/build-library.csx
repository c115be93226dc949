// Loaded by each notebook's setup cell (#load "build-library.csx"), before the cell #r's the NotebookVgg library:
// builds the library (with nvgg, whose `doctor --fix` makes TorchSharp loadable on Debian 12 / Ubuntu 22.04) when it is
// missing or older than its sources, so that Run All works on a fresh clone in VS Code or Jupyter, on Linux, macOS and
// Windows. It prints the build's progress, says after a rebuild whether the kernel must be restarted, and otherwise
// stops with one line saying what to run. NOTEBOOKVGG_NO_BUILD=1: never build, only say what to run.
#nullable enable
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;

static class NotebookVggBuild
{
    /// <summary>The one line a stopped setup cell shows: the kernel prints an exception's ToString, here just its message.</summary>
    public sealed class SetupStopped(string message) : Exception(message)
    {
        public override string ToString() => Message;

        public override string? StackTrace => null;
    }

    public static void EnsureLibrary()
    {
        // nvgg run's in-process kernel already holds nvgg's own NotebookVgg: nothing to build or reload.
        if (Environment.GetEnvironmentVariable("NOTEBOOKVGG_RUNNER") is { Length: > 0 })
            return;
        string root = FindRoot()
            ?? throw new SetupStopped($"NotebookVgg: no NotebookVgg.sln above {Directory.GetCurrentDirectory()}: open the notebook " +
                "from a NotebookVgg checkout (the kernel's working folder must be its notebooks/ folder)");
        string cli = Path.Combine(root, "lib", "NotebookVgg.Cli");
        string nvgg = Path.Combine(cli, "bin", "Release", "net10.0", "nvgg.dll");
        string library = Path.Combine(root, "lib", "NotebookVgg", "bin", "Release", "net10.0", "NotebookVgg.dll");
        string? why = !File.Exists(library) || !File.Exists(nvgg) ? "it is not built yet"
            : NewestSource(root, File.GetLastWriteTimeUtc(nvgg)) is { } changed ? $"{Path.GetRelativePath(root, changed)} changed since the last build"
            : null;
        if (why is null)
            return;
        string command = $"dotnet build \"{cli}\" -c Release";
        if (Environment.GetEnvironmentVariable("NOTEBOOKVGG_NO_BUILD") is "1" or "true")
            throw new SetupStopped($"NotebookVgg: {why}; run `{command}` and `dotnet \"{nvgg}\" doctor --fix`, then restart the kernel");
        string dotnet = FindDotnet()
            ?? throw new SetupStopped($"NotebookVgg: {why}, and no .NET SDK was found to build it: install the .NET 10 SDK, then run `{command}`");
        bool loaded = AppDomain.CurrentDomain.GetAssemblies().Any(a => a.GetName().Name == "NotebookVgg");

        Console.WriteLine($"NotebookVgg: {why}; building it (a minute or two the first time): {command}");
        var clock = Stopwatch.StartNew();
        int code = Run(dotnet, ["build", cli, "-c", "Release", "-nologo", "-v", "minimal", "-clp:NoSummary"], echo: true);
        if (code != 0)
            throw new SetupStopped($"NotebookVgg did not build (exit code {code}, output above): fix what it reports, then run `{command}`");
        // Where the system's libstdc++ is too old for TorchSharp, nvgg writes its patched copy (a no-op elsewhere).
        code = Run(dotnet, [nvgg, "doctor", "--fix"], echo: false);
        if (code != 0)
            throw new SetupStopped($"NotebookVgg built, but `dotnet \"{nvgg}\" doctor --fix` failed (exit code {code}): run `dotnet \"{nvgg}\" doctor` to see why");
        if (loaded)
            throw new SetupStopped($"NotebookVgg: rebuilt in {clock.Elapsed.TotalSeconds:F0} s, but this kernel still holds the one it " +
                "loaded before: restart the kernel, then run the notebook again");
        Console.WriteLine($"NotebookVgg: built in {clock.Elapsed.TotalSeconds:F0} s; this kernel had not loaded it yet, so no restart is needed.");
    }

    private static string? FindRoot()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "NotebookVgg.sln")))
                return dir.FullName;
        }
        return null;
    }

    // The first source of the library or nvgg (or a build setting) written after the last build; null when none was.
    private static string? NewestSource(string root, DateTime built)
    {
        string[] settings = ["Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", "global.json"];
        foreach (string file in settings.Select(f => Path.Combine(root, f)).Where(File.Exists))
        {
            if (File.GetLastWriteTimeUtc(file) > built)
                return file;
        }
        string[] kinds = [".cs", ".csproj", ".props", ".targets", ".json", ".js", ".txt"];
        foreach (string project in new[] { "NotebookVgg", "NotebookVgg.Cli" })
        {
            var sources = Directory.EnumerateFiles(Path.Combine(root, "lib", project), "*", SearchOption.AllDirectories)
                .Where(f => kinds.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
                .Where(f => !f.Split(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar).Any(p => p is "bin" or "obj"));
            if (sources.FirstOrDefault(f => File.GetLastWriteTimeUtc(f) > built) is { } changed)
                return changed;
        }
        return null;
    }

    // The dotnet that runs this kernel, else the one on PATH: the SDK that builds the library.
    private static string? FindDotnet()
    {
        string exe = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        var candidates = new List<string?>
        {
            Environment.GetEnvironmentVariable("DOTNET_HOST_PATH"),
            // <root>/shared/Microsoft.NETCore.App/<version>/ holds this runtime's System.Private.CoreLib.
            Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "..", "..", "..", exe),
            Environment.GetEnvironmentVariable("DOTNET_ROOT") is { } dotnetRoot ? Path.Combine(dotnetRoot, exe) : null,
        };
        candidates.AddRange((Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Select(p => Path.Combine(p, exe)));
        return candidates.Where(c => !string.IsNullOrEmpty(c) && File.Exists(c))
            .Select(c => Path.GetFullPath(c!))
            .FirstOrDefault(c => Directory.Exists(Path.Combine(Path.GetDirectoryName(c)!, "sdk")));
    }

    // Runs a command to its end; its output goes to the cell line by line as it comes (echo) or only when it fails.
    private static int Run(string program, string[] args, bool echo)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in args)
            start.ArgumentList.Add(arg);
        // The kernel's own MSBuild and SDK settings (a tool's environment) must not leak into this build.
        foreach (string name in new[] { "MSBuildExtensionsPath", "MSBuildSDKsPath", "MSBUILD_EXE_PATH" })
            start.Environment.Remove(name);
        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync();
        var kept = new List<string>();
        while (process.StandardOutput.ReadLine() is { } line)
        {
            if (echo)
                Console.WriteLine(line);
            else
                kept.Add(line);
        }
        process.WaitForExit();
        string stderr = errors.Result;
        if (process.ExitCode != 0 || echo)
        {
            foreach (string line in (echo ? [] : kept).Concat(stderr.Split('\n')).Where(l => l.Trim().Length > 0))
                Console.WriteLine(line.TrimEnd('\r'));
        }
        else
        {
            // doctor --fix says what it wrote (and how to undo it) on stderr: worth showing.
            foreach (string line in stderr.Split('\n').Where(l => l.Trim().Length > 0))
                Console.WriteLine(line.TrimEnd('\r'));
        }
        return process.ExitCode;
    }
}

NotebookVggBuild.EnsureLibrary();
