using NotebookVgg.Data;
using NotebookVgg.IO;
using NotebookVgg.Training;
using NotebookVgg.Weights;

namespace NotebookVgg.Transfer;

/// <summary>What <see cref="RunInputs.DataAsync"/> does when the data folder holds no CIFAR-10.</summary>
public enum MissingData
{
    /// <summary>Fail with one line saying how to get it (nvgg commands: downloading is a command of its own).</summary>
    Fail,

    /// <summary>Download the real CIFAR-10 (170 MB, MD5-checked); offline, fail saying what to do (notebooks, real profiles).</summary>
    Download,

    /// <summary>Use the CIFAR-10 sample beside the repository, else synthetic data, each labelled so (smoke profile, tiny scale).</summary>
    Substitute,
}

/// <summary>
/// Turns what a user names (a profile, a data folder, weights by name or file) into what a run uses: one resolver for
/// the notebooks and for every nvgg command, so that both decide "auto", find data and download weights alike.
/// </summary>
public static class RunInputs
{
    /// <summary>The profile of that name; null, "" or "auto": cpu, or gpu where CUDA is usable.</summary>
    public static TrainingProfile Profile(string? name) => Profiles.Get(string.IsNullOrWhiteSpace(name) ? "auto" : name);

    /// <summary>
    /// The folder holding CIFAR-10 (<c>cifar-10-batches-bin</c>) under <paramref name="dataDirectory"/> (null: the project's
    /// data folder). When there is none, <paramref name="ifMissing"/> decides; a substitute is never silent: it is logged,
    /// and <see cref="Cifar10Dataset.SourceName"/> labels it everywhere.
    /// </summary>
    public static async Task<string> DataAsync(string? dataDirectory, MissingData ifMissing, Action<string>? log = null,
        IProgress<DownloadProgress>? progress = null, CancellationToken ct = default)
    {
        string data = ProjectPaths.DataDirectory(dataDirectory);
        if (HasCifar(data))
            return data;
        switch (ifMissing)
        {
            case MissingData.Fail:
                throw new DirectoryNotFoundException(
                    $"no CIFAR-10 in {data}: run 'nvgg data download' (or, offline, 'nvgg data extract ../shared/data/cifar-10-sample-binary.tar.gz' or 'nvgg data synth --out {data}')");
            case MissingData.Download:
                try
                {
                    log?.Invoke($"CIFAR-10 is not in {data}: downloading {Cifar10.Url} (170 MB, checked against its MD5)");
                    return await Cifar10.DownloadAsync(data, progress: progress ?? ThrottledLog.For(log), ct: ct, log: log).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or HttpRequestException or InvalidDataException && ex is not WriteFailedException)
                {
                    throw new InvalidOperationException(
                        $"the real CIFAR-10 could not be downloaded ({ex.Message}). Place cifar-10-binary.tar.gz in {data} and run again, " +
                        "or use profile 'smoke' or scale 'tiny' (CIFAR-10 sample or synthetic data).", ex);
                }
        }
        string sampleTarget = Path.Combine(data, "sample");
        if (HasCifar(sampleTarget))
            return sampleTarget;
        if (ProjectPaths.SampleArchive() is { } sample)
        {
            // A read-only data folder (a read-only checkout) is no error: the sample then goes to the user cache folder.
            string? writable = CacheFolder.Writable(data, "", $"CIFAR-10 sample", log);
            sampleTarget = Path.Combine(writable ?? data, "sample");
            if (HasCifar(sampleTarget))
                return sampleTarget;
            log?.Invoke($"no CIFAR-10 in {data}; using the CIFAR-10 sample {sample}");
            try
            {
                return await Cifar10.ExtractAsync(sample, sampleTarget, ct: ct, log: log).ConfigureAwait(false);
            }
            catch (IOException) when (HasCifar(sampleTarget))
            {
                return sampleTarget; // another process extracted it while this one waited
            }
        }
        string synthetic = Path.Combine(data, "synthetic");
        if (!HasCifar(synthetic))
        {
            log?.Invoke($"no CIFAR-10 and no sample found; writing SYNTHETIC CIFAR-10-shaped data to {synthetic}");
            SyntheticCifar.Write(synthetic, 2000, 500, seed: 0);
        }
        return synthetic;
    }

