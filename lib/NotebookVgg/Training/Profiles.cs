using NotebookVgg.Data;
using NotebookVgg.Models;

namespace NotebookVgg.Training;

/// <summary>
/// A named recipe: the training settings plus how much data and which weights it uses, and what it is for.
/// The CLI (<c>--profile</c>) and the notebooks (<c>profile</c> parameter) share these.
/// </summary>
/// <param name="Name">smoke, cpu, gpu-tutorial or gpu.</param>
/// <param name="Purpose">One sentence a user reads before choosing it.</param>
/// <param name="Options">The training settings.</param>
/// <param name="FeatureCut">Where the frozen network is cut in features mode: pool5 (the last conv block's 512-channel map) or fc7 (4,096 values).</param>
/// <param name="TrainPerClass">Training images per class (balanced, seeded); null: all.</param>
/// <param name="TestPerClass">Test images per class; null: all.</param>
/// <param name="PretrainedWeights">The weights' registry name, or null for random weights (labelled as such everywhere).</param>
/// <param name="Interpolation">How 32×32 images are resized: nearest, bilinear or bicubic.</param>
public sealed record TrainingProfile(
    string Name,
    string Purpose,
    TrainingOptions Options,
    FeatureCut FeatureCut,
    int? TrainPerClass,
    int? TestPerClass,
    string? PretrainedWeights,
    Interpolation Interpolation);

/// <summary>How much of a profile's recipe runs: all of it, or a tiny version of the same code path.</summary>
public enum TrainingScale
{
    /// <summary>The recipe as the profile defines it.</summary>
    Full,

    /// <summary>A few images per class, at most 2 epochs, 32×32 inputs, on the CPU: a check of the code path, not a result.</summary>
    Tiny,
}

/// <summary>The four named recipes (smoke, cpu, gpu-tutorial, gpu), looked up by name and shrunk to a scale.</summary>
public static class Profiles
{
    /// <summary>Seconds of training, minutes for the notebooks, on a laptop CPU: proves the machinery end to end. Its accuracy means nothing.</summary>
    public static TrainingProfile Smoke { get; } = new(
        "smoke",
        "Smoke test: proves the machinery on any CPU (its training in seconds, the five notebooks in minutes), on a tiny subset with random (not pretrained) weights; its accuracy means nothing.",
        new TrainingOptions
        {
            Mode = TrainingMode.Features, Epochs = 3, BatchSize = 32, LearningRate = 1e-3, Optimizer = OptimizerKind.Adam,
            ImageSize = 32, Seed = 0, Device = "cpu",
        },
        FeatureCut: FeatureCut.Fc7, TrainPerClass: 20, TestPerClass: 10, PretrainedWeights: null, Interpolation: Interpolation.Bilinear);

    /// <summary>
    /// The best a 2-core CPU does in a sitting: frozen pretrained VGG19, fc7 features ("CNN codes") of
    /// 112×112 inputs computed once for 1,000 training images per class, then a linear head trained for 30 epochs.
    /// 112 rather than 224 because the features cost a quarter as much per image, so four times as many
    /// images fit into the budget; fc7 rather than pool5 because its 4,096 values train a head in seconds.
    /// </summary>
    public static TrainingProfile Cpu { get; } = new(
        "cpu",
        "CPU, at full scale: frozen VGG19 with ImageNet's weights (fc7 features of 112×112 inputs, computed once and cached) and a new linear head; 1,000 training images per class; computing the features is most of its time.",
        new TrainingOptions
        {
            Mode = TrainingMode.Features, Epochs = 30, BatchSize = 256, LearningRate = 1e-3, Optimizer = OptimizerKind.Adam,
            WeightDecay = 1e-4, Schedule = ScheduleKind.Cosine, ImageSize = 112, Seed = 0, Device = "auto", LabelSmoothing = 0.1,
        },
        FeatureCut: FeatureCut.Fc7, TrainPerClass: 1000, TestPerClass: null, PretrainedWeights: "vgg19", Interpolation: Interpolation.Bilinear);

    /// <summary>The tutorial's recipe, as published: fine-tune everything at 224×224, Adam 1e-5, batch 32, 7 epochs.</summary>
    public static TrainingProfile GpuTutorial { get; } = new(
        "gpu-tutorial",
        "GPU, the tutorial's recipe: fine-tune all of VGG19 at 224×224 on all 45,000 training images, Adam at 1e-5, batch 32, 7 epochs (reported 91.7 %).",
        new TrainingOptions
        {
            Mode = TrainingMode.FineTune, Epochs = 7, BatchSize = 32, LearningRate = 1e-5, Optimizer = OptimizerKind.Adam,
            ImageSize = 224, Seed = 0, Device = "cuda",
        },
        FeatureCut: FeatureCut.Fc7, TrainPerClass: null, TestPerClass: null, PretrainedWeights: "vgg19", Interpolation: Interpolation.Bilinear);

