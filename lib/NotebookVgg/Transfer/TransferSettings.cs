using NotebookVgg.Data;
using NotebookVgg.Models;
using NotebookVgg.Training;
using NotebookVgg.Weights;

namespace NotebookVgg.Transfer;

/// <summary>How pixels are scaled before the network sees them.</summary>
public enum InputNormalization
{
    /// <summary>[0, 1], then each channel standardized with the weights' mean and std (torchvision's ImageNet numbers).</summary>
    ImageNet,

    /// <summary>[0, 1] and nothing more: what the tutorial's companion notebook fed its network (skimage's resize output).</summary>
    None,
}

/// <summary>Everything a transfer-learning run needs besides the optimizer settings.</summary>
public sealed record TransferSettings
{
    /// <summary>The recipe: mode, epochs, optimizer, input size, seed, device and so on.</summary>
    public required TrainingOptions Options { get; init; }

    /// <summary>A folder holding cifar-10-batches-bin (or that folder itself).</summary>
    public required string DataDirectory { get; init; }

    /// <summary>Which VGG to build, one of <see cref="Vgg.Architectures"/>; a weights file must be for that network.</summary>
    public string Architecture { get; init; } = "vgg19";

    /// <summary>
    /// The weights file (any supported format; its path, SHA-256 and registry name, e.g. "vgg19"), or
    /// <see cref="WeightsReference.Random"/> (labelled "random weights" everywhere).
    /// </summary>
    public WeightsReference Weights { get; init; } = WeightsReference.Random;

    /// <summary>Features mode: fc7 (4,096 values) or pool5 (the last conv block's 512-channel map).</summary>
    public FeatureCut Cut { get; init; } = FeatureCut.Fc7;

    /// <summary>How the 32×32 images are resized to the options' image size.</summary>
    public Interpolation Interpolation { get; init; } = Interpolation.Bilinear;

    /// <summary>ImageNet's mean and std (default), or [0, 1] pixels without them (to reproduce the tutorial's companion).</summary>
    public InputNormalization Normalization { get; init; } = InputNormalization.ImageNet;

    /// <summary>
    /// Training images per class, a balanced subset drawn with the options' seed (validation gets one image for every nine,
    /// rounded up); null: the whole training part.
    /// </summary>
    public int? TrainPerClass { get; init; }

    /// <summary>Test images per class, a balanced subset drawn with the options' seed; null: the whole test split.</summary>
    public int? TestPerClass { get; init; }

    /// <summary>Fine-tuning: freeze every layer up to and including this one (e.g. "features.27"); null: train everything.</summary>
    public string? FreezeUpTo { get; init; }

    /// <summary>Where features are cached (default: &lt;data&gt;/features).</summary>
    public string? FeatureCacheDirectory { get; init; }

    /// <summary>The checkpoint to write (and resume from with <see cref="Resume"/>); null: none.</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Continue from <see cref="CheckpointPath"/> if that file exists (same model and settings); otherwise start afresh.</summary>
    public bool Resume { get; init; }

    /// <summary>
    /// Fine-tuning: start the new head from the one a features-mode checkpoint (fc7 cut) trained, instead of a random
    /// one, so that the pretrained layers are not pushed around by a random head's large early gradients.
    /// </summary>
    public string? HeadFrom { get; init; }

    /// <summary>Where features are cached: <see cref="FeatureCacheDirectory"/>, else &lt;data&gt;/features.</summary>
    public string FeatureCache => FeatureCacheDirectory ?? Path.Combine(Path.GetFullPath(DataDirectory), "features");

