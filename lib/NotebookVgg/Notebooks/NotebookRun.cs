using Microsoft.Data.Analysis;
using NotebookVgg.Data;
using NotebookVgg.IO;
using NotebookVgg.Training;
using NotebookVgg.Transfer;
using NotebookVgg.Weights;

namespace NotebookVgg.Notebooks;

/// <summary>
/// What the six parameters every notebook shares (<c>profile</c>, <c>scale</c>, <c>data</c>, <c>weights</c>,
/// <c>seed</c>, <c>precision</c>) resolve to: the recipe, the data folder and the weights file, each labelled so that every chart can
/// say which data and weights it came from. One call per notebook: <see cref="ResolveAsync"/>.
/// </summary>
public sealed class NotebookRun
{
    internal NotebookRun(TrainingProfile profile, TrainingScale scale, string root, string data, WeightsReference weights,
        int seed, string dataSource)
    {
        Profile = profile;
        Scale = scale;
        Root = root;
        DataDirectory = data;
        Weights = weights;
        Seed = seed;
        DataSource = dataSource;
    }

    /// <summary>The profile's recipe at this scale (seed applied).</summary>
    public TrainingProfile Profile { get; }

    /// <summary>Full, or tiny (a check that the code runs, whose numbers mean nothing; see <see cref="Caveat"/>).</summary>
    public TrainingScale Scale { get; }

    /// <summary>The folder caches and checkpoints live in: the data folder, or the user cache folder when the data folder is read-only.</summary>
    public string Root { get; }

    /// <summary>The folder holding <c>cifar-10-batches-bin</c>.</summary>
    public string DataDirectory { get; }

    /// <summary>The weights: the file (path, SHA-256, registry name where its bytes are the registry's), or random.</summary>
    public WeightsReference Weights { get; }

    /// <summary>The weights file, or null for random weights.</summary>
    public string? WeightsPath => Weights.Path;

    /// <summary>
    /// The registry entry (torchvision's published ImageNet weights) whose SHA-256 the weights file has, or null: random
    /// weights, or a file that is not torchvision's (<see cref="WeightsReference.Registered"/> decides).
    /// </summary>
    public PretrainedWeights? ImageNetWeights => Weights.Registered;

    /// <summary>The registry name of <see cref="ImageNetWeights"/> (e.g. vgg19), or null.</summary>
    public string? WeightsName => ImageNetWeights?.Name;

    /// <summary>The seed the notebook passed, already applied to <see cref="Profile"/>'s options.</summary>
    public int Seed { get; }

    /// <summary>"CIFAR-10", "CIFAR-10 sample" or "synthetic CIFAR-10-shaped data".</summary>
    public string DataSource { get; }

    /// <summary>
    /// The one question every caption, caveat and chart of the notebooks asks about the weights: are they torchvision's
    /// ImageNet file (SHA-256 as registered)? False for random weights and for any other file — a file of unknown
    /// origin is never called pretrained.
    /// </summary>
    public bool HasImageNetWeights => ImageNetWeights is not null;

    /// <summary>The device the profile asks for ("auto": CUDA when present), resolved on this machine.</summary>
    public TorchSharp.torch.Device Device => Runtime.Devices.Resolve(Profile.Options.Device);

    /// <summary>
    /// "ImageNet-pretrained vgg19 (torchvision's file)", "random weights (not pretrained)", or
    /// "weights from FILE (not torchvision's ImageNet file)".
    /// </summary>
    public string WeightsLabel => Weights.Label;

    /// <summary>
    /// What this run's results cannot mean, in plain words ("" for the real data with pretrained weights at full scale):
    /// printed beside every accuracy a notebook reports, so that no number is read as more than it is.
    /// </summary>
    public string Caveat
    {
        get
        {
            var notes = new List<string>();
            if (Scale == TrainingScale.Tiny)
                notes.Add("tiny scale: a check that every cell runs; its numbers mean nothing");
            if (IsSynthetic)
                notes.Add("synthetic data: each class is its own colour-and-stripe pattern, which any features (random ones too) separate, " +
                    "so an accuracy here says nothing about CIFAR-10 or about pretraining");
            if (WeightsPath is null)
                notes.Add("random weights: nothing was pretrained, so this measures the machinery, not transfer learning");
            else if (!HasImageNetWeights)
                notes.Add($"{WeightsLabel}: whatever these weights learned, if anything, this is not a measure of ImageNet pretraining");
            return notes.Count == 0 ? "" : "NOTE: " + string.Join("; ", notes) + ".";
        }
    }

    /// <summary>
    /// Why a picture of what the network learned (filters, feature maps, class activation maps) may show no learned
    /// structure in this run: "Random weights", "Weights that are not torchvision's ImageNet file", "Synthetic data", the
    /// weights' reason "and synthetic data", or "" for ImageNet's weights on real images. A chart's caption starts with it.
    /// </summary>
    public string WhyNoStructure
    {
        get
        {
            var why = new List<string>();
            if (WeightsPath is null)
                why.Add("random weights");
            else if (!HasImageNetWeights)
                why.Add("weights that are not torchvision's ImageNet file");
            if (IsSynthetic)
                why.Add("synthetic data");
            string joined = string.Join(" and ", why);
            return joined.Length == 0 ? "" : char.ToUpperInvariant(joined[0]) + joined[1..];
        }
    }