    /// <summary>Our improved GPU recipe, aiming above the tutorial: augmentation, a faster head, warm-up and cosine decay, label smoothing.</summary>
    public static TrainingProfile Gpu { get; } = new(
        "gpu",
        "GPU, improved: fine-tune VGG19 at 224×224 with random crop and flip, SGD with momentum, head learning rate 10× the body's, 1-epoch warm-up then cosine decay, label smoothing 0.1, 10 epochs.",
        new TrainingOptions
        {
            Mode = TrainingMode.FineTune, Epochs = 10, BatchSize = 64, LearningRate = 1e-3, HeadLearningRate = 1e-2,
            Optimizer = OptimizerKind.Sgd, Momentum = 0.9, WeightDecay = 5e-4, Schedule = ScheduleKind.Cosine, WarmupEpochs = 1,
            LabelSmoothing = 0.1, Augment = true, ImageSize = 224, Seed = 0, Device = "cuda",
        },
        FeatureCut: FeatureCut.Fc7, TrainPerClass: null, TestPerClass: null, PretrainedWeights: "vgg19", Interpolation: Interpolation.Bilinear);

    /// <summary>Every profile; <see cref="Get"/> looks names up here and lists them in this order when one is unknown.</summary>
    public static IReadOnlyList<TrainingProfile> All { get; } = [Smoke, Cpu, GpuTutorial, Gpu];

    /// <summary>The profile of that name ("auto": cpu or gpu by device); an error listing the known names otherwise.</summary>
    public static TrainingProfile Get(string name) =>
        string.Equals(name?.Trim(), "auto", StringComparison.OrdinalIgnoreCase) ? ForDevice(Runtime.Devices.CudaDeviceCount() > 0) :
        All.FirstOrDefault(p => string.Equals(p.Name, name?.Trim(), StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"profile '{name}': expected auto or one of {string.Join(", ", All.Select(p => p.Name))}");

    /// <summary>
    /// The same recipe, shrunk: <see cref="TrainingScale.Tiny"/> keeps the mode, optimizer, schedule, augmentation and
    /// cut (the code path) but uses a few images per class, at most 2 epochs, 32×32 inputs and the CPU, so that every
    /// profile's notebooks and commands can be checked on any machine in a minute or two.
    /// </summary>
    public static TrainingProfile Scaled(TrainingProfile profile, TrainingScale scale)
    {
        ArgumentNullException.ThrowIfNull(profile);
        if (scale == TrainingScale.Full)
            return profile;
        var o = profile.Options;
        int epochs = Math.Min(o.Epochs, TinyEpochs);
        return profile with
        {
            Options = o with
            {
                Epochs = epochs,
                WarmupEpochs = Math.Min(o.WarmupEpochs, epochs - 1),
                BatchSize = Math.Min(o.BatchSize, 16),
                ImageSize = 32,
                Device = "cpu",
            },
            TrainPerClass = Math.Min(profile.TrainPerClass ?? int.MaxValue, TinyTrainPerClass),
            TestPerClass = Math.Min(profile.TestPerClass ?? int.MaxValue, TinyTestPerClass),
        };
    }

    /// <summary>Training images per class at <see cref="TrainingScale.Tiny"/>.</summary>
    public const int TinyTrainPerClass = 6;

    /// <summary>Test images per class at <see cref="TrainingScale.Tiny"/>.</summary>
    public const int TinyTestPerClass = 4;

    /// <summary>Epochs at most at <see cref="TrainingScale.Tiny"/>.</summary>
    public const int TinyEpochs = 2;

    /// <summary>full or tiny (case-insensitive); an error naming the value otherwise.</summary>
    public static TrainingScale ParseScale(string scale) => scale?.Trim().ToLowerInvariant() switch
    {
        "full" or "" or null => TrainingScale.Full,
        "tiny" => TrainingScale.Tiny,
        _ => throw new ArgumentException($"scale '{scale}': expected full or tiny"),
    };

    /// <summary>cpu when no GPU is usable, gpu otherwise: what the README's main job picks.</summary>
    public static TrainingProfile ForDevice(bool cudaAvailable) => cudaAvailable ? Gpu : Cpu;
}
