using System.ComponentModel;
using System.Globalization;
using NotebookVgg.Weights;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NotebookVgg.Cli.Commands;

/// <summary><c>nvgg weights list</c>: the weights registry and what is already in the cache.</summary>
internal sealed class WeightsListCommand : Command<WeightsListCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--dir <DIR>")]
        [Description("Weights cache folder (default: $NOTEBOOKVGG_WEIGHTS, else <data>/weights).")]
        public string? Directory { get; init; }

        [CommandOption("--json")]
        [Description("Print the registry as JSON.")]
        public bool Json { get; init; }
    }

    internal sealed record Entry(string Name, string Architecture, string Url, string FileName, string Sha256, bool Sha256IsPrefix, long? Bytes,
        WeightsFormat? Format, double Top1, double Top5, long Parameters, int Categories, float[] Mean, float[] Std, int InputSize, string CachePath, bool Cached);

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var entries = PretrainedWeights.All.Select(w =>
        {
            string path = WeightsStore.PathFor(w, settings.Directory);
            return new Entry(w.Name, w.Architecture, w.Url.ToString(), w.FileName, w.Sha256, w.Sha256IsPrefix, w.Bytes, w.Format, w.Top1, w.Top5,
                w.Parameters, w.Categories.Count, w.Preprocessing.Mean, w.Preprocessing.Std, w.Preprocessing.InputSize, path, File.Exists(path));
        }).ToList();
        if (settings.Json)
        {
            JsonOutput.Write(entries);
            return 0;
        }
        var c = CultureInfo.InvariantCulture;
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumn("name").AddColumn("top-1 %").AddColumn("top-5 %").AddColumn("parameters").AddColumn("file").AddColumn("cached");
        foreach (var e in entries)
        {
            table.AddRow(e.Name, e.Top1.ToString("0.000", c), e.Top5.ToString("0.000", c), e.Parameters.ToString("N0", c),
                Markup.Escape(e.FileName), e.Cached ? "yes" : "");
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"from https://download.pytorch.org/models/ (ImageNet-1K accuracy as published by torchvision); cache: {Markup.Escape(Path.GetDirectoryName(entries[0].CachePath)!)}");
        return 0;
    }
}
