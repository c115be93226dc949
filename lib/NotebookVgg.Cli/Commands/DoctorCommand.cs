using System.ComponentModel;
using NotebookVgg.Runtime;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NotebookVgg.Cli.Commands;

/// <summary><c>nvgg doctor</c>: reports, and changes nothing; <c>--fix</c> applies the native-runtime fix where it is needed.</summary>
internal sealed class DoctorCommand : Command<DoctorCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--json")]
        [Description("Print the report as JSON.")]
        public bool Json { get; init; }

        [CommandOption("--verbose")]
        [Description("When TorchSharp does not load, show the whole error (TorchSharp's native-load trace) instead of its cause.")]
        public bool Verbose { get; init; }

        [CommandOption("--fix")]
        [Description("Where this system's libstdc++ is too old for TorchSharp (Debian 12, Ubuntu 22.04), write a patched copy of " +
            "libLibTorchSharp.so to ~/.cache/notebookvgg/native (or $NOTEBOOKVGG_NATIVE) and say so; the NuGet cache is never changed.")]
        public bool Fix { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (settings.Fix)
        {
            var changes = NativeRuntime.ApplyFix();
            if (changes.Count > 0)
            {
                // The fix takes effect in a new process (this one already chose what to load): report from one.
                foreach (string line in changes)
                    Console.Error.WriteLine("nvgg doctor --fix: " + line);
                return ReportInNewProcess(settings);
            }
            // Nothing to write because another nvgg doctor --fix wrote the copy after this process chose what to load (two at
            // once): it takes effect in a new process here too.
            if (NativeRuntime.Status is { FixNeeded: true, FixActive: false } && File.Exists(NativeRuntime.FixedCopy))
                return ReportInNewProcess(settings);
        }
        // A TorchSharp that cannot load prints its whole native-load trace to the console: kept for --verbose.
        var (report, trace) = CollectQuietly();
        if (settings.Json)
        {
            JsonOutput.Write(report);
            return report.TorchWorks ? 0 : NvggApp.Failure;
        }
        bool fixMissing = report.NativeRuntime is { FixNeeded: true, FixActive: false };
        string cause = fixMissing
            ? $"TorchSharp's native library needs {NativeRuntime.MarkerVersion}, which this system's libstdc++ lacks (Debian 12, Ubuntu 22.04)"
            : FirstSentence(report.TorchError ?? "");
        var table = new Table().AddColumn("check").AddColumn("value").Border(TableBorder.Rounded);
        foreach (var (name, value) in report.Lines())
        {
            // TorchSharp's native-load error lists every path it tried (60 lines in one cell): its cause here, the whole of it with --verbose.
            string shown = name == "computes" && !report.TorchWorks && !settings.Verbose ? $"NO: {cause}" : value;
            table.AddRow(Markup.Escape(name), Markup.Escape(shown));
        }
        AnsiConsole.Write(table);
        if (!report.TorchWorks)
        {
            if (settings.Verbose)
                Console.Error.WriteLine($"nvgg doctor: TorchSharp's native-load trace:\n{trace.TrimEnd()}\nnvgg doctor: TorchSharp's error: {report.TorchError}");
            throw new InvalidOperationException(fixMissing
                ? $"TorchSharp does not load: {cause}; fix it with: ./nvgg doctor --fix (writes a patched copy to {NativeRuntime.FixDirectory}, changes nothing else)"
                : $"TorchSharp does not compute: {cause}" + (settings.Verbose ? "" : " (nvgg doctor --verbose shows the whole error)"));
        }
        return 0;
    }

    private static (EnvironmentReport Report, string Trace) CollectQuietly()
    {
        var (previousOut, previousError) = (Console.Out, Console.Error);
        using var trace = new StringWriter();
        Console.SetOut(trace);
        Console.SetError(trace);
        try
        {
            return (EnvironmentReport.Collect(), trace.ToString());
        }
        finally
        {
            Console.SetOut(previousOut);
            Console.SetError(previousError);
        }
    }

    // The error's first sentence, at most 200 characters: TorchSharp's load errors go on with every path tried.
    private static string FirstSentence(string error)
    {
        string first = error.ReplaceLineEndings(" ").Trim();
        int end = first.IndexOf(". ", StringComparison.Ordinal);
        if (end > 0)
            first = first[..end];
        return first.Length <= 200 ? first : first[..197] + "...";
    }

    private static int ReportInNewProcess(Settings settings)
    {
        var start = NvggProcess.StartInfo(settings.Json ? ["doctor", "--json"] : ["doctor"]);
        using var child = System.Diagnostics.Process.Start(start)!;
        child.WaitForExit();
        return child.ExitCode;
    }
}
