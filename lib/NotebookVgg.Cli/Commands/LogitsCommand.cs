using System.ComponentModel;
using NotebookVgg.Models;
using NotebookVgg.Weights;
using Spectre.Console;
using Spectre.Console.Cli;
using static TorchSharp.torch;

namespace NotebookVgg.Cli.Commands;

/// <summary>
/// <c>nvgg logits</c>: loads weights strictly into a VGG and writes its logits for a given input. The end-to-end check
/// that a weights file means the same here as in PyTorch.
/// </summary>
internal sealed class LogitsCommand : Command<LogitsCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--weights <FILE>")]
        [Description("Weights file (any format `nvgg weights inspect` reads).")]
        public string Weights { get; init; } = "";

        [CommandOption("--arch <ARCH>")]
        [Description("vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19 (default), vgg19_bn.")]
        [DefaultValue("vgg19")]
        public string Architecture { get; init; } = "vgg19";

        [CommandOption("--classes <N>")]
        [Description("Outputs of the head (default: read from the weights' classifier.6).")]
        public int? Classes { get; init; }

        [CommandOption("--input <FILE>")]
        [Description("safetensors file with a float32 tensor `input` of shape N×3×H×W, already normalized.")]
        public string Input { get; init; } = "";

        [CommandOption("--output <FILE>")]
        [Description("safetensors file to write, with the float32 tensor `logits` (N×classes).")]
        public string Output { get; init; } = "";

        public override ValidationResult Validate() =>
            string.IsNullOrWhiteSpace(Weights) ? ValidationResult.Error("--weights FILE is required")
            : string.IsNullOrWhiteSpace(Input) ? ValidationResult.Error("--input FILE is required")
            : string.IsNullOrWhiteSpace(Output) ? ValidationResult.Error("--output FILE is required")
            : Classes is < 1 ? ValidationResult.Error("--classes must be at least 1")
            : ValidationResult.Success();
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        Tensor input;
        using (var inputs = StateDict.Read(settings.Input))
        {
            if (!inputs.TryGetValue("input", out var x))
                throw new InvalidDataException($"{inputs.Source}: no tensor named 'input' (found: {string.Join(", ", inputs.Keys)})");
            if (x.dtype != ScalarType.Float32 || x.ndim != 4 || x.shape[1] != 3)
                throw new InvalidDataException($"{inputs.Source}: 'input' must be float32 N×3×H×W, found {x.dtype} [{string.Join(", ", x.shape)}]");
            if (!isfinite(x).all().item<bool>())
                throw new InvalidDataException($"{inputs.Source}: 'input' holds NaN or infinite values");
            input = x.clone();
        }
        using (input)
        using (var weights = StateDict.Read(settings.Weights))
        {
            long classes = settings.Classes ?? WeightLoader.HeadClasses(weights)
                ?? throw new InvalidDataException($"{weights.Source}: no classifier.6 / head.fc weight to infer --classes from; give --classes");
            using var model = Vgg.Create(settings.Architecture, checked((int)classes));
            var report = WeightLoader.Load(model, weights);
            model.eval();
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var logits = model.forward(input);
            if (!isfinite(logits).all().item<bool>())
                throw new InvalidDataException($"{weights.Source}: the logits hold NaN or infinite values" +
                    (model.FirstNonFiniteLayer(input) is { } layer ? $", first in layer {layer}" : "") + "; nothing written");
            SafetensorsFile.Write(settings.Output, "logits", logits);
            AnsiConsole.WriteLine(
                $"{settings.Architecture}: loaded {report.LoadedTensors} tensors ({report.Format}, {report.Layout} layout) from {report.Source}; " +
                $"logits [{string.Join(", ", logits.shape)}] -> {Path.GetFullPath(settings.Output)}");
        }
        return 0;
    }
}
