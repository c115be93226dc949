using System.ComponentModel;
using NotebookVgg.Evaluation;
using NotebookVgg.Transfer;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NotebookVgg.Cli.Commands;

/// <summary><c>nvgg predict</c>: top-k classes with probabilities for image files.</summary>
internal sealed class PredictCommand : Command<PredictCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<IMAGE>")]
        [Description("PNG, JPEG, GIF, BMP or WebP files.")]
        public string[] Images { get; init; } = [];

        [CommandOption("--checkpoint <FILE>")]
        public string Checkpoint { get; init; } = "";

        [CommandOption("--top <K>")]
        [DefaultValue(3)]
        public int Top { get; init; } = 3;

        [CommandOption("--json")]
        public bool Json { get; init; }

        public override ValidationResult Validate() =>
            string.IsNullOrWhiteSpace(Checkpoint) ? ValidationResult.Error("--checkpoint FILE is required")
            : Top < 1 ? ValidationResult.Error($"--top {Top}: must be at least 1")
            : ValidationResult.Success();
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        // Check the inputs before loading a model (seconds, hundreds of MB): a missing image fails at once.
        foreach (string image in s.Images.Where(i => !File.Exists(i)))
            throw new FileNotFoundException($"{image}: no such image file", image);
        using var model = TrainedModel.Load(s.Checkpoint);
        var results = s.Images.Select(path => (path, predictions: model.Predict(path, s.Top))).ToList();
        if (s.Json)
        {
            JsonOutput.Write(results.Select(r => new { image = r.path, r.predictions }));
            return 0;
        }
        foreach (var (path, predictions) in results)
        {
            AnsiConsole.MarkupLine($"[bold]{Markup.Escape(path)}[/]");
            foreach (var p in predictions)
                AnsiConsole.MarkupLine(FormattableString.Invariant($"  {p.Probability,7:P1}  {Markup.Escape(p.Class)}"));
        }
        return 0;
    }
}
