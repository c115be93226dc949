using System.Security.Cryptography;
using NotebookVgg.IO;

namespace NotebookVgg.Data;

/// <summary>
/// Gets CIFAR-10's archive into a data folder safely, for <see cref="Cifar10.DownloadAsync"/> and
/// <see cref="Cifar10.ExtractAsync"/>: one writer at a time (a lock per target folder), extraction into a temporary
/// folder renamed into place, stale temporaries of killed runs removed, and the data labelled by what the archive is
/// (official by its MD5, the sample by its SHA-256, or unverified).
/// </summary>
internal static class Cifar10Archive
{
    /// <summary><see cref="Cifar10.DownloadAsync"/>.</summary>
    public static async Task<string> DownloadAsync(string? dataDir, Uri? mirror, Checksum? checksum, IProgress<DownloadProgress>? progress,
        CancellationToken ct, Action<string>? log)
    {
        string root = ProjectPaths.DataDirectory(dataDir);
        string existing = Path.Combine(root, Cifar10.FolderName);
        if (File.Exists(Path.Combine(existing, Cifar10.SyntheticMarkerFileName)))
            throw new IOException($"{existing}: holds synthetic data, not CIFAR-10; remove it (or use another data folder) to download CIFAR-10");
        if (Directory.Exists(existing))
            return root; // present: a read-only data folder is fine
        string? firstCreated = CreatedFolders.FirstMissing(root);
        var writing = await Task.Run(() => BeginWriting(root, existing, log, ct), ct).ConfigureAwait(false);
        try
        {
            if (Directory.Exists(existing))
                return root; // another process downloaded it while this one waited
            Uri source = mirror ?? new Uri(Cifar10.Url);
            if (source.AbsolutePath.EndsWith('/'))
                source = new Uri(source, Cifar10.ArchiveFileName);
            using var downloader = new Downloader { Log = log };
            string archive = await downloader.EnsureFileAsync(
                source, Path.Combine(root, Cifar10.ArchiveFileName), [checksum ?? Checksum.Md5(Cifar10.Md5)], progress, ct);
            // Verified above: by the official MD5, or by the checksum the caller gave for a mirror's bytes.
            string label = checksum is null ? Cifar10.SourceNameOfficial
                : IsSample(archive) ? Cifar10.SourceNameSample
                : $"{Cifar10.SourceNameOfficial} (mirror archive, checked against the checksum given)";
            return await ExtractAsync(archive, root, label, ct, log, lockHeld: true);
        }
        catch
        {
            writing.Dispose(); // its lock file goes first: a failed download leaves no folder it created
            CreatedFolders.RemoveEmpty(root, firstCreated);
            throw;
        }
        finally
        {
            writing.Dispose();
        }
    }

    /// <summary><see cref="Cifar10.ExtractAsync"/>; <paramref name="lockHeld"/>: the caller holds the folder's lock (<see cref="BeginWriting"/>) already.</summary>
    public static async Task<string> ExtractAsync(string archive, string dataDir, string? sourceName, CancellationToken ct,
        Action<string>? log, bool lockHeld)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(archive);
        string root = Path.GetFullPath(dataDir);
        string target = Path.Combine(root, Cifar10.FolderName);
        if (Directory.Exists(target) || File.Exists(target))
            throw new IOException($"{target}: already exists; remove it to extract {archive} again");
        if (!File.Exists(archive))
            throw new FileNotFoundException($"{archive}: archive not found", archive);
        RegularFile.EnsureReadable(archive, "a .tar.gz archive");
        sourceName ??= await LabelAsync(archive, ct);

