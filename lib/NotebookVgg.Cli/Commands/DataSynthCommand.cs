using System.ComponentModel;
using NotebookVgg.Data;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NotebookVgg.Cli.Commands;

/// <summary><c>nvgg data synth</c>: write a synthetic CIFAR-10-shaped data set for offline runs.</summary>
internal sealed class DataSynthCommand : Command<DataSynthCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--out <DIR>")]
        [Description("Folder to write cifar-10-batches-bin/ into (required).")]
        public string? Out { get; init; }

        [CommandOption("--train <N>")]
        [Description("Train records, spread over the five batch files (default 50000).")]
        [DefaultValue(50_000)]
        public int Train { get; init; } = 50_000;

        [CommandOption("--test <N>")]
        [Description("Test records (default 10000).")]
        [DefaultValue(10_000)]
        public int Test { get; init; } = 10_000;

        [CommandOption("--seed <S>")]
        [Description("Seed: the same seed writes the same bytes (default 0).")]
        public int Seed { get; init; }

        public override ValidationResult Validate() =>
            string.IsNullOrWhiteSpace(Out) ? ValidationResult.Error("--out DIR is required")
            : Train < Cifar10.TrainFileNames.Count ? ValidationResult.Error($"--train {Train}: at least {Cifar10.TrainFileNames.Count} (one record per batch file)")
            : Test < 1 ? ValidationResult.Error($"--test {Test}: at least 1")
            : ValidationResult.Success();
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        string root = SyntheticCifar.Write(settings.Out!, settings.Train, settings.Test, settings.Seed, DataCommandHelpers.Say);
        AnsiConsole.MarkupLine(
            $"Wrote {settings.Train:N0} train and {settings.Test:N0} test records of [yellow]{Cifar10.SyntheticSourceName}[/] (seed {settings.Seed}) to [bold]{Path.Combine(root, Cifar10.FolderName).EscapeMarkup()}[/]");
        return 0;
    }
}
