using System.ComponentModel;
using System.Globalization;
using NotebookVgg.Data;
using NotebookVgg.IO;
using NotebookVgg.Runtime;
using NotebookVgg.Training;
using NotebookVgg.Transfer;
using NotebookVgg.Weights;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NotebookVgg.Cli.Commands;

/// <summary><c>nvgg train</c>: the transfer-learning recipe from the command line; a profile gives the defaults, options override them.</summary>
internal sealed class TrainCommand : AsyncCommand<TrainCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--profile <NAME>")]
        [Description("smoke | cpu | gpu-tutorial | gpu: the defaults for every option below (default: cpu without a GPU, gpu with one).")]
        public string? Profile { get; init; }

        [CommandOption("--data <DIR>")]
        [Description("Folder holding cifar-10-batches-bin (default: the data folder, see nvgg doctor).")]
        public string? Data { get; init; }

        [CommandOption("--weights <FILE|NAME|none>")]
        [Description("A weights file, a registry name (downloaded into the cache if missing, e.g. vgg19), or none for random weights.")]
        public string? Weights { get; init; }

        [CommandOption("--mode <MODE>")]
        [Description("features | finetune | scratch.")]
        public string? Mode { get; init; }

        [CommandOption("--arch <NAME>")]
        [Description("vgg11 … vgg19, vgg*_bn (default vgg19).")]
        public string Architecture { get; init; } = "vgg19";

        [CommandOption("--cut <WHERE>")]
        [Description("Features mode: fc7 (4,096 values) or pool5 (the last conv block's 512-channel map, 25,088 values after avgpool).")]
        public string? Cut { get; init; }

        [CommandOption("--image-size <N>")]
        public int? ImageSize { get; init; }

        [CommandOption("--interpolation <MODE>")]
        [Description("nearest | bilinear | bicubic.")]
        public string? Interpolation { get; init; }

        [CommandOption("--normalize <imagenet|none>")]
        [Description("imagenet (default): ImageNet's mean and std; none: [[0, 1]] pixels only, as the tutorial's companion notebook fed its network.")]
        public string? Normalize { get; init; }

        [CommandOption("--loss <logits|double_softmax>")]
        [Description("logits (default): cross-entropy on the logits; double_softmax: on their softmax, the tutorial's bug, to reproduce it.")]
        public string? Loss { get; init; }

        [CommandOption("--epochs <N>")]
        public int? Epochs { get; init; }

        [CommandOption("--batch-size <N>")]
        public int? BatchSize { get; init; }

        [CommandOption("--lr <X>")]
        [Description("Learning rate (of the pretrained layers when --head-lr is given).")]
        public double? LearningRate { get; init; }

        [CommandOption("--head-lr <X>")]
        public double? HeadLearningRate { get; init; }

        [CommandOption("--optimizer <NAME>")]
        [Description("adam | sgd.")]
        public string? Optimizer { get; init; }

        [CommandOption("--momentum <X>")]
        public double? Momentum { get; init; }

        [CommandOption("--weight-decay <X>")]
        public double? WeightDecay { get; init; }

        [CommandOption("--schedule <NAME>")]
        [Description("constant | step | cosine.")]
        public string? Schedule { get; init; }

        [CommandOption("--warmup <EPOCHS>")]
        public int? Warmup { get; init; }

        [CommandOption("--label-smoothing <X>")]
        public double? LabelSmoothing { get; init; }

        [CommandOption("--augment")]
        [Description("Random crop (padding 4) and horizontal flip of training images (fine-tuning).")]
        public bool? Augment { get; init; }

        [CommandOption("--freeze-up-to <LAYER>")]
        [Description("Fine-tuning: keep this layer and all before it frozen, e.g. features.27.")]
        public string? FreezeUpTo { get; init; }

        [CommandOption("--precision <auto|fp32|bf16>")]
        [Description("Number format of feature extraction and training on the CPU. auto (default): bf16 where the CPU has it natively and a check on your images agrees with fp32, else fp32. Weights stay fp32.")]
        public string? Precision { get; init; }

        [CommandOption("--seed <N>")]
        public int? Seed { get; init; }

        [CommandOption("--device <DEVICE>")]
        [Description("auto | cpu | cuda.")]
        public string? Device { get; init; }

        [CommandOption("--limit-train <N|all>")]
        [Description("Use N training images (N/10 per class, balanced and seeded), or all of them (default: the profile's choice).")]
        public string? LimitTrain { get; init; }

        [CommandOption("--limit-test <N|all>")]
        [Description("Use N test images (N/10 per class), or all of them (default: the profile's choice).")]
        public string? LimitTest { get; init; }

        [CommandOption("--early-stopping <EPOCHS>")]
        public int? EarlyStopping { get; init; }

        [CommandOption("--checkpoint <FILE>")]
        [Description("Checkpoint written atomically every epoch (and FILE.best.EXT on the best validation accuracy).")]
        public string? Checkpoint { get; init; }

        [CommandOption("--resume")]
        [Description("Continue from --checkpoint where it stopped.")]
        public bool Resume { get; init; }

        [CommandOption("--overwrite")]
        [Description("Replace --checkpoint FILE even if it is not a NotebookVgg checkpoint.")]
        public bool Overwrite { get; init; }

        [CommandOption("--json")]
        [Description("Print the final metrics and the history as JSON.")]
        public bool Json { get; init; }

        public override ValidationResult Validate()
        {
            if (Resume && Checkpoint is null)
                return ValidationResult.Error("--resume needs --checkpoint FILE");
            if (Checkpoint is not null && !Resume && !Overwrite && File.Exists(Checkpoint) && !IsCheckpoint(Checkpoint))
                return ValidationResult.Error($"--checkpoint {Checkpoint}: the file exists and is not a NotebookVgg checkpoint; " +
                    "choose another path, or pass --overwrite to replace it");
            try
            {
                _ = PerClass(LimitTrain, null, "--limit-train");
                if (Normalize is not null)
                    _ = TransferSettings.ParseNormalization(Normalize);
                if (Loss is not null)
                    _ = TrainingOptions.ParseLoss(Loss);
                _ = PerClass(LimitTest, null, "--limit-test");
            }
            catch (ArgumentException ex)
            {
                return ValidationResult.Error(ex.Message);
            }
            return ValidationResult.Success();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        Runtime.NativeAllocator.KeepFreedMemory(); // 2–3× faster VGG steps on glibc (see NativeAllocator); a short-lived process
        var profile = RunInputs.Profile(s.Profile);
        string data = await RunInputs.DataAsync(s.Data, MissingData.Fail, ct: cancellationToken);
        var weights = WeightsStore.Parse(RunInputs.WeightsName(profile, s.Weights));
        var reference = weights.NeedsDownload && !s.Json
            ? await DataCommandHelpers.WithProgressAsync($"weights {weights.Entry!.Name}",
                p => RunInputs.WeightsReferenceAsync(profile, s.Weights, progress: p, ct: cancellationToken))
            : await RunInputs.WeightsReferenceAsync(profile, s.Weights, ct: cancellationToken);
        var o = profile.Options;
        o = o with
        {
            Mode = s.Mode is null ? o.Mode : ParseMode(s.Mode),
            ImageSize = s.ImageSize ?? o.ImageSize,
            Epochs = s.Epochs ?? o.Epochs,
            BatchSize = s.BatchSize ?? o.BatchSize,
            LearningRate = s.LearningRate ?? o.LearningRate,
            HeadLearningRate = s.HeadLearningRate ?? o.HeadLearningRate,
            Optimizer = s.Optimizer is null ? o.Optimizer : ParseEnum<OptimizerKind>(s.Optimizer, "optimizer"),
            Momentum = s.Momentum ?? o.Momentum,
            WeightDecay = s.WeightDecay ?? o.WeightDecay,
            Schedule = s.Schedule is null ? o.Schedule : ParseEnum<ScheduleKind>(s.Schedule, "schedule"),
            WarmupEpochs = s.Warmup ?? o.WarmupEpochs,
            LabelSmoothing = s.LabelSmoothing ?? o.LabelSmoothing,
            Augment = s.Augment ?? o.Augment,
            Seed = s.Seed ?? o.Seed,
            Device = s.Device ?? (s.Profile is null ? "auto" : o.Device),
            EarlyStoppingPatience = s.EarlyStopping ?? o.EarlyStoppingPatience,
            Precision = s.Precision is null ? o.Precision : PrecisionChoice.Parse(s.Precision),
            Loss = s.Loss is null ? o.Loss : TrainingOptions.ParseLoss(s.Loss),
        };
        var defaults = TransferSettings.FromProfile(profile, data, reference);
        var settings = defaults with
        {
            Options = o,
            Architecture = s.Architecture,
            Normalization = s.Normalize is null ? defaults.Normalization : TransferSettings.ParseNormalization(s.Normalize),
            Cut = s.Cut is null ? defaults.Cut : TransferSettings.ParseCut(s.Cut),
            Interpolation = s.Interpolation is null ? defaults.Interpolation : TransferSettings.ParseInterpolation(s.Interpolation),
            TrainPerClass = PerClass(s.LimitTrain, profile.TrainPerClass, "--limit-train"),
            TestPerClass = PerClass(s.LimitTest, profile.TestPerClass, "--limit-test"),
            FreezeUpTo = s.FreezeUpTo,
            CheckpointPath = s.Checkpoint is null ? null : Path.GetFullPath(s.Checkpoint),
            Resume = s.Resume,
        };

        var err = Stderr();
        // The profile's purpose describes its own settings; say so when options on the command line changed some of them
        // (the checkpoint and the device chosen by "auto" change nothing the purpose describes).
        bool overridden = settings with
        {
            Options = o with { Device = profile.Options.Device },
            CheckpointPath = defaults.CheckpointPath,
            Resume = defaults.Resume,
        } != defaults;
        err.MarkupLine(overridden
            ? $"defaults from profile [bold]{Markup.Escape(profile.Name)}[/], with the options given overriding them"
            : $"[bold]{Markup.Escape(profile.Name)}[/]: {Markup.Escape(profile.Purpose)}");
        var run = new TransferLearning
        {
            Log = m => err.MarkupLine(Markup.Escape(m)),
            Extraction = new SynchronousProgress<ExtractionProgress>(p =>
            {
                if (p.Done == p.Total || p.Done % 1024 < 64)
                    err.MarkupLine(Markup.Escape(FormattableString.Invariant($"  features {p.Split}: {p.Done:N0}/{p.Total:N0} images, {p.ImagesPerSecond:F1} images/s")));
            }),
            Training = new SynchronousProgress<TrainingProgress>(p =>
            {
                if (p.EpochDone is { } e)
                    err.MarkupLine(Markup.Escape(FormattableString.Invariant(
                        $"  epoch {e.Epoch}/{p.Epochs}: loss {e.TrainLoss:F4}, accuracy {e.TrainAccuracy:P1}, validation {e.ValidationAccuracy:P1}, lr {e.LearningRate:G3}, {e.Seconds:F1} s, {p.ItemsPerSecond:F0} items/s, ETA {p.Remaining:hh\\:mm\\:ss}")));
            }),
        };
        var result = run.Run(settings, cancellationToken);
        if (s.Json)
        {
            JsonOutput.Write(new
            {
                profile = profile.Name,
                data = result.DataName,
                model = StoredModelDescription.Of(result.Model), // the flat object checkpoints store, as before the Backbone
                test = new { result.Test.Accuracy, result.Test.Top5Accuracy, result.Test.Loss, result.Test.MacroF1, result.Test.Count },
                history = result.Training.History.Epochs,
                result.Training.Resumed,
                result.Training.StoppedEarly,
                precision = new { result.Precision.Name, requested = result.Precision.Requested, result.Precision.Reason },
                featureSeconds = result.FeatureSeconds,
                featuresFromCache = result.FeaturesFromCache,
                checkpoint = result.CheckpointPath,
                options = o,
            });
        }
        else
        {
            AnsiConsole.MarkupLine(FormattableString.Invariant(
                $"test accuracy [bold]{result.Test.Accuracy:P2}[/], top-5 {result.Test.Top5Accuracy:P2} on {result.Test.Count:N0} {Markup.Escape(result.DataName)} test images"));
            if (result.CheckpointPath is not null)
                AnsiConsole.MarkupLine($"checkpoint: {Markup.Escape(result.CheckpointPath)}");
        }
        return 0;
    }

    internal static IAnsiConsole Stderr()
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        if (Console.IsErrorRedirected)
            console.Profile.Width = 4096; // one line per message in logs
        return console;
    }

    private static bool IsCheckpoint(string path)
    {
        try
        {
            _ = NotebookVgg.Training.Checkpoint.ReadState(path);
            return true;
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or System.Text.Json.JsonException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>A --limit-* value as images per class: absent → the profile's choice; "all" → no subset (null); N → N/10.</summary>
    internal static int? PerClass(string? limit, int? profileChoice, string option) => limit?.Trim().ToLowerInvariant() switch
    {
        null => profileChoice,
        "all" => null,
        var v when int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 10 && n % 10 == 0 => n / 10,
        var v when int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out _) =>
            throw new ArgumentException($"{option} {limit}: must be a multiple of 10, at least 10 (the subset is balanced: N/10 images per class)"),
        _ => throw new ArgumentException($"{option} '{limit}': expected a number of images or 'all'"),
    };

    private static TrainingMode ParseMode(string mode) => mode.Trim().ToLowerInvariant() switch
    {
        "features" => TrainingMode.Features,
        "finetune" or "fine-tune" => TrainingMode.FineTune,
        "scratch" => TrainingMode.Scratch,
        _ => throw new ArgumentException($"--mode '{mode}': expected features, finetune or scratch"),
    };

    private static T ParseEnum<T>(string value, string option) where T : struct, Enum =>
        Enum.TryParse<T>(value, ignoreCase: true, out var v) && Enum.IsDefined(v)
            ? v
            : throw new ArgumentException($"--{option} '{value}': expected {string.Join(", ", Enum.GetNames<T>().Select(n => n.ToLowerInvariant()))}");
}
