using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using NotebookVgg.Data;
using NotebookVgg.IO;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NotebookVgg.Cli.Commands;

/// <summary><c>nvgg data summary</c>: counts per split and class, and per-channel statistics of the train pixels.</summary>
internal sealed class DataSummaryCommand : Command<DataSummaryCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--data <DIR>")]
        [Description("Folder holding cifar-10-batches-bin/ (or that folder itself); default: the data folder.")]
        public string? Data { get; init; }

        [CommandOption("--json")]
        [Description("Print the summary as JSON.")]
        public bool Json { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        using var dataset = Cifar10.Load(ProjectPaths.DataDirectory(settings.Data));
        double loadSeconds = clock.Elapsed.TotalSeconds;
        var summary = DatasetSummary.Compute(dataset);
        if (settings.Json)
        {
            JsonOutput.Write(summary);
            return 0;
        }

        var c = CultureInfo.InvariantCulture;
        string source = summary.IsSynthetic ? $"[yellow]{summary.Source.EscapeMarkup()}[/]" : $"[bold]{summary.Source.EscapeMarkup()}[/]";
        AnsiConsole.MarkupLine($"{source} in {summary.Directory.EscapeMarkup()}");
        AnsiConsole.MarkupLine(
            $"[grey]loaded {summary.Train.Count + summary.Test.Count:N0} images in {loadSeconds.ToString("0.000", c)} s[/]");

        var counts = new Table().Border(TableBorder.Rounded).AddColumn("label").AddColumn("class")
            .AddColumn(new TableColumn(summary.Train.Name).RightAligned()).AddColumn(new TableColumn(summary.Test.Name).RightAligned());
        for (int k = 0; k < summary.ClassNames.Count; k++)
            counts.AddRow(k.ToString(c), summary.ClassNames[k].EscapeMarkup(), summary.Train.CountPerClass[k].ToString("N0", c), summary.Test.CountPerClass[k].ToString("N0", c));
        counts.AddRow("", "[bold]total[/]", $"[bold]{summary.Train.Count.ToString("N0", c)}[/]", $"[bold]{summary.Test.Count.ToString("N0", c)}[/]");
        AnsiConsole.Write(counts);

        var pixels = new Table().Border(TableBorder.Rounded).Title("train pixels in [[0,1]]")
            .AddColumn("channel").AddColumn(new TableColumn("mean").RightAligned()).AddColumn(new TableColumn("std").RightAligned());
        string[] channels = ["R", "G", "B"];
        for (int ch = 0; ch < 3; ch++)
            pixels.AddRow(channels[ch], summary.TrainChannelMean[ch].ToString("0.0000", c), summary.TrainChannelStd[ch].ToString("0.0000", c));
        AnsiConsole.Write(pixels);
        return 0;
    }
}
