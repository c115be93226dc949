using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using NotebookVgg.Data;
using NotebookVgg.IO;
using NotebookVgg.Models;
using NotebookVgg.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Transfer;

/// <summary>What the check measured: bf16 against fp32 on the same images.</summary>
/// <param name="Images">How many images were compared.</param>
/// <param name="FeatureError">Relative L2 distance of the features at the cut, ‖bf16 − fp32‖ / ‖fp32‖.</param>
/// <param name="Top1Agreements">Images whose top-1 class (the weights' own classifier) is the same in both.</param>
/// <param name="DistinctTop1">Distinct top-1 classes among the fp32 answers: with random weights every image tends to get
/// the same class, and then the agreement says little (the reason says so).</param>
internal sealed record PrecisionMeasurement(int Images, double FeatureError, int Top1Agreements, int DistinctTop1 = 0);

/// <summary>
/// Decides the precision of a run. <see cref="Precision.Auto"/> trusts bf16 only on a CPU that computes it natively
/// and only after comparing it with fp32 on a check batch of the user's own images, for the weights file and input
/// size in use: the features at the cut must agree within <see cref="MaxFeatureError"/> and the weights' own
/// classifier must pick the same top-1 class for at least <see cref="MinTop1Agreement"/> of the images. The result is
/// cached (keyed like the feature cache), so the check costs seconds once.
/// </summary>
internal static class PrecisionCheck
{
    /// <summary>Largest relative L2 distance of the features accepted (bf16 keeps 8 significant bits: ~0.4 % per value).</summary>
    public const double MaxFeatureError = 0.03;

    /// <summary>Smallest share of check images whose top-1 class must agree.</summary>
    public const double MinTop1Agreement = 0.9;

    /// <summary>Images compared.</summary>
    public const int CheckImages = 32;

    /// <summary>
    /// The precision to use. <paramref name="model"/> is the network as loaded, with its own classifier (before the
    /// head is replaced); <paramref name="checkBatch"/> is a prepared N×3×S×S batch of the run's images. The model is
    /// left in eval mode and unchanged.
    /// </summary>
    public static PrecisionChoice Choose(Precision requested, Device device, Vgg model, Tensor checkBatch, FeatureCut cut,
        string cacheKey, string? cacheDirectory, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(checkBatch);
        if (requested == Precision.Fp32)
            return PrecisionChoice.Fp32;
        if (device.type != DeviceType.CPU)
            return new(requested, false, $"fp32 on {device.type}: bf16 here is CPU autocast");
        if (requested == Precision.Bf16)
        {
            if (!CpuAutocast.IsAvailable)
                throw new NotSupportedException("precision bf16: libtorch's CPU autocast entry points were not found in this libtorch (use fp32 or auto)");
            return new(requested, true, CpuSpeed.HasNativeBf16 ? "bf16 asked for" : "bf16 asked for; this CPU has no native bf16, so it is emulated and slower than fp32");
        }
        if (!CpuSpeed.HasNativeBf16)
            return new(requested, false, "this CPU has no native bfloat16 (AVX512_BF16 or AMX)");
        if (!CpuAutocast.IsAvailable)
            return new(requested, false, "libtorch's CPU autocast entry points were not found");

        // Cached beside the features (or in their stand-in in the user cache folder); a cache that cannot be written is skipped.
        string fileName = $"precision-{cacheKey}.json";
        PrecisionMeasurement? m = cacheDirectory is null ? null
            : CacheFolder.Candidates(cacheDirectory, FeatureCache.CacheFolderName).Select(d => Path.Combine(d, fileName))
                .Where(File.Exists).Select(ReadCached).FirstOrDefault(c => c is not null);
        bool cached = m is not null;
        m ??= Measure(model, checkBatch, cut);
        if (!cached && cacheDirectory is not null
            && CacheFolder.Writable(cacheDirectory, FeatureCache.CacheFolderName, "precision check cache", log) is { } folder)
        {
            try
            {
                AtomicFile.WriteAllText(Path.Combine(folder, fileName), JsonSerializer.Serialize(m), "precision check cache file");
            }
            catch (WriteFailedException ex)
            {
                log?.Invoke($"precision check: not cached, the run goes on without it: {ex.Message}");
            }
        }
        var choice = Judge(m);
        return cached ? choice with { Reason = choice.Reason + " (check read from the cache)" } : choice;
    }

