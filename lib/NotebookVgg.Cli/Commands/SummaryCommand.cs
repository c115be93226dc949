using System.ComponentModel;
using NotebookVgg.Models;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NotebookVgg.Cli.Commands;

/// <summary><c>nvgg summary</c>: per-layer table of a VGG (output shapes, parameters, trainable, MACs).</summary>
internal sealed class SummaryCommand : Command<SummaryCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--arch <ARCH>")]
        [Description("vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19 (default), vgg19_bn.")]
        [DefaultValue("vgg19")]
        public string Architecture { get; init; } = "vgg19";

        [CommandOption("--image-size <PIXELS>")]
        [Description("Input height and width (default 224; CIFAR-10 images are 32).")]
        [DefaultValue(224)]
        public int ImageSize { get; init; } = 224;

        [CommandOption("--classes <N>")]
        [Description("Outputs of the head (default 1000).")]
        [DefaultValue(1000)]
        public int Classes { get; init; } = 1000;

        [CommandOption("--json")]
        [Description("Print the summary as JSON.")]
        public bool Json { get; init; }

        public override ValidationResult Validate() =>
            ImageSize < 32 ? ValidationResult.Error("--image-size must be at least 32 (five 2×2 max-pools)")
            : Classes < 1 ? ValidationResult.Error("--classes must be at least 1")
            : ValidationResult.Success();
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        using var model = Vgg.Create(settings.Architecture, settings.Classes);
        var summary = ModelSummary.Of(model, settings.ImageSize);
        if (settings.Json)
            JsonOutput.Write(summary);
        else
            AnsiConsole.Console.Profile.Out.Writer.Write(summary.ToText());
        return 0;
    }
}
