using System.Text;
using static TorchSharp.torch;

namespace NotebookVgg.Weights;

/// <summary>What <see cref="WeightLoader.Load(nn.Module, string, IReadOnlyCollection{string}?)"/> did.</summary>
/// <remarks>Layout is "torchvision", or "timm" when timm's pre_logits/head names were mapped.</remarks>
public sealed record LoadReport(string Source, WeightsFormat Format, string? CheckpointKey, string Layout, int LoadedTensors, long LoadedElements, IReadOnlyList<string> SkippedKeys);

/// <summary>One key that does not fit: missing from the file, unexpected in it, or of another shape or kind.</summary>
public sealed record WeightMismatch(string Key, string Problem, long[]? Expected, long[]? Found)
{
    /// <summary>One line for error messages, e.g. "missing classifier.6.weight (expected [10, 4096])".</summary>
    public override string ToString() => Problem switch
    {
        "missing" => $"missing {Key} (expected {ScalarTypeSizes.Describe(Expected!)})",
        "unexpected" => $"unexpected {Key} (found {ScalarTypeSizes.Describe(Found!)})",
        _ => $"{Problem} {Key}: expected {ScalarTypeSizes.Describe(Expected!)}, found {ScalarTypeSizes.Describe(Found!)}",
    };
}

/// <summary>Weights that do not fit the model; lists every offending key. Nothing was copied into the model.</summary>
public sealed class WeightsMismatchException : Exception
{
    /// <summary>A message naming <paramref name="source"/> (the file) and listing every mismatch, one per line.</summary>
    public WeightsMismatchException(string source, IReadOnlyList<WeightMismatch> mismatches)
        : base(Format(source, mismatches)) => Mismatches = mismatches;

    /// <summary>A generic message and no <see cref="Mismatches"/>.</summary>
    public WeightsMismatchException() : this("weights do not fit the model") { }

    /// <summary>The given message and no <see cref="Mismatches"/>.</summary>
    public WeightsMismatchException(string message) : base(message) => Mismatches = [];

    /// <summary>The given message and cause, and no <see cref="Mismatches"/>.</summary>
    public WeightsMismatchException(string message, Exception innerException) : base(message, innerException) => Mismatches = [];

    /// <summary>Every key that does not fit.</summary>
    public IReadOnlyList<WeightMismatch> Mismatches { get; }

    private static string Format(string source, IReadOnlyList<WeightMismatch> mismatches)
    {
        var sb = new StringBuilder($"{source}: {mismatches.Count} key(s) do not fit the model (nothing was loaded):");
        foreach (var m in mismatches)
            sb.Append('\n').Append("  ").Append(m);
        return sb.ToString();
    }
}

/// <summary>
/// Loads weights into a model strictly, like <c>load_state_dict(strict=True)</c>: every key of the model must be in the
/// file with the same shape and none extra, except keys the caller skips (e.g. the replaced head <c>classifier.6</c>).
/// Everything is checked before anything is copied, so a failed load leaves the model untouched.
/// </summary>
public static class WeightLoader
{
    /// <summary>Reads <paramref name="path"/> (any <see cref="WeightsFormat"/>) and loads it into <paramref name="model"/>.</summary>
    /// <remarks><paramref name="skip"/>: keys, or module prefixes such as <c>"classifier.6"</c>, neither required nor loaded.</remarks>
    public static LoadReport Load(nn.Module model, string path, IReadOnlyCollection<string>? skip = null)
    {
        using var weights = StateDict.Read(path);
        return Load(model, weights, skip);
    }