        bool createdRoot = !Directory.Exists(root);
        string temporary = Path.Combine(root, $".extract-{Guid.NewGuid():N}");
        bool done = false;
        var writing = lockHeld ? null : await Task.Run(() => BeginWriting(root, target, log, ct), ct).ConfigureAwait(false);
        try
        {
            if (Directory.Exists(target))
            {
                // Another process extracted while this one waited: data from the same archive is what this call would write.
                if (sourceName is not null && ReadMarker(target) == sourceName)
                {
                    log?.Invoke($"{target}: another process extracted {sourceName} meanwhile; using it");
                    return root;
                }
                throw new IOException($"{target}: already exists (another process wrote it meanwhile); remove it to extract {archive} again");
            }
            await SafeTarExtraction.ExtractAsync(archive, temporary, ct, reportAs: target);
            string extracted = Path.Combine(temporary, Cifar10.FolderName);
            var folder = new DirectoryInfo(extracted);
            if (!folder.Exists || folder.LinkTarget is not null)
                throw new InvalidDataException($"{archive}: holds no '{Cifar10.FolderName}/' folder; not a CIFAR-10 binary archive");
            try
            {
                if (sourceName is not null)
                    await File.WriteAllTextAsync(Path.Combine(extracted, Cifar10.SourceMarkerFileName), sourceName + "\n", ct);
                Directory.Move(extracted, target);
            }
            catch (Exception ex) when (WriteFailure.IsWriteError(ex) && WriteFailure.Classify(ex) != WriteProblem.Other)
            {
                throw WriteFailure.Explain(ex, target, "extracted archive", null);
            }
            done = true;
        }
        finally
        {
            if (Directory.Exists(temporary))
                Directory.Delete(temporary, recursive: true);
            writing?.Dispose(); // removes the lock file: the folder may be empty again now
            if (!done && createdRoot && Directory.Exists(root) && !Directory.EnumerateFileSystemEntries(root).Any())
                Directory.Delete(root); // a failed extraction leaves no empty data folder behind
        }
        return root;
    }

    /// <summary>
    /// Before writing <paramref name="target"/> (<c>cifar-10-batches-bin</c>) into <paramref name="root"/>: creates the folder, takes
    /// the target's lock (waiting, and telling <paramref name="log"/>, while another process writes it) and removes the temporary
    /// folders that killed runs left (none can be in use: their writers would hold the lock). Dispose the result when done.
    /// </summary>
    /// <exception cref="WriteFailedException">The data folder cannot be written.</exception>
    public static FileLock BeginWriting(string root, string target, Action<string>? log, CancellationToken ct)
    {
        try
        {
            Directory.CreateDirectory(root);
            var held = FileLock.Acquire(FileLock.PathFor(target), $"writing {target}", holder => log?.Invoke($"{target}: {holder} to finish writing it"), ct);
            RemoveStaleTemporaries(root);
            return held;
        }
        catch (Exception ex) when (WriteFailure.IsWriteError(ex) && ex is not WriteFailedException)
        {
            throw WriteFailure.Explain(ex, target, "data folder", null, "choose a writable data folder; nothing was changed");
        }
    }

    /// <summary>
    /// The label an archive's data gets: the CIFAR-10 sample (by its SHA-256), the official archive (by the MD5 the
    /// CIFAR-10 page publishes), or "unverified" with its file name. A file under the official name that fails the MD5
    /// is refused, as a download would be: it is not the official archive.
    /// </summary>
    private static string? ReadMarker(string target)
    {
        string marker = Path.Combine(target, Cifar10.SourceMarkerFileName);
        try
        {
            return File.Exists(marker) ? File.ReadAllText(marker).Trim() : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static async Task<string> LabelAsync(string archive, CancellationToken ct)
    {
        if (IsSample(archive))
            return Cifar10.SourceNameSample;
        string md5;
        await using (var stream = new FileStream(archive, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true))
            md5 = Convert.ToHexStringLower(await MD5.HashDataAsync(stream, ct));
        if (md5 == Cifar10.Md5)
            return Cifar10.SourceNameOfficial;
        if (string.Equals(Path.GetFileName(archive), Cifar10.ArchiveFileName, StringComparison.Ordinal))
            throw new InvalidDataException($"{archive}: MD5 {md5} is not the official archive's ({Cifar10.Md5}): corrupt or not CIFAR-10; download it again");
        return $"CIFAR-10-format data from {Path.GetFileName(archive)} (unverified)";
    }

    /// <summary>
    /// Temporary folders of extractions and synthetic data that killed runs left behind. Called only while holding the target's
    /// lock (<see cref="BeginWriting"/>): any such folder then belongs to a writer that is gone.
    /// </summary>
    private static void RemoveStaleTemporaries(string root)
    {
        foreach (var stale in new DirectoryInfo(root).EnumerateDirectories(".extract-*").Concat(new DirectoryInfo(root).EnumerateDirectories(".synth-*")))
        {
            try { stale.Delete(recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>
    /// Whether <paramref name="archive"/> is the CIFAR-10 sample: the shared one (<see cref="Cifar10.SampleSha256"/>), or the same
    /// bytes as the archive <c>$NOTEBOOKVGG_SAMPLE</c> names — a sample written from the real data set by
    /// <c>nvgg data sample</c> (the workflow makes its own), declared the sample by whoever set the variable.
    /// </summary>
    private static bool IsSample(string archive)
    {
        string sha = Sha256Of(archive);
        if (sha == Cifar10.SampleSha256)
            return true;
        string? declared = Environment.GetEnvironmentVariable(ProjectPaths.SampleEnvironmentVariable);
        return !string.IsNullOrWhiteSpace(declared) && File.Exists(declared)
            && new FileInfo(declared).Length == new FileInfo(archive).Length && Sha256Of(declared) == sha;
    }

    private static string Sha256Of(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
