using System.ComponentModel;
using NotebookVgg.Data;
using NotebookVgg.Evaluation;
using NotebookVgg.Training;
using NotebookVgg.Transfer;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NotebookVgg.Cli.Commands;

/// <summary><c>nvgg eval</c>: a checkpoint's test accuracy, top-5, per-class metrics and confusion matrix.</summary>
internal sealed class EvalCommand : AsyncCommand<EvalCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--checkpoint <FILE>")]
        [Description("A checkpoint written by nvgg train.")]
        public string Checkpoint { get; init; } = "";

        [CommandOption("--data <DIR>")]
        [Description("Folder holding cifar-10-batches-bin (default: the data folder).")]
        public string? Data { get; init; }

        [CommandOption("--limit-test <N>")]
        [Description("Use N test images (N/10 per class, balanced, seeded by the checkpoint's seed); default: all.")]
        public int? LimitTest { get; init; }

        [CommandOption("--json")]
        public bool Json { get; init; }

        public override ValidationResult Validate() =>
            string.IsNullOrWhiteSpace(Checkpoint) ? ValidationResult.Error("--checkpoint FILE is required")
            : LimitTest is { } n && (n < 10 || n % 10 != 0)
                ? ValidationResult.Error($"--limit-test {n}: must be a multiple of 10, at least 10 (the subset is balanced: N/10 images per class)")
                : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        Runtime.NativeAllocator.KeepFreedMemory();
        string data = await RunInputs.DataAsync(s.Data, MissingData.Fail, ct: cancellationToken);
        using var model = TrainedModel.Load(s.Checkpoint);
        var state = Checkpoint.ReadState(s.Checkpoint);
        using var dataset = Cifar10.Load(data);
        using var test = s.LimitTest is { } n
            ? dataset.Test.BalancedSubset(n / 10, state.Options.Seed)
            : dataset.Test.Subset([.. Enumerable.Range(0, dataset.Test.Count).Select(i => (long)i)], "test");
        var result = model.Evaluate(test, $"{dataset.SourceName} test");
        if (s.Json)
        {
            JsonOutput.Write(new
            {
                checkpoint = Path.GetFullPath(s.Checkpoint),
                model = StoredModelDescription.Of(model.Description), // the flat object checkpoints store, as before the Backbone
                result.DataName, result.Count, result.Accuracy, result.Top5Accuracy, result.Loss, result.MacroF1,
                perClass = result.PerClass,
                confusionMatrix = result.ConfusionMatrix,
                classNames = result.ClassNames,
                misclassified = result.Misclassified.Count,
            });
            return 0;
        }
        AnsiConsole.MarkupLine(FormattableString.Invariant(
            $"[bold]{result.Accuracy:P2}[/] accuracy, top-5 {result.Top5Accuracy:P2}, loss {result.Loss:F4}, macro F1 {result.MacroF1:F3} on {result.Count:N0} {Markup.Escape(result.DataName)} images"));
        var perClass = new Table().AddColumns("class", "precision", "recall", "F1", "support").Border(TableBorder.Rounded);
        foreach (var c in result.PerClass)
            perClass.AddRow(Markup.Escape(c.Class), c.Precision.ToString("P1", System.Globalization.CultureInfo.InvariantCulture),
                c.Recall.ToString("P1", System.Globalization.CultureInfo.InvariantCulture), c.F1.ToString("F3", System.Globalization.CultureInfo.InvariantCulture), c.Support.ToString(System.Globalization.CultureInfo.InvariantCulture));
        AnsiConsole.Write(perClass);
        var confusion = new Table().AddColumn("true \\ predicted").Border(TableBorder.Rounded);
        foreach (var name in result.ClassNames)
            confusion.AddColumn(new TableColumn(Markup.Escape(name[..Math.Min(5, name.Length)])).RightAligned());
        for (int t = 0; t < result.ClassNames.Length; t++)
            confusion.AddRow([Markup.Escape(result.ClassNames[t]), .. result.ConfusionMatrix[t].Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture))]);
        AnsiConsole.Write(confusion);
        return 0;
    }
}
