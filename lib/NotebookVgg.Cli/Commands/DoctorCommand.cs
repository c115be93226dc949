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
        }
        var report = EnvironmentReport.Collect();
        if (settings.Json)
        {
            JsonOutput.Write(report);
            return report.TorchWorks ? 0 : NvggApp.Failure;
        }
        var table = new Table().AddColumn("check").AddColumn("value").Border(TableBorder.Rounded);
        foreach (var (name, value) in report.Lines())
            table.AddRow(Markup.Escape(name), Markup.Escape(value));
        AnsiConsole.Write(table);
        if (!report.TorchWorks)
        {
            throw new InvalidOperationException(report.NativeRuntime is { FixNeeded: true, FixActive: false }
                ? $"TorchSharp does not load: its native library needs {NativeRuntime.MarkerVersion}; run ./nvgg doctor --fix"
                : $"TorchSharp does not compute: {report.TorchError}");
        }
        return 0;
    }

    private static int ReportInNewProcess(Settings settings)
    {
        var start = NvggProcess.StartInfo(settings.Json ? ["doctor", "--json"] : ["doctor"]);
        using var child = System.Diagnostics.Process.Start(start)!;
        child.WaitForExit();
        return child.ExitCode;
    }
}
