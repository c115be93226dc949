using System.Security.Cryptography;
using System.Text;
using NotebookVgg.Data;
using NotebookVgg.IO;
using NotebookVgg.Models;
using NotebookVgg.Runtime;
using NotebookVgg.Weights;
using static TorchSharp.torch;

namespace NotebookVgg.Transfer;

/// <summary>Features of one split: N×D float32 (D = 4,096 for fc7; 512×h×w maps for the pool5 cut) and the labels.</summary>
public sealed class CachedFeatures(Tensor features, Tensor labels, string key, bool fromCache, string? path) : IDisposable
{
    /// <summary>float32 on the CPU, one row per record of the split, in the split's order.</summary>
    public Tensor Features { get; } = features;

    /// <summary>int64, N: the split's labels, in the same order as <see cref="Features"/>.</summary>
    public Tensor Labels { get; } = labels;

    /// <summary>The hex key the features were stored under.</summary>
    public string Key { get; } = key;

    /// <summary>True when read from disk, false when computed by this call.</summary>
    public bool FromCache { get; } = fromCache;

    /// <summary>The .safetensors file the features were read from or written to; null when no cache folder could be written (the run said so).</summary>
    public string? Path { get; } = path;

    /// <summary>Records (N).</summary>
    public long Count => Labels.shape[0];

    /// <summary>
    /// Batches of (features, labels) for training or evaluating a head, shuffled per epoch by the one rule of
    /// <see cref="Seeding"/> (the rule image batches follow too) when <paramref name="shuffle"/>; in order otherwise.
    /// </summary>
    public BatchSource Batches(int batchSize, bool shuffle, int seed, string name)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        long n = Count;
        int batches = (int)((n + batchSize - 1) / batchSize);
        return new BatchSource(name, n, batches, Enumerate);

        IEnumerable<(Tensor, Tensor)> Enumerate(int epoch)
        {
            Tensor? order = null;
            if (shuffle)
            {
                order = tensor(Seeding.Permutation(n, seed, epoch)).DetachFromDisposeScope(); // outlives the consumer's per-batch scopes
            }
            try
            {
                for (long start = 0; start < n; start += batchSize)
                {
                    long count = Math.Min(batchSize, n - start);
                    if (order is null)
                    {
                        yield return (Features.narrow(0, start, count), Labels.narrow(0, start, count));
                    }
                    else
                    {
                        var idx = order.narrow(0, start, count);
                        yield return (Features.index_select(0, idx), Labels.index_select(0, idx));
                    }
                }
            }
            finally
            {
                order?.Dispose();
            }
        }
    }

    /// <summary>Disposes <see cref="Features"/> and <see cref="Labels"/>.</summary>
    public void Dispose()
    {
        Features.Dispose();
        Labels.Dispose();
    }
}

/// <summary>Progress of a feature-extraction pass.</summary>
public sealed record ExtractionProgress(string Split, int Done, int Total, double ImagesPerSecond);

/// <summary>
/// Computes the frozen network's output for every image once (eval mode, no gradients) and keeps it on disk, keyed by
/// everything that determines it: the <see cref="Backbone"/> (weights, cut, input size, interpolation, normalization,
/// precision) and the exact images. Any change gives a new key, so a stale cache is never used.
/// </summary>
internal static class FeatureCache
{
    private const string FileExtension = ".safetensors";

    /// <summary>A cache file's path with its 64-digit key cut to 12 digits, for a log line: the key is for the cache, not for the reader.</summary>
    internal static string Readable(string? path)
    {
        if (path is null)
            return "not cached";
        int dash = path.LastIndexOf('-');
        bool keyed = dash >= 0 && path.EndsWith(FileExtension, StringComparison.Ordinal) && path.Length - dash - 1 - FileExtension.Length == 64;
        return keyed ? path[..(dash + 13)] + "…" + FileExtension : path;
    }

    /// <summary>
    /// The features of <paramref name="split"/> by <paramref name="backbone"/> (<paramref name="network"/> is the network it
    /// built): read from <paramref name="cacheDirectory"/> (or from its stand-in in the user cache folder,
    /// <see cref="CacheFolder"/>) when a file under their key is there, else extracted on <paramref name="device"/> (default
    /// CPU) and stored. The caller owns the result.
    /// <para>
    /// Storing never stops the work: a read-only <paramref name="cacheDirectory"/> (a read-only data set is normal) puts the file in
    /// the user cache folder instead, and a cache that cannot be written at all (a full disk) is skipped; <paramref name="log"/>
    /// hears which, in one line. Two processes computing the same features meet at the file's lock: the second waits for the
    /// first and reads its file rather than computing them again.
    /// </para>
    /// </summary>
    /// <exception cref="InvalidDataException">A file under the key lacks the expected tensors, or the features are not finite.</exception>
    public static CachedFeatures GetOrCompute(
        Backbone backbone, Vgg network, Cifar10Split split, string cacheDirectory, int batchSize = 64,
        Device? device = null, IProgress<ExtractionProgress>? progress = null, CancellationToken cancellationToken = default,
        Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(backbone);
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(split);
        string key = KeyFor(split, backbone);
        // The full key is the file name: a file found under it holds exactly these features.
        string fileName = $"{split.Name}-{key}{FileExtension}";
        if (Find(cacheDirectory, fileName) is { } found)
            return Read(found, split, key);

        string what = $"feature cache ({split.Name})";
        string? folder = CacheFolder.Writable(cacheDirectory, CacheFolderName, what, log);
        string? path = folder is null ? null : System.IO.Path.Combine(folder, fileName);
        using var computing = path is null ? null : LockOrWait(path, split.Name, log, cancellationToken);
        if (path is not null && File.Exists(path))
            return Read(path, split, key); // another process computed them while this one waited

        var features = Extract(backbone, network, split, batchSize, device ?? CPU, progress, cancellationToken);
        var labels = split.Labels.clone();
        if (path is not null)
        {
            try
            {
                SafetensorsFile.Write(path, new Dictionary<string, Tensor> { ["features"] = features, ["labels"] = labels },
                    new Dictionary<string, string> { ["split"] = split.Name, ["cut"] = backbone.Cut.ToString()!, ["imageSize"] = backbone.ImageSize.ToString(System.Globalization.CultureInfo.InvariantCulture) },
                    what: "feature cache file");
            }
            catch (WriteFailedException ex)
            {
                log?.Invoke($"{what}: not stored, the run goes on without it: {ex.Message}");
                path = null;
            }
        }
        return new CachedFeatures(features, labels, key, fromCache: false, path);
    }