    /// <summary>Whether the run substituted synthetic images for CIFAR-10 (the one test <see cref="Caveat"/>, <see cref="WhyNoStructure"/> and the notebooks' captions share).</summary>
    public bool IsSynthetic => DataSource.Contains("synthetic", StringComparison.OrdinalIgnoreCase);

    /// <summary>What a chart title says about its origin: data, weights, profile and scale.</summary>
    public string Label => $"{DataSource}, {WeightsLabel}, {Profile.Name}{(Scale == TrainingScale.Tiny ? " tiny" : "")}";

    /// <summary>The transfer-learning settings of this profile, data and weights.</summary>
    public TransferSettings Settings() => TransferSettings.FromProfile(Profile, DataDirectory, Weights) with
    {
        FeatureCacheDirectory = Path.Combine(Root, "features"),
    };

    /// <summary>Where this profile's <paramref name="kind"/> checkpoint lives, e.g. data/checkpoints/cpu-features.ckpt.</summary>
    public string CheckpointPath(string kind) => Path.Combine(Root, "checkpoints",
        $"{Profile.Name}{(Scale == TrainingScale.Tiny ? "-tiny" : "")}-{kind}.ckpt");

    /// <summary>The checkpoint notebook 4 writes for the profile's own recipe (features or fine-tuning).</summary>
    public string RecipeCheckpointPath => CheckpointPath(Profile.Options.Mode == TrainingMode.Features ? "features" : "finetune");

    /// <summary>A table of what was resolved, for display.</summary>
    public DataFrame ToDataFrame()
    {
        var o = Profile.Options;
        (string, string)[] rows =
        [
            ("profile", $"{Profile.Name}{(Scale == TrainingScale.Tiny ? " at tiny scale (a check of the code path, not a result)" : "")}"),
            ("recipe (notebook 4)", $"{o.Mode}, {o.ImageSize}×{o.ImageSize}, {o.Epochs} epochs, batch {o.BatchSize}, {o.Optimizer} lr {o.LearningRate:G3}"),
            ("images per class asked", $"train {Profile.TrainPerClass?.ToString("N0", null) ?? "all"}, test {Profile.TestPerClass?.ToString("N0", null) ?? "all"}"),
            ("data", $"{DataSource} ({DataDirectory})"),
            ("weights", WeightsPath is null ? WeightsLabel : $"{WeightsLabel} ({WeightsPath})"),
            ("seed", Seed.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("precision", o.Precision switch
            {
                Runtime.Precision.Auto => "auto: bf16 if this CPU computes it natively and a check on these images agrees with fp32 (notebooks 4 and 5 print which; the small experiments of notebooks 2 and 3 run in fp32)",
                Runtime.Precision.Bf16 => "bf16 (CPU autocast; weights stay fp32)",
                _ => "fp32",
            }),
        ];
        return new DataFrame(
            new StringDataFrameColumn("setting", rows.Select(r => r.Item1)),
            new StringDataFrameColumn("value", rows.Select(r => r.Item2)));
    }

    /// <summary>The profile at a scale, without resolving data or weights (for notebooks that need neither).</summary>
    public static TrainingProfile ProfileFor(string profile, string scale, int seed = 0, string precision = "auto")
    {
        var p = Profiles.Scaled(RunInputs.Profile(profile), Profiles.ParseScale(scale));
        return p with { Options = p.Options with { Seed = seed, Precision = Runtime.PrecisionChoice.Parse(precision) } };
    }

    /// <summary>
    /// Resolves the common parameters. <paramref name="data"/> "" is the project's data folder; <paramref name="weights"/>
    /// "" is the profile's own (none for smoke, vgg19 otherwise), "none", a registry name or a file in any supported format.
    /// At full scale a real profile needs the real CIFAR-10 and downloads it (and the weights) if missing; the smoke
    /// profile and the tiny scale never download by default: they use CIFAR-10 if present, else the CIFAR-10 sample,
    /// else synthetic data, and the profile's weights if already downloaded, else random weights — each said in the log
    /// and in every label.
    /// </summary>
    public static async Task<NotebookRun> ResolveAsync(string profile, string scale, string data, string weights, int seed,
        string precision, Action<string>? log = null)
    {
        var recipe = ProfileFor(profile, scale, seed, precision);
        var size = Profiles.ParseScale(scale);
        bool substitute = size == TrainingScale.Tiny || recipe.Name == Profiles.Smoke.Name;
        string root = ProjectPaths.DataDirectory(string.IsNullOrWhiteSpace(data) ? null : data);
        string folder = await RunInputs.DataAsync(root, substitute ? MissingData.Substitute : MissingData.Download, log).ConfigureAwait(false);
        string source;
        using (var d = Cifar10.Load(folder))
            source = d.SourceName;

        var identified = await RunInputs.WeightsReferenceAsync(recipe, weights,
            substitute ? $"{recipe.Name} at {size.ToString().ToLowerInvariant()} scale" : null, log).ConfigureAwait(false);
        // Features and checkpoints go beside the data; a read-only data folder (a shared data set) sends them to the user cache folder.
        string outputs = CacheFolder.Writable(root, "", "features and checkpoints", log) ?? root;
        return new NotebookRun(recipe, size, outputs, folder, identified, seed, source);
    }
}
