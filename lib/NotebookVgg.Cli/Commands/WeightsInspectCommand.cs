using System.ComponentModel;
using System.Globalization;
using NotebookVgg.Weights;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NotebookVgg.Cli.Commands;

/// <summary><c>nvgg weights inspect FILE</c>: what a weights file holds, format detected from its bytes.</summary>
internal sealed class WeightsInspectCommand : Command<WeightsInspectCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<FILE>")]
        [Description("Weights file: PyTorch legacy or zip (.pth/.pt, also checkpoint dicts), safetensors, or TorchSharp.")]
        public string File { get; init; } = "";

        [CommandOption("--json")]
        [Description("Print the report as JSON.")]
        public bool Json { get; init; }
    }

    internal sealed record TensorInfo(string Name, long[] Shape, string Dtype, long Elements);

    internal sealed record Report(string File, WeightsFormat Format, string? CheckpointKey, int Tensors, long Parameters, long Elements, long? HeadClasses, IReadOnlyList<TensorInfo> Keys);

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        using var sd = StateDict.Read(settings.File);
        var report = new Report(sd.Source, sd.Format, sd.CheckpointKey, sd.Count, sd.ParameterCount, sd.ElementCount, WeightLoader.HeadClasses(sd),
            sd.Entries.Select(e => new TensorInfo(e.Key, e.Value.shape, e.Value.dtype.ToString(), e.Value.numel())).ToList());
        if (settings.Json)
        {
            JsonOutput.Write(report);
            return 0;
        }
        var c = CultureInfo.InvariantCulture;
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(report.File)}[/]");
        AnsiConsole.MarkupLine($"format: {report.Format}{(report.CheckpointKey is { } k ? $" (checkpoint dict, state dict under '{Markup.Escape(k)}')" : "")}");
        AnsiConsole.MarkupLine(string.Create(c, $"tensors: {report.Tensors}, parameters: {report.Parameters:N0} (all elements: {report.Elements:N0})"));
        var table = new Table().Border(TableBorder.Rounded).AddColumn("key").AddColumn("shape").AddColumn("dtype");
        foreach (var t in report.Keys)
            table.AddRow(Markup.Escape(t.Name), Markup.Escape("[" + string.Join(", ", t.Shape) + "]"), t.Dtype);
        AnsiConsole.Write(table);
        return 0;
    }
}
