using System.Globalization;
using System.Runtime.Loader;
using NotebookVgg.Data;
using NotebookVgg.IO;
using NotebookVgg.Runtime;
using NotebookVgg.Training;
using NotebookVgg.Weights;

namespace NotebookVgg.Notebooks;

/// <summary>
/// Notebook parameters with environment overrides: <c>NotebookParameter.Get("epochs", 3)</c> is 3 unless
/// <c>NOTEBOOKVGG_EPOCHS</c> is set, so any client (VS Code, Jupyter, nvgg run, CI) can switch the suite to the smoke profile.
/// </summary>
public static class NotebookParameter
{
    public static string VariableFor(string name) => "NOTEBOOKVGG_" + name.ToUpperInvariant();

    public static string Get(string name, string fallback) => Environment.GetEnvironmentVariable(VariableFor(name)) is { Length: > 0 } v ? v : fallback;

    public static int Get(string name, int fallback) => Parse(name, fallback, s => int.Parse(s, CultureInfo.InvariantCulture));

    public static double Get(string name, double fallback) => Parse(name, fallback, s => double.Parse(s, CultureInfo.InvariantCulture));

    public static bool Get(string name, bool fallback) => Parse(name, fallback, bool.Parse);

    private static T Parse<T>(string name, T fallback, Func<string, T> parse)
    {
        string? text = Environment.GetEnvironmentVariable(VariableFor(name));
        if (string.IsNullOrEmpty(text))
            return fallback;
        try
        {
            return parse(text.Trim());
        }
        catch (FormatException)
        {
            throw new ArgumentException($"{VariableFor(name)}='{text}': not a valid {typeof(T).Name}");
        }
    }
}

/// <summary>What the first cells of every notebook do, in one call each.</summary>
public static class NotebookSetup
{
    private static int _resolverInstalled;

    /// <summary>
    /// Makes TorchSharp loadable, lets Plotly.NET find the FSharp.Core already loaded (the official .NET Interactive
    /// kernel ships an older one), seeds torch, and returns the environment report for display.
    /// </summary>
    public static EnvironmentReport Run(int seed = 0)
    {
        if (Interlocked.Exchange(ref _resolverInstalled, 1) == 0)
        {
            AssemblyLoadContext.Default.Resolving += (_, name) => name.Name == "FSharp.Core"
                ? AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == "FSharp.Core")
                : null;
        }
        NativeRuntime.ThrowIfNotReady();
        NativeAllocator.KeepFreedMemory(); // libtorch's big buffers reused instead of re-faulted: 2–3× faster on glibc
        TorchSharp.torch.random.manual_seed(seed);
        return EnvironmentReport.Collect();
    }

    /// <summary>
    /// The data folder for a profile. Real profiles need real CIFAR-10: already in <paramref name="dataDirectory"/>, or
    /// downloaded there now; offline that fails with a message saying what to do — never a silent substitute.
    /// The smoke profile uses CIFAR-10 if present, else the CIFAR-10 sample beside the repository, else a
    /// synthetic set (labelled synthetic everywhere); so does any profile with <paramref name="allowSubstitute"/> (tiny scale).
    /// </summary>
    public static async Task<string> DataFor(string profile, string? dataDirectory = null, Action<string>? log = null, bool allowSubstitute = false)
    {
        string data = ProjectPaths.DataDirectory(dataDirectory);
        if (HasCifar(data))
            return data;
        if (!allowSubstitute && !string.Equals(profile, Profiles.Smoke.Name, StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                log?.Invoke($"CIFAR-10 is not in {data}: downloading {Cifar10.Url} (170 MB, checked against its MD5)");
                return await Cifar10.DownloadAsync(data, progress: log is null ? null : new ThrottledLog(log));
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException or InvalidDataException)
            {
                throw new InvalidOperationException(
                    $"profile '{profile}' needs the real CIFAR-10, which could not be downloaded ({ex.Message}). " +
                    $"Place cifar-10-binary.tar.gz in {data} and run again, or use profile 'smoke' (CIFAR-10 sample or synthetic data).", ex);
            }
        }
        string sampleTarget = Path.Combine(data, "sample");
        if (HasCifar(sampleTarget))
            return sampleTarget;
        if (ProjectPaths.SampleArchive() is { } sample)
        {
            log?.Invoke($"{profile}: no CIFAR-10 in {data}; using the CIFAR-10 sample {sample}");
            return await Cifar10.ExtractAsync(sample, sampleTarget);
        }
        string synthetic = Path.Combine(data, "synthetic");
        if (!HasCifar(synthetic))
        {
            log?.Invoke($"{profile}: no CIFAR-10 and no sample found; writing SYNTHETIC CIFAR-10-shaped data to {synthetic}");
            SyntheticCifar.Write(synthetic, 2000, 500, seed: 0);
        }
        return synthetic;
    }

    /// <summary>
    /// The weights file for a profile: "none" (random weights, the smoke profile's default), a file path, or a
    /// registry name, downloaded (with progress) and checksummed if missing. Offline failures say what to do.
    /// </summary>
    public static async Task<string?> WeightsFor(string weights, Action<string>? log = null)
    {
        var reference = WeightsStore.Parse(weights);
        if (reference.Entry is not { } entry)
            return reference.Path;
        string path = reference.Path!;
        if (!reference.NeedsDownload)
            return await WeightsStore.EnsureAsync(entry);
        try
        {
            log?.Invoke($"downloading {entry.Url} ({(entry.Bytes ?? 0) / 1e6:F0} MB, SHA-256 checked) into {Path.GetDirectoryName(path)}");
            return await WeightsStore.EnsureAsync(entry, progress: log is null ? null : new ThrottledLog(log));
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException or InvalidDataException)
        {
            throw new InvalidOperationException(
                $"the pretrained weights '{entry.Name}' could not be downloaded ({ex.Message}). Place {entry.FileName} in {Path.GetDirectoryName(path)} " +
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

    /// <summary>Download progress as a line every 5 %, for notebook output.</summary>
    private sealed class ThrottledLog(Action<string> log) : IProgress<DownloadProgress>
    {
        private int _lastBucket = -1;

        public void Report(DownloadProgress value)
        {
            int bucket = value.Fraction is { } f ? (int)(f * 20) : (int)(value.BytesReceived >> 24);
            if (bucket == _lastBucket && !value.Completed)
                return;
            _lastBucket = bucket;
            log(Downloader.Describe(value));
        }
    }
}