    /// <summary>Loads an already-read state dict into <paramref name="model"/> (see the other overload).</summary>
    public static LoadReport Load(nn.Module model, StateDict weights, IReadOnlyCollection<string>? skip = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(weights);
        skip ??= [];
        bool Skipped(string key) => skip.Any(s => key == s || key.StartsWith(s + ".", StringComparison.Ordinal));

        var (source, layout) = ToTorchvisionLayout(weights);
        try
        {
            var target = model.state_dict();
            var problems = new List<WeightMismatch>();
            foreach (var (key, expected) in target)
            {
                if (Skipped(key))
                    continue;
                if (!source.TryGetValue(key, out var found))
                    problems.Add(new(key, "missing", expected.shape, null));
                else if (!expected.shape.SequenceEqual(found.shape))
                    problems.Add(new(key, "shape mismatch", expected.shape, found.shape));
                else if (expected.dtype.IsFloating() != found.dtype.IsFloating())
                    problems.Add(new(key, $"dtype mismatch ({expected.dtype} vs {found.dtype})", expected.shape, found.shape));
            }
            foreach (var (key, found) in source)
            {
                if (!target.ContainsKey(key) && !Skipped(key))
                    problems.Add(new(key, "unexpected", null, found.shape));
            }
            if (problems.Count > 0)
                throw new WeightsMismatchException(weights.Source, problems);
            EnsureFinite(weights.Source, source.Where(kv => !Skipped(kv.Key)));

            long elements = 0;
            int loaded = 0;
            using (no_grad())
            {
                foreach (var (key, dest) in target)
                {
                    if (Skipped(key))
                        continue;
                    dest.copy_(source[key]);
                    elements += dest.numel();
                    loaded++;
                }
            }
            var skipped = target.Keys.Concat(source.Keys).Where(Skipped).Distinct().ToList();
            return new LoadReport(weights.Source, weights.Format, weights.CheckpointKey, layout, loaded, elements, skipped);
        }
        finally
        {
            // Reshaped timm tensors are new views owned here; the originals belong to the StateDict.
            foreach (var (key, t) in source)
            {
                if (!weights.TryGetValue(key, out var original) || !ReferenceEquals(original, t))
                    t.Dispose();
            }
        }
    }

    /// <summary>
    /// A NaN or infinite weight poisons every output it reaches, and evaluation would report "loss NaN" as if it were a
    /// result: refuse the file instead, naming the first such tensor.
    /// </summary>
    public static void EnsureFinite(string source, IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        foreach (var (key, t) in tensors)
        {
            if (!t.dtype.IsFloating())
                continue;
            using var bad = t.isfinite().logical_not_().sum();
            long count = bad.item<long>();
            if (count > 0)
                throw new InvalidDataException(
                    $"{source}: tensor {key} holds {count:N0} NaN or infinite value(s) of {t.numel():N0} (a damaged file, or saved from a run that diverged)");
        }
    }

    /// <summary>Number of classes of the head (<c>classifier.6</c>, or timm's <c>head.fc</c>) in <paramref name="weights"/>, or null if it has none.</summary>
    public static long? HeadClasses(StateDict weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        foreach (string key in new[] { "classifier.6.weight", "head.fc.weight", "module.classifier.6.weight" })
        {
            if (weights.TryGetValue(key, out var t) && t.ndim == 2)
                return t.shape[0];
        }
        return null;
    }

    /// <summary>
    /// The file's tensors under torchvision's names: a <c>module.</c> prefix (DataParallel) is dropped, and timm's VGG
    /// layout (<c>pre_logits.fc1</c>/<c>fc2</c> as 7×7 and 1×1 convolutions, <c>head.fc</c>) becomes classifier.0/3/6.
    /// </summary>
    internal static (Dictionary<string, Tensor> Tensors, string Layout) ToTorchvisionLayout(StateDict weights)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        bool dataParallel = weights.Count > 0 && weights.Keys.All(k => k.StartsWith("module.", StringComparison.Ordinal));
        bool timm = weights.ContainsKey("pre_logits.fc1.weight") || weights.ContainsKey("head.fc.weight");
        foreach (var (name, tensor) in weights.Entries)
        {
            string key = dataParallel ? name["module.".Length..] : name;
            if (timm)
            {
                (key, var mapped) = key switch
                {
                    "pre_logits.fc1.weight" => ("classifier.0.weight", Flatten(tensor)),
                    "pre_logits.fc1.bias" => ("classifier.0.bias", tensor),
                    "pre_logits.fc2.weight" => ("classifier.3.weight", Flatten(tensor)),
                    "pre_logits.fc2.bias" => ("classifier.3.bias", tensor),
                    "head.fc.weight" => ("classifier.6.weight", tensor),
                    "head.fc.bias" => ("classifier.6.bias", tensor),
                    _ => (key, tensor),
                };
                result[key] = mapped;
            }
            else
            {
                result[key] = tensor;
            }
        }
        return (result, timm ? "timm" : "torchvision");
    }

    // A convolution weight [out, in, kh, kw] applied to a 7×7 (or 1×1) map equals a linear layer over the flattened map:
    // torch.flatten(x, 1) orders inputs channel-major, the same order as this reshape.
    private static Tensor Flatten(Tensor convWeight) =>
        convWeight.ndim == 4 ? convWeight.reshape(convWeight.shape[0], -1) : convWeight.alias();
}
