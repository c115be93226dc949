using System.ComponentModel;
using NotebookVgg.Data;
using NotebookVgg.IO;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NotebookVgg.Cli.Commands;

/// <summary><c>nvgg data download</c>: fetch, verify and extract CIFAR-10 into the data folder.</summary>
internal sealed class DataDownloadCommand : AsyncCommand<DataDownloadCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--data <DIR>")]
        [Description("Data folder (default: $NOTEBOOKVGG_DATA, else the repository's data/, else ~/.cache/notebookvgg).")]
        public string? Data { get; init; }

        [CommandOption("--mirror <URL>")]
        [Description("Where to fetch the archive instead: an http(s) or file URL, a folder URL ending in '/', or a local path.")]
        public string? Mirror { get; init; }

        [CommandOption("--sha256 <HEX>")]
        [Description("Expected SHA-256 of the archive, replacing the official MD5 check (for mirrors serving other bytes).")]
        public string? Sha256 { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        Checksum? checksum = settings.Sha256 is { } hex ? Checksum.Sha256(hex) : null;
        Uri? mirror = settings.Mirror is { } m ? DataCommandHelpers.ParseSource(m) : null;
        string dataDir = ProjectPaths.DataDirectory(settings.Data);
        string root = await DataCommandHelpers.WithProgressAsync(
            $"CIFAR-10 from {(mirror ?? new Uri(Cifar10.Url)).ToString().EscapeMarkup()}",
            progress => Cifar10.DownloadAsync(dataDir, mirror, checksum, progress, cancellationToken, DataCommandHelpers.Say));
        AnsiConsole.MarkupLine($"CIFAR-10 ready in [bold]{Path.Combine(root, Cifar10.FolderName).EscapeMarkup()}[/]");
        return 0;
    }
}
