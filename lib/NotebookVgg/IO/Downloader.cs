using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace NotebookVgg.IO;

/// <summary>Progress of one download, reported about ten times a second and once at the end.</summary>
public sealed record DownloadProgress(string Source, long BytesReceived, long? TotalBytes, double BytesPerSecond, bool Completed)
{
    /// <summary>Fraction done in [0,1], or null when the size is unknown.</summary>
    public double? Fraction => TotalBytes is > 0 ? (double)BytesReceived / TotalBytes.Value : null;

    /// <summary>A compact "12.3 of 548.1 MB, 4.2 MB/s" text for progress lines.</summary>
    internal string Describe()
    {
        var c = CultureInfo.InvariantCulture;
        string done = (BytesReceived / 1e6).ToString("0.0", c);
        string of = TotalBytes is { } t ? $" of {(t / 1e6).ToString("0.0", c)}" : "";
        return $"{done}{of} MB, {(BytesPerSecond / 1e6).ToString("0.0", c)} MB/s";
    }
}

/// <summary>
/// An expected digest of a file: SHA-256 (preferred) or MD5 (for sources that publish only MD5). A prefix is accepted
/// where only one is published (torchvision's file names carry the first 8 hex digits of the SHA-256).
/// </summary>
public sealed record Checksum(string Algorithm, string Hex, bool IsPrefix = false)
{
    /// <summary>A full SHA-256: 64 hex digits, either case, surrounding white space ignored.</summary>
    public static Checksum Sha256(string hex) => new("SHA-256", Normalize(hex, 64, 64));

    /// <summary>A full MD5: 32 hex digits, either case, surrounding white space ignored.</summary>
    public static Checksum Md5(string hex) => new("MD5", Normalize(hex, 32, 32));

    /// <summary>The first 8 to 64 hex digits of a SHA-256.</summary>
    public static Checksum Sha256Prefix(string hex) => new("SHA-256", Normalize(hex, 8, 64), IsPrefix: true);

    /// <summary>Computes this checksum's algorithm over a file.</summary>
    public string ComputeFor(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        byte[] digest = Algorithm == "MD5" ? MD5.HashData(stream) : SHA256.HashData(stream);
        return Convert.ToHexStringLower(digest);
    }

    /// <summary>Whether a computed digest (lower-case hex) is this one.</summary>
    public bool Matches(string actual) => IsPrefix ? actual.StartsWith(Hex, StringComparison.Ordinal) : actual == Hex;

    private static string Normalize(string hex, int minLength, int maxLength)
    {
        string h = hex.Trim().ToLowerInvariant();
        if (h.Length < minLength || h.Length > maxLength || !h.All(Uri.IsHexDigit))
            throw new ArgumentException(minLength == maxLength
                ? $"checksum '{hex}': expected {minLength} hexadecimal digits"
                : $"checksum '{hex}': expected {minLength} to {maxLength} hexadecimal digits");
        return h;
    }

    /// <summary>Checks a file against every checksum; throws naming the file, the expected and the actual digest.</summary>
    internal static void VerifyAll(string path, IEnumerable<Checksum> checksums, string? what = null)
    {
        foreach (var checksum in checksums)
        {
            string actual = checksum.ComputeFor(path);
            if (!checksum.Matches(actual))
                throw new InvalidDataException(
                    $"{what ?? path}: {checksum.Algorithm} is {actual}, expected {(checksum.IsPrefix ? "one starting " : "")}{checksum.Hex}");
        }
    }

    /// <summary>The algorithm and the hex digits, e.g. "SHA-256 starting 1a2b3c4d" for a prefix.</summary>
    public override string ToString() => IsPrefix ? $"{Algorithm} starting {Hex}" : $"{Algorithm} {Hex}";
}

