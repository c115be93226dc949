using System.Globalization;
using System.Text.Json.Serialization;
using NotebookVgg.Data;
using NotebookVgg.Models;
using NotebookVgg.Runtime;
using NotebookVgg.Training;
using NotebookVgg.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Transfer;

/// <summary>
/// What produces the features: which VGG, with which weights, cut where, and how the 32×32 images reach it (size,
/// interpolation, normalization) and are computed (precision). This one value answers "what produced these
/// features?": it keys the feature cache and the precision check, a checkpoint stores it as its model's description
/// (<see cref="ModelDescription"/>), and <see cref="Forward"/> is the only code that runs the network up to the cut.
/// </summary>
/// <param name="Architecture">One of <see cref="Vgg.Architectures"/>.</param>
/// <param name="Weights">The weights file (path, SHA-256, registry name), or <see cref="WeightsReference.Random"/>.</param>
/// <param name="Cut">Where features mode cuts the frozen network (fc7 or pool5); null when the whole network is trained
/// (fine-tuning, training from scratch).</param>
/// <param name="ImageSize">The side the 32×32 images are resized to.</param>
/// <param name="Interpolation">How they are resized.</param>
/// <param name="Mean">Per-channel mean of the normalization (the weights' own).</param>
/// <param name="Std">Per-channel standard deviation of the normalization.</param>
/// <param name="Precision">What the network computes in: fp32, or bf16 (CPU autocast; weights stay fp32).</param>
/// <param name="Seed">Seeds the network's initialization: the weights themselves when <see cref="Weights"/> is random.</param>
public sealed record Backbone(
    string Architecture,
    WeightsReference Weights,
    [property: JsonConverter(typeof(FeatureCutJson))] FeatureCut? Cut,
    int ImageSize,
    [property: JsonConverter(typeof(InterpolationJson))] Interpolation Interpolation,
    float[] Mean,
    float[] Std,
    [property: JsonConverter(typeof(ComputePrecisionJson))] Precision Precision,
    int Seed)
{
    /// <summary>
    /// The backbone <paramref name="settings"/> describe, computing in <paramref name="precision"/> (a run starts in fp32
    /// and takes the precision <see cref="PrecisionCheck"/> chooses): features mode cuts at the settings' cut, fine-tuning
    /// trains the whole network, training from scratch starts from random weights.
    /// </summary>
    public static Backbone Of(TransferSettings settings, Precision precision = Precision.Fp32)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var o = settings.Options;
        var weights = o.Mode == TrainingMode.Scratch ? WeightsReference.Random : settings.Weights;
        // The weights' own mean and std, or none at all where the settings reproduce the tutorial's companion's [0, 1] inputs.
        var p = settings.Normalization == InputNormalization.None ? Preprocessing.Unnormalized : weights.Preprocessing;
        return new Backbone(settings.Architecture, weights, o.Mode == TrainingMode.Features ? settings.Cut : null, o.ImageSize,
            settings.Interpolation, p.Mean, p.Std, precision, o.Seed);
    }

    /// <summary>How images are normalized for this backbone, at its input size.</summary>
    [JsonIgnore]
    public Preprocessing Normalization => new(Mean, Std, ImageSize, ImageSize);

    /// <summary>
    /// The network, on the CPU: <see cref="Architecture"/> initialized from <see cref="Seed"/>, the weights file loaded, then
    /// — after <paramref name="beforeNewHead"/> has seen it with its own classifier — a new head for
    /// <paramref name="numClasses"/> classes, initialized from <see cref="Seed"/> + 1 (independent of what loading drew).
    /// <paramref name="dropout"/> is the classifier's dropout in training mode (VGG's 0.5; it changes no weight).
    /// </summary>
    public Vgg Build(int numClasses, Action<Vgg>? beforeNewHead = null, double dropout = 0.5)
    {
        random.manual_seed(Seed);
        var model = Vgg.Create(Architecture, dropout: (float)dropout);
        if (Weights.Path is { } path)
            WeightLoader.Load(model, path);
        beforeNewHead?.Invoke(model);
        random.manual_seed(Seed + 1);
        model.ReplaceHead(numClasses);
        return model;
    }

    /// <summary>uint8 N×3×32×32 images as this backbone's inputs: resized to <see cref="ImageSize"/> and normalized.</summary>
    public Tensor Prepare(Tensor images) => ImageTransforms.Prepare(images, ImageSize, Normalization, Interpolation);

    /// <summary>
    /// Runs <paramref name="network"/> (built by <see cref="Build"/>, in eval mode for features) on prepared images, in
    /// <see cref="Precision"/> and in the layout its convolutions run fastest in (<see cref="CpuSpeed.ForConvolutions"/>:
    /// channels-last, but NCHW for an fp32 training step on the CPU): the float32 features at <see cref="Cut"/>, or, without a
    /// cut, the whole network's logits. In fp32 the 3×3 convolutions take <see cref="Winograd3x3"/> where it is faster than
    /// libtorch's kernels (<see cref="ConvolutionPath.WinogradWherePays"/>), in training as in inference.
    /// </summary>
    public Tensor Forward(Vgg network, Tensor prepared)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(prepared);
        using var scope = NewDisposeScope();
        bool bf16 = Precision == Precision.Bf16;
        var x = prepared.device_type == DeviceType.CPU
            ? CpuSpeed.ForConvolutions(prepared, network.training, bf16) // oneDNN's fp32 weight gradients are slow channels-last
            : CpuSpeed.IsChannelsLast(prepared) ? prepared : CpuSpeed.ToChannelsLast(prepared);
        using (bf16 && x.device_type == DeviceType.CPU ? CpuSpeed.Autocast() : null)
        {
            // fp32 takes Winograd's cheaper arithmetic where it pays (AVX2 CPUs), in training too: autograd differentiates its
            // products, so the gradients are Winograd-domain products as well.
            var path = bf16 ? ConvolutionPath.LibTorch : ConvolutionPath.WinogradWherePays;
            var y = Cut is { } cut ? network.ExtractFeatures(x, cut, path) : network.Logits(x, path);
            return y.to_type(ScalarType.Float32).MoveToOuterDisposeScope();
        }
    }

    /// <summary>A new head for the features at <see cref="Cut"/>, its widths read from <paramref name="network"/>'s architecture.</summary>
    public TorchSharp.torch.nn.Module<Tensor, Tensor> CreateHead(Vgg network, int numClasses)
    {
        ArgumentNullException.ThrowIfNull(network);
        var cut = Cut ?? throw new InvalidOperationException("a backbone trained whole has no features to put a head on");
        return FeatureHead.Create(cut, network.ChannelsAt(cut), numClasses);
    }

    /// <summary>
    /// Identifies the weights for the caches without hashing a large file again: its full path, size and time (or the random
    /// seed), with the architecture.
    /// </summary>
    internal string CacheId
    {
        get
        {
            if (Weights.Path is not { } path)
                return FormattableString.Invariant($"random:{Architecture}:seed={Seed}");
            var info = new FileInfo(path);
            return FormattableString.Invariant($"{info.FullName}:{info.Length}:{info.LastWriteTimeUtc.Ticks}:{Architecture}");
        }
    }

    /// <summary>"vgg19, pretrained vgg19, fc7 at 112×112 (bilinear), fp32": what a log line says.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Architecture}, {Weights.Label}, {(Cut is { } c ? Lower(c) : "whole network")} at {ImageSize}×{ImageSize} ({Lower(Interpolation)}), {Lower(Precision)}");

    /// <summary>Equal when every field is: the same network, weights, cut and input preparation, computed alike.</summary>
    public bool Equals(Backbone? other) =>
        other is not null && Architecture == other.Architecture && Weights == other.Weights && Cut == other.Cut && ImageSize == other.ImageSize
        && Interpolation == other.Interpolation && Mean.SequenceEqual(other.Mean) && Std.SequenceEqual(other.Std)
        && Precision == other.Precision && Seed == other.Seed;

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Architecture, Weights, Cut, ImageSize, Interpolation, Precision, Seed);

    /// <summary>An enum value as checkpoints and logs write it: "fc7", "bilinear", "bf16".</summary>
    internal static string Lower(Enum value) => value.ToString().ToLowerInvariant();
}
