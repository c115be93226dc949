using System.ComponentModel;
using NotebookVgg.Data;
using NotebookVgg.IO;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NotebookVgg.Cli.Commands;

/// <summary><c>nvgg data extract ARCHIVE</c>: extract a CIFAR-10 binary archive placed by hand (or the shared sample).</summary>
internal sealed class DataExtractCommand : AsyncCommand<DataExtractCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<ARCHIVE>")]
        [Description("A cifar-10-binary.tar.gz (or the sample archive, recognized by its SHA-256).")]
        public string Archive { get; init; } = "";

        [CommandOption("--data <DIR>")]
        [Description("Data folder to extract into (default as for 'data download').")]
        public string? Data { get; init; }

        [CommandOption("--name <NAME>")]
        [Description("What to call this data in summaries and charts, e.g. \"CIFAR-10 sample\".")]
        public string? Name { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        string dataDir = ProjectPaths.DataDirectory(settings.Data);
        string root = await AnsiConsole.Status().StartAsync($"Extracting {settings.Archive.EscapeMarkup()}",
            _ => Cifar10.ExtractAsync(Path.GetFullPath(settings.Archive), dataDir, settings.Name, cancellationToken, DataCommandHelpers.Say));
        AnsiConsole.MarkupLine($"Extracted to [bold]{Path.Combine(root, Cifar10.FolderName).EscapeMarkup()}[/]");
        return 0;
    }
}