/// <summary>
/// Downloads a file into a cache, the way every download in NotebookVgg works: a file already present and
/// verified is used without the network (a read-only cache folder is fine then); otherwise the bytes go to <c>NAME.partial</c>
/// (resumed with an HTTP range request when the server allows), are checked against every given checksum, and only then renamed
/// to <c>NAME</c>. http, https and file URLs are accepted, so a mirror or a local copy works offline.
/// <para>
/// Faults of the environment: a folder that cannot be written, or too little free space for the size the server announces, fails
/// before any byte is fetched, in one line (<see cref="WriteFailedException"/>); a disk that fills mid-way removes
/// <c>NAME.partial</c> (a full disk needs its space back) and says so. A broken connection or a killed process keeps
/// <c>NAME.partial</c>, to resume. Two processes downloading the same file meet at <c>NAME.lock</c>: the second waits for the
/// first (<see cref="Log"/> hears so once) and then uses its verified file.
/// </para>
/// </summary>
internal sealed class Downloader : IDisposable
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(100);
    private readonly HttpClient _http;
    private readonly bool _ownsClient;

    /// <param name="timeout">How long to wait without receiving any byte before giving up (default 60 s).</param>
    /// <param name="client">An HttpClient to use (tests, proxies); the caller keeps ownership.</param>
    public Downloader(TimeSpan? timeout = null, HttpClient? client = null)
    {
        Timeout = timeout ?? TimeSpan.FromSeconds(60);
        _ownsClient = client is null;
        _http = client ?? new HttpClient(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None })
        {
            Timeout = System.Threading.Timeout.InfiniteTimeSpan, // per-read timeout below instead: big files take long
        };
        if (_ownsClient)
            _http.DefaultRequestHeaders.UserAgent.ParseAdd("NotebookVgg/0.1");
    }

    /// <summary>The longest wait for the next byte.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>One-line messages other than progress: that this download waits for another process downloading the same file.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>
    /// Makes sure <paramref name="destination"/> holds the verified file, downloading it from
    /// <paramref name="source"/> if needed. Returns the destination's full path.
    /// </summary>
    /// <exception cref="InvalidDataException">A checksum does not match (the file is not kept).</exception>
    /// <exception cref="IOException">The transfer failed: HTTP status, truncation, timeout, missing local file.</exception>
    public async Task<string> EnsureFileAsync(
        Uri source,
        string destination,
        IReadOnlyCollection<Checksum> checksums,
        IProgress<DownloadProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(checksums);
        string target = Path.GetFullPath(destination);
        if (File.Exists(target))
        {
            // Present already (earlier download, or placed by hand): verified, never silently replaced.
            Checksum.VerifyAll(target, checksums, $"{target} (already present; delete it to download again)");
            return target;
        }
        if (!source.IsFile && source.Scheme is not ("http" or "https"))
            throw new ArgumentException($"URL '{source}': only http, https and file URLs are supported");
        string folder = Path.GetDirectoryName(target)!;
        string? firstCreated = CreatedFolders.FirstMissing(folder);
        try
        {
            Directory.CreateDirectory(folder);
        }
        catch (Exception ex) when (WriteFailure.IsWriteError(ex))
        {
            throw WriteFailure.Explain(ex, target, "download", null, "download into a writable folder, or place the file there by hand");
        }
        string partial = target + ".partial";
        FileLock? downloading = null;
        try
        {
            downloading = await FileLock.AcquireAsync(FileLock.PathFor(target), $"downloading {source} to {target}",
                holder => Log?.Invoke($"{target}: {holder} to finish downloading it"), cancellationToken).ConfigureAwait(false);
            if (File.Exists(target))
            {
                // Another process downloaded it while this one waited.
                Checksum.VerifyAll(target, checksums, $"{target} (downloaded by another process; delete it to download again)");
                return target;
            }
            if (source.IsFile)
                await CopyLocalAsync(source.LocalPath, partial, progress, cancellationToken);
            else
                await DownloadHttpAsync(source, partial, progress, cancellationToken);
            try
            {
                Checksum.VerifyAll(partial, checksums, $"download of {source}");
            }
            catch
            {
                File.Delete(partial);
                throw;
            }
            File.Move(partial, target, overwrite: false);
            return target;
        }
        catch (Exception ex) when (WriteFailure.Classify(ex) is WriteProblem.DiskFull or WriteProblem.ReadOnly or WriteProblem.PermissionDenied)
        {
            // A full disk needs its space back, and a read-only one holds no partial file: nothing is kept to resume.
            AtomicFile.TryDelete(partial);
            downloading?.Dispose(); // its lock file goes first, so that a folder this download created is empty again
            CreatedFolders.RemoveEmpty(folder, firstCreated);
            throw WriteFailure.Explain(ex, target, "download", (ex as WriteFailedException)?.BytesNeeded ?? _expectedBytes,
                WriteFailure.Classify(ex) == WriteProblem.DiskFull
                    ? "free space there (or download into another folder); nothing was kept"
                    : "download into a writable folder, or place the file there by hand");
        }
        catch
        {
            // A failed download leaves no empty folder behind (a truncated one keeps its .partial file to resume).
            downloading?.Dispose();
            CreatedFolders.RemoveEmpty(folder, firstCreated);
            throw;
        }
        finally
        {
            downloading?.Dispose();
        }
    }

    /// <summary>The size of the file being downloaded, once the server (or the local file) has said it.</summary>
    private long? _expectedBytes;

    /// <summary>Fails before the transfer when the folder has less free space than the <paramref name="remaining"/> bytes still to come.</summary>
    private void EnsureSpace(string partial, long total, long remaining)
    {
        _expectedBytes = total;
        string target = partial[..^".partial".Length];
        if (WriteFailure.FreeBytes(Path.GetDirectoryName(partial)!) is { } free && free < remaining)
            throw WriteFailure.NotEnoughSpace(target, "download", remaining, free, "free space there (or download into another folder); nothing was fetched");
    }

    private async Task DownloadHttpAsync(Uri source, string partial, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        long existing = File.Exists(partial) ? new FileInfo(partial).Length : 0;
        using var request = new HttpRequestMessage(HttpMethod.Get, source);
        if (existing > 0)
            request.Headers.Range = new RangeHeaderValue(existing, null);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new IOException($"download of {source} failed: no response within {Timeout.TotalSeconds:0} s");
        }
        catch (HttpRequestException ex)
        {
            throw new IOException($"download of {source} failed: {ex.Message}", ex);
        }

        using (response)
        {
            bool resumed = existing > 0 && response.StatusCode == HttpStatusCode.PartialContent;
            if (existing > 0 && response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                // The partial file is as long as (or longer than) the resource: start over.
                File.Delete(partial);
                await DownloadHttpAsync(source, partial, progress, cancellationToken);
                return;
            }
            if (!response.IsSuccessStatusCode)
                throw new IOException($"download of {source} failed: HTTP {(int)response.StatusCode} {response.ReasonPhrase}");

            long offset = resumed ? existing : 0;
            long? total = response.Content.Headers.ContentLength is { } length ? length + offset : null;
            if (response.Content.Headers.ContentLength is { } remaining)
                EnsureSpace(partial, total!.Value, remaining);
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            await using var file = new FileStream(partial, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
            long received = await CopyWithProgressAsync(body, file, source.ToString(), offset, total, progress, cancellationToken);
            if (total is { } expected && received != expected)
                throw new IOException($"download of {source} ended after {received:N0} of {expected:N0} bytes (kept as {partial} to resume)");
        }
    }

    private async Task CopyLocalAsync(string path, string partial, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
            throw new IOException($"{path}: no such file");
        await using var input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
        EnsureSpace(partial, input.Length, input.Length - (File.Exists(partial) ? new FileInfo(partial).Length : 0));
        await using var output = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        await CopyWithProgressAsync(input, output, path, 0, input.Length, progress, cancellationToken);
    }

    private async Task<long> CopyWithProgressAsync(
        Stream input, Stream output, string source, long offset, long? total, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[1 << 20];
        long received = offset;
        var clock = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        while (true)
        {
            int read;
            using (var readTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                readTimeout.CancelAfter(Timeout);
                try
                {
                    read = await input.ReadAsync(buffer, readTimeout.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new IOException($"download of {source} stalled: no data for {Timeout.TotalSeconds:0} s after {received:N0} bytes");
                }
                catch (HttpRequestException ex)
                {
                    throw new IOException($"download of {source} broke off after {received:N0} bytes: {ex.Message}", ex);
                }
                catch (IOException ex)
                {
                    throw new IOException($"download of {source} broke off after {received:N0} bytes: {ex.Message}", ex);
                }
            }
            if (read == 0)
                break;
            await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            received += read;
            if (progress is not null && clock.Elapsed - lastReport >= ProgressInterval)
            {
                lastReport = clock.Elapsed;
                progress.Report(new DownloadProgress(source, received, total, Rate(received - offset, clock.Elapsed), false));
            }
        }
        progress?.Report(new DownloadProgress(source, received, total, Rate(received - offset, clock.Elapsed), true));
        return received;
    }

    private static double Rate(long bytes, TimeSpan elapsed) => elapsed.TotalSeconds > 0 ? bytes / elapsed.TotalSeconds : 0;

    /// <summary>Disposes the HttpClient this downloader created; one passed in is left to its owner.</summary>
    public void Dispose()
    {
        if (_ownsClient)
            _http.Dispose();
    }
}
