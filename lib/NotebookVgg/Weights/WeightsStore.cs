using System.Security.Cryptography;
using NotebookVgg.IO;

namespace NotebookVgg.Weights;

/// <summary>
/// The local cache of pretrained weight files. A file already in the cache (downloaded before, or placed there by hand
/// under its published name) is verified and used without the network; otherwise it is downloaded, from a mirror if one
/// is given, verified, and only then given its final name.
/// </summary>
internal static class WeightsStore
{
    /// <summary>Environment variable holding a mirror base URL (http, https or file): the file is fetched from BASE/FILENAME.</summary>
    public const string MirrorEnvironmentVariable = "NOTEBOOKVGG_WEIGHTS_MIRROR";

    /// <summary>
    /// What a weights argument (<c>--weights</c>, a notebook parameter) names, decided without the network:
    /// "none" (random weights), an existing file, or a registry entry. Anything else throws naming the value.
    /// </summary>
    public static WeightsArgument Parse(string weights, string? directory = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (string.Equals(weights.Trim(), "none", StringComparison.OrdinalIgnoreCase))
            return new WeightsArgument(null, null, false);
        if (File.Exists(weights))
            return new WeightsArgument(Path.GetFullPath(weights), null, false);
        var entry = PretrainedWeights.Find(weights)
            ?? throw new ArgumentException(
                $"weights '{weights}': not a file, not a registered name ({string.Join(", ", PretrainedWeights.All.Select(w => w.Name))}), and not 'none'");
        string cached = Locate(entry, directory);
        return new WeightsArgument(cached, entry, !File.Exists(cached));
    }

    /// <summary>Where <paramref name="weights"/> lives (or will live) in the cache.</summary>
    public static string PathFor(PretrainedWeights weights, string? directory = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        return Path.Combine(ProjectPaths.WeightsDirectory(directory), weights.FileName);
    }

    /// <summary>
    /// Where <paramref name="weights"/> is: in the cache folder (<see cref="PathFor"/>), else, for the default folder, in its
    /// stand-in under the user cache folder (where it goes when the default folder is read-only); else where it will be downloaded.
    /// </summary>
    public static string Locate(PretrainedWeights weights, string? directory = null)
    {
        string cached = PathFor(weights, directory);
        if (File.Exists(cached) || directory is not null)
            return cached;
        string standIn = Path.Combine(CacheFolder.FallbackFor(CacheFolderName), weights.FileName);
        return File.Exists(standIn) ? standIn : cached;
    }

    /// <summary>The sub-folder of the user cache folder that stands in for a weights folder that cannot be written.</summary>
    private const string CacheFolderName = "weights";

    /// <summary>
    /// Makes sure the verified file is in the cache and returns its path. Sources, in order: the cache itself;
    /// <paramref name="mirror"/> or <c>$NOTEBOOKVGG_WEIGHTS_MIRROR</c> (a base URL; the file name is appended); the published URL.
    /// A read-only default weights folder (a shared data set) is no error: a file there is used as it is, and a missing one is
    /// downloaded into the user cache folder instead, which <paramref name="log"/> hears. An explicit <paramref name="directory"/>
    /// that cannot be written fails in one line before the download.
    /// </summary>
    /// <exception cref="InvalidDataException">The SHA-256 does not match (a downloaded file is not kept; a hand-placed one is left for you to remove).</exception>
    /// <exception cref="IOException">The download failed (HTTP status, timeout, missing local mirror file).</exception>
    public static async Task<string> EnsureAsync(
        PretrainedWeights w,
        string? directory = null,
        Uri? mirror = null,
        IProgress<DownloadProgress>? progress = null,
        CancellationToken ct = default,
        Checksum? mirrorChecksum = null,
        Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(w);
        string target = Locate(w, directory);
        if (!File.Exists(target) && directory is null
            && CacheFolder.Writable(Path.GetDirectoryName(target)!, CacheFolderName, "weights", log) is { } writable)
            target = Path.Combine(writable, w.FileName);
        Uri source = SourceFor(w, mirror);
        using var downloader = new Downloader { Log = log };
        // A mirror serving other bytes (a test mirror) is checked against the checksum its caller gives instead.
        var checksum = mirrorChecksum ?? (w.Sha256IsPrefix ? Checksum.Sha256Prefix(w.Sha256) : Checksum.Sha256(w.Sha256));
        return await downloader.EnsureFileAsync(source, target, [checksum], progress, ct);
    }

    /// <summary>The URL a download of <paramref name="w"/> would use.</summary>
    public static Uri SourceFor(PretrainedWeights w, Uri? mirror = null)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (mirror is null)
        {
            string? env = Environment.GetEnvironmentVariable(MirrorEnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(env))
            {
                mirror = Uri.TryCreate(env.Trim(), UriKind.Absolute, out var u) ? u
                    : Directory.Exists(env) ? new Uri(Path.GetFullPath(env))
                    : throw new ArgumentException($"{MirrorEnvironmentVariable}='{env}' is neither a URL nor a folder");
            }
        }
        if (mirror is null)
            return w.Url;
        string baseText = mirror.AbsoluteUri.EndsWith('/') ? mirror.AbsoluteUri : mirror.AbsoluteUri + "/";
        return new Uri(new Uri(baseText), w.FileName);
    }

    /// <summary>The SHA-256 of a file, lower-case hex (about a second for VGG19's 548 MB).</summary>
    public static string Sha256Of(string path)
    {
        RegularFile.EnsureReadable(path, "weights file"); // a named pipe would block the hash forever
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}

/// <summary>
/// A parsed weights argument: <see cref="Path"/> is null for random weights, the file itself, or where a registry
/// entry is (or will be) cached; <see cref="NeedsDownload"/> says whether <see cref="WeightsStore.EnsureAsync"/> will fetch it.
/// </summary>
internal sealed record WeightsArgument(string? Path, PretrainedWeights? Entry, bool NeedsDownload)
{
    /// <summary>True for "none": no file, the network keeps its random initialization.</summary>
    public bool IsRandom => Path is null;
}