    /// <summary>bf16 when the measurement passes both thresholds, else fp32 with the reason.</summary>
    public static PrecisionChoice Judge(PrecisionMeasurement measurement)
    {
        ArgumentNullException.ThrowIfNull(measurement);
        var m = measurement;
        string what = string.Create(CultureInfo.InvariantCulture,
            $"checked against fp32 on {m.Images} images: features differ by {m.FeatureError:P2} (limit {MaxFeatureError:P0}), top-1 agrees on {m.Top1Agreements}/{m.Images} (limit {MinTop1Agreement:P0}; {m.DistinctTop1} distinct class(es) among fp32's answers)");
        bool ok = m.FeatureError <= MaxFeatureError && m.Top1Agreements >= MinTop1Agreement * m.Images;
        return new PrecisionChoice(Precision.Auto, ok, ok ? what : $"bf16 rejected, fp32 used: {what}");
    }

    /// <summary>Runs the check batch through the model in fp32 and in bf16 (autocast) and compares.</summary>
    public static PrecisionMeasurement Measure(Vgg model, Tensor checkBatch, FeatureCut cut)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(checkBatch);
        model.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = CpuSpeed.ToChannelsLast(checkBatch);
        (Tensor Features, Tensor Logits) Run(bool bf16)
        {
            using var autocast = bf16 ? CpuSpeed.Autocast() : null;
            var pool5 = model.features.call(x);
            var features = model.FromPool5(pool5, cut);
            var logits = model.Head.call(model.FromPool5(pool5, FeatureCut.Fc7)); // dropout (classifier.5) is the identity in eval mode
            return (features.to_type(ScalarType.Float32), logits.to_type(ScalarType.Float32));
        }
        var (f32, l32) = Run(false);
        var (f16, l16) = Run(true);
        double error = (f16 - f32).norm().item<float>() / Math.Max(1e-30, f32.norm().item<float>());
        var top32 = l32.argmax(1);
        int agree = (int)l16.argmax(1).eq(top32).sum().item<long>();
        int distinct = (int)top32.unique().output.shape[0];
        if (!double.IsFinite(error))
            error = double.PositiveInfinity;
        return new PrecisionMeasurement((int)checkBatch.shape[0], error, agree, distinct);
    }

    /// <summary>
    /// The precision of a run of <paramref name="backbone"/> (its own precision aside) on <paramref name="device"/>: for auto,
    /// bf16 is compared with fp32 on the first <see cref="CheckImages"/> training images, prepared as the run prepares them,
    /// through <paramref name="network"/> with its own classifier. A network trained whole is checked at fc7.
    /// </summary>
    public static PrecisionChoice Choose(Precision requested, Device device, Backbone backbone, Vgg network, Cifar10Split train, string cacheDirectory)
    {
        ArgumentNullException.ThrowIfNull(backbone);
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(train);
        using var scope = NewDisposeScope();
        int n = (int)Math.Min(CheckImages, train.Count);
        var batch = backbone.Prepare(train.Images.narrow(0, 0, n)).to(device);
        network.to(device);
        return Choose(requested, device, network, batch, backbone.Cut ?? FeatureCut.Fc7, KeyFor(backbone, batch), cacheDirectory);
    }

    /// <summary>
    /// A SHA-256 over what the check depends on: the backbone's weights, cut and input preparation (not its precision: that
    /// is what is checked) and the images.
    /// </summary>
    public static string KeyFor(Backbone backbone, Tensor checkBatch)
    {
        ArgumentNullException.ThrowIfNull(backbone);
        ArgumentNullException.ThrowIfNull(checkBatch);
        var cut = backbone.Cut ?? FeatureCut.Fc7;
        string preparation = ImageTransforms.PreparationKey(backbone.Interpolation, backbone.Normalization);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(FormattableString.Invariant($"precision-v2|{backbone.CacheId}|{cut}|{backbone.ImageSize}|{preparation}|")));
        using (var c = checkBatch.contiguous())
            hash.AppendData(c.bytes);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static PrecisionMeasurement? ReadCached(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<PrecisionMeasurement>(File.ReadAllText(path)) is { Images: > 0 } m
                && m.Top1Agreements >= 0 && m.Top1Agreements <= m.Images && !double.IsNaN(m.FeatureError) ? m : null;
        }
        catch (JsonException)
        {
            return null; // an unreadable cache entry is measured again and overwritten
        }
    }
}