    /// <summary>
    /// The train, validation and test splits of <paramref name="data"/> these settings use: validation is the last 10 % of
    /// each training file (the tutorial's 45,000/5,000), then balanced subsets seeded by the options' seed.
    /// </summary>
    public (Cifar10Split Train, Cifar10Split Validation, Cifar10Split Test) Splits(Cifar10Dataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var (train, validation) = data.Train.SplitValidation(0.1);
        int seed = Options.Seed;
        if (TrainPerClass is { } perClass)
        {
            var t = Balanced(train, perClass, seed);
            // The full split's ratio: 4,500 training to 500 validation images per class, one validation image for every nine
            // training images, rounded up (1,000 per class → 112).
            var v = Balanced(validation, Math.Max(1, (perClass + 8) / 9), seed);
            train.Dispose();
            validation.Dispose();
            (train, validation) = (t, v);
        }
        var test = TestPerClass is { } testPerClass
            ? Balanced(data.Test, testPerClass, seed)
            : data.Test.Subset([.. Enumerable.Range(0, data.Test.Count).Select(i => (long)i)], data.Test.Name);
        return (train, validation, test);
    }

    /// <summary>
    /// <paramref name="perClass"/> images of every class, or as many as the split's smallest class holds; a class with none
    /// is refused in one line (BalancedSubset's own message was about a parameter, perClass '0', not about the data).
    /// </summary>
    private static Cifar10Split Balanced(Cifar10Split split, int perClass, int seed)
    {
        int[] counts = split.CountPerClass();
        int empty = Array.IndexOf(counts, 0);
        if (empty >= 0)
            throw new InvalidDataException($"{split.Name}: no image of class {empty}, so no balanced subset can be drawn ({split.Count:N0} images: " +
                $"{string.Join(", ", counts)} per class); use data with every class in every split (more images, or all of CIFAR-10)");
        return split.BalancedSubset(Math.Min(perClass, counts.Min()), seed);
    }

    /// <summary>
    /// The settings of a named profile with the weights file at <paramref name="weightsPath"/> (pinned by its SHA-256 now, and
    /// named by the registry entry only where those are the entry's bytes: <see cref="WeightsReference.Identify"/>), or
    /// random weights for null.
    /// </summary>
    public static TransferSettings FromProfile(TrainingProfile profile, string dataDirectory, string? weightsPath)
    {
        ArgumentNullException.ThrowIfNull(profile);
        return FromProfile(profile, dataDirectory, weightsPath is null ? WeightsReference.Random : WeightsReference.Identify(weightsPath));
    }

    /// <summary>The settings of a named profile with <paramref name="weights"/>; explicit arguments override the profile's choices.</summary>
    public static TransferSettings FromProfile(TrainingProfile profile, string dataDirectory, WeightsReference weights)
    {
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(weights);
        return new TransferSettings
        {
            Options = profile.Options,
            DataDirectory = dataDirectory,
            Weights = weights,
            Cut = profile.FeatureCut,
            Interpolation = profile.Interpolation,
            TrainPerClass = profile.TrainPerClass,
            TestPerClass = profile.TestPerClass,
        };
    }

    /// <summary>fc7 or pool5 (any case; also "avgpool", pool5's former name, which older checkpoints store); an error otherwise.</summary>
    public static FeatureCut ParseCut(string cut) => cut?.Trim().ToLowerInvariant() switch
    {
        "fc7" => FeatureCut.Fc7,
        "pool5" or "avgpool" => FeatureCut.Pool5, // avgpool: this cut's name before 2026-12; older checkpoints say it
        _ => throw new ArgumentException($"feature cut '{cut}': expected fc7 or pool5"),
    };

    /// <summary>imagenet or none (any case); an error naming the value otherwise.</summary>
    public static InputNormalization ParseNormalization(string normalization) => normalization?.Trim().ToLowerInvariant() switch
    {
        "imagenet" => InputNormalization.ImageNet,
        "none" => InputNormalization.None,
        _ => throw new ArgumentException($"normalize '{normalization}': expected imagenet or none"),
    };

    /// <summary>nearest, bilinear or bicubic (any case); an error naming the value otherwise.</summary>
    public static Interpolation ParseInterpolation(string mode) =>
        Enum.TryParse<Interpolation>(mode, ignoreCase: true, out var m) && Enum.IsDefined(m)
            ? m
            : throw new ArgumentException($"interpolation '{mode}': expected nearest, bilinear or bicubic");
}