    /// <summary>
    /// The weights a run of <paramref name="profile"/> uses: <paramref name="requested"/> (a registry name, a file or "none")
    /// where given, else the profile's own (none for smoke, vgg19 otherwise). The one place that decides it, for the
    /// notebooks and every nvgg command.
    /// </summary>
    public static string WeightsName(TrainingProfile profile, string? requested)
    {
        ArgumentNullException.ThrowIfNull(profile);
        return string.IsNullOrWhiteSpace(requested) ? profile.PretrainedWeights ?? "none" : requested.Trim();
    }

    /// <summary>
    /// The weights of <see cref="WeightsName"/>, found or downloaded and identified: named after a registry entry only
    /// where the file's SHA-256 is that entry's (any other file is labelled as not torchvision's, and the log says so).
    /// With <paramref name="randomIfNotDownloaded"/> (why, e.g. "cpu at tiny scale"), a profile's own registry weights
    /// that are not downloaded yet are replaced by random weights instead of downloaded, and the log says so.
    /// </summary>
    public static async Task<WeightsReference> WeightsReferenceAsync(TrainingProfile profile, string? requested,
        string? randomIfNotDownloaded = null, Action<string>? log = null, IProgress<DownloadProgress>? progress = null,
        CancellationToken ct = default)
    {
        string name = WeightsName(profile, requested);
        if (string.IsNullOrWhiteSpace(requested) && randomIfNotDownloaded is not null
            && WeightsStore.Parse(name) is { NeedsDownload: true, Entry: { } entry })
        {
            log?.Invoke($"{randomIfNotDownloaded}: the {entry.Name} weights are not downloaded, so this run uses RANDOM weights " +
                $"(pass weights={entry.Name} to download them)");
            return WeightsReference.Random;
        }
        if (await WeightsAsync(name, log, progress, ct).ConfigureAwait(false) is not { } path)
            return WeightsReference.Random;
        // Hashed once: the label asks whether these bytes are the registry's, whatever the file is called.
        var identified = WeightsReference.Identify(path);
        if (identified.Registered is null)
            log?.Invoke($"weights: {path} is not torchvision's ImageNet file (its SHA-256 matches no registered file): every label says so");
        return identified;
    }

    /// <summary>
    /// The weights file <paramref name="weights"/> names: null for "none" (random weights), a file as given, or a registry
    /// entry's cached file, downloaded and SHA-256-checked if missing. Offline failures say what to do.
    /// </summary>
    public static async Task<string?> WeightsAsync(string weights, Action<string>? log = null,
        IProgress<DownloadProgress>? progress = null, CancellationToken ct = default)
    {
        var reference = WeightsStore.Parse(weights);
        if (reference.Entry is not { } entry)
            return reference.Path;
        if (!reference.NeedsDownload)
            return await WeightsStore.EnsureAsync(entry, ct: ct, log: log).ConfigureAwait(false);
        string folder = Path.GetDirectoryName(reference.Path)!;
        try
        {
            log?.Invoke($"downloading {entry.Url} ({(entry.Bytes ?? 0) / 1e6:F0} MB, SHA-256 checked) into {folder}");
            return await WeightsStore.EnsureAsync(entry, progress: progress ?? ThrottledLog.For(log), ct: ct, log: log).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException or InvalidDataException && ex is not WriteFailedException)
        {
            throw new InvalidOperationException(
                $"the pretrained weights '{entry.Name}' could not be downloaded ({ex.Message}). Place {entry.FileName} in {folder} " +
                "and run again, or use weights \"none\" with profile 'smoke'.", ex);
        }
    }

    private static bool HasCifar(string dir)
    {
        try
        {
            Cifar10.ResolveFolder(dir);
            return true;
        }
        catch (Exception ex) when (ex is DirectoryNotFoundException or FileNotFoundException)
        {
            return false;
        }
    }

    /// <summary>Download progress as a line every 5 %, for notebook output and logs.</summary>
    private sealed class ThrottledLog(Action<string> log) : IProgress<DownloadProgress>
    {
        private int _lastBucket = -1;

        public static ThrottledLog? For(Action<string>? log) => log is null ? null : new ThrottledLog(log);

        public void Report(DownloadProgress value)
        {
            int bucket = value.Fraction is { } f ? (int)(f * 20) : (int)(value.BytesReceived >> 24);
            if (bucket == _lastBucket && !value.Completed)
                return;
            _lastBucket = bucket;
            log(value.Describe());
        }
    }
}
