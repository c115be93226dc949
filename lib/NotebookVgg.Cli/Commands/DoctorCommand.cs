using System.ComponentModel;
using NotebookVgg.IO;
using NotebookVgg.Runtime;
using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;

namespace NotebookVgg.Cli.Commands;

internal sealed class DoctorCommand : Command<DoctorCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--json")]
        [Description("Print the report as JSON.")]
        public bool Json { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
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
            throw new InvalidOperationException($"TorchSharp does not compute: {report.TorchError}");
        return 0;
    }
}
