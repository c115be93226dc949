using System.ComponentModel;
using NotebookVgg.IO;
using NotebookVgg.Weights;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NotebookVgg.Cli.Commands;

/// <summary><c>nvgg weights download NAME</c>: fetch a registered weights file into the cache and verify it.</summary>
internal sealed class WeightsDownloadCommand : AsyncCommand<WeightsDownloadCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<NAME>")]
        [Description("Registry name, e.g. vgg19 (see `nvgg weights list`).")]
        public string Name { get; init; } = "";

        [CommandOption("--dir <DIR>")]
        [Description("Weights cache folder (default: $NOTEBOOKVGG_WEIGHTS, else <data>/weights).")]
        public string? Directory { get; init; }

        [CommandOption("--mirror <URL>")]
        [Description("Mirror base URL or folder holding the file under its published name (default: $NOTEBOOKVGG_WEIGHTS_MIRROR, else the published URL).")]
        public string? Mirror { get; init; }

        [CommandOption("--sha256 <HEX>")]
        [Description("With --mirror: the SHA-256 of the mirror's file when it serves other bytes than the published file (a test mirror); checked instead of the published one.")]
        public string? Sha256 { get; init; }

        public override ValidationResult Validate() =>
            Sha256 is not null && Mirror is null ? ValidationResult.Error("--sha256 replaces the published checksum only for a --mirror's file")
            : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var weights = PretrainedWeights.Get(settings.Name);
        Uri? mirror = settings.Mirror is null ? null
            : Uri.TryCreate(settings.Mirror, UriKind.Absolute, out var u) ? u
            : new Uri(Path.GetFullPath(settings.Mirror) + Path.DirectorySeparatorChar);
        string target = WeightsStore.Locate(weights, settings.Directory);
        string verb = File.Exists(target) ? "verifying" : "downloading";
        AnsiConsole.MarkupLine($"{verb} [bold]{weights.Name}[/] from {Markup.Escape(WeightsStore.SourceFor(weights, mirror).ToString())}");

        string path = "";
        await AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask(weights.FileName, maxValue: weights.Bytes ?? 1);
                var progress = new Progress<DownloadProgress>(p =>
                {
                    if (p.TotalBytes is { } total)
                        task.MaxValue = total;
                    task.Value = p.BytesReceived;
                });
                path = await WeightsStore.EnsureAsync(weights, settings.Directory, mirror, progress, cancellationToken,
                    settings.Sha256 is { } hex ? Checksum.Sha256(hex) : null, DataCommandHelpers.Say);
                task.Value = task.MaxValue;
            });
        AnsiConsole.MarkupLine(settings.Sha256 is { } given
            ? $"[green]verified[/] against the SHA-256 given for the mirror's file, {Markup.Escape(given)} (not the published {weights.Sha256}): {Markup.Escape(path)}"
            : $"[green]verified[/] SHA-256 {(weights.Sha256IsPrefix ? "prefix " : "")}{weights.Sha256}: {Markup.Escape(path)}");
        return 0;
    }
}