    /// <summary>The sub-folder of the user cache folder that stands in for a feature cache folder that cannot be written.</summary>
    internal const string CacheFolderName = "features";

    /// <summary>The cached file <paramref name="fileName"/> in <paramref name="cacheDirectory"/> or its stand-in, if there.</summary>
    private static string? Find(string cacheDirectory, string fileName) =>
        CacheFolder.Candidates(cacheDirectory, CacheFolderName).Select(d => System.IO.Path.Combine(d, fileName)).FirstOrDefault(File.Exists);

    private static CachedFeatures Read(string path, Cifar10Split split, string key)
    {
        using var stored = SafetensorsFile.Read(path);
        if (stored.TryGetValue("features", out var f) && stored.TryGetValue("labels", out var l) && l.shape[0] == split.Count)
            return new CachedFeatures(f.clone(), l.clone(), key, fromCache: true, path);
        throw new InvalidDataException($"{path}: a feature cache file without the expected 'features' and 'labels' tensors; delete it to recompute");
    }

    /// <summary>
    /// The lock on computing <paramref name="path"/>: taken at once, or after waiting for the process that holds it (which is
    /// computing the same features). Null when no lock file can be made: then the features are computed without one (two
    /// processes then both compute and both store the same file, each by its own temporary name and a rename).
    /// </summary>
    private static FileLock? LockOrWait(string path, string split, Action<string>? log, CancellationToken cancellationToken)
    {
        try
        {
            return FileLock.Acquire(FileLock.PathFor(path), $"computing the {split} features {path}",
                holder => log?.Invoke($"feature cache ({split}): {holder} to finish computing the same features; this run then reads them"),
                cancellationToken);
        }
        catch (IOException ex) when (ex is not WriteFailedException)
        {
            return null;
        }
    }

    /// <summary>The frozen part's output for every image of <paramref name="split"/>, as one float32 tensor on the CPU.</summary>
    public static Tensor Extract(Backbone backbone, Vgg network, Cifar10Split split, int batchSize, Device device,
        IProgress<ExtractionProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(backbone);
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(split);
        network.eval();
        using var noGrad = no_grad();
        var parts = new List<Tensor>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int done = 0;
        var iterator = new BatchIterator(split, batchSize, backbone.Prepare, shuffle: false);
        foreach (var batch in iterator.Epoch(0))
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var x = batch.Images.to(device);
            var y = backbone.Forward(network, x);
            if (!y.isfinite().all().item<bool>())
                throw new InvalidDataException($"features of {split.Name}, images {done}–{done + batch.Count - 1}: NaN or infinite values, " +
                    $"first in layer {network.FirstNonFiniteLayer(x) ?? "(none in fp32: the bf16 run overflowed; use precision fp32)"} — the weights overflow there");
            parts.Add(y.to(CPU).contiguous().MoveToOuterDisposeScope());
            // The trainer's memory rule, per batch: on a notebook's thread, with Winograd's chunked buffers (AVX2), malloc's
            // heap grew ~200 MB a batch with all of it free (cause not found), until the kernel was killed at 24 GB. A trim
            // when the heap grew bounds that.
            NativeAllocator.ReleaseFreeIfAbove(NativeAllocator.FreeBytesKeptBetweenSteps);
            done += batch.Count;
            LibraryMetrics.FeatureImages.Add(batch.Count);
            progress?.Report(new ExtractionProgress(split.Name, done, split.Count, done / Math.Max(1e-9, clock.Elapsed.TotalSeconds)));
        }
        if (parts.Count == 0)
            throw new InvalidOperationException($"split '{split.Name}' is empty: nothing to extract");
        var all = cat(parts, 0);
        foreach (var p in parts)
            p.Dispose();
        return all;
    }

    /// <summary>A SHA-256 over the backbone and the exact image and label bytes (the same text as before the backbone was one value).</summary>
    public static string KeyFor(Cifar10Split split, Backbone backbone)
    {
        ArgumentNullException.ThrowIfNull(split);
        ArgumentNullException.ThrowIfNull(backbone);
        var cut = backbone.Cut ?? throw new ArgumentException("a backbone trained whole has no features to cache", nameof(backbone));
        bool bf16 = backbone.Precision == Precision.Bf16;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        string header = FormattableString.Invariant(
            $"v1|{backbone.CacheId}|{cut}|{backbone.ImageSize}|{ImageTransforms.PreparationKey(backbone.Interpolation, backbone.Normalization)}|bf16={bf16}|{split.Count}");
        hash.AppendData(Encoding.UTF8.GetBytes(header));
        using (var images = split.Images.contiguous())
            hash.AppendData(images.bytes);
        using (var labels = split.Labels.contiguous())
            hash.AppendData(labels.bytes);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
