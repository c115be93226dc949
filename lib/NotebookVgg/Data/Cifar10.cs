using System.Security.Cryptography;
using NotebookVgg.IO;

namespace NotebookVgg.Data;

/// <summary>
/// CIFAR-10, "binary version": download (cached, verified), safe extraction and fast loading.
/// Layout: cifar-10-batches-bin/data_batch_1.bin … data_batch_5.bin, test_batch.bin, batches.meta.txt.
/// </summary>
public static class Cifar10
{
    /// <summary>The official archive (162 MB).</summary>
    public const string Url = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";

    /// <summary>
    /// The MD5 the CIFAR-10 page publishes for <see cref="Url"/>. The archive's SHA-256 is not published and
    /// could not be established here (no access to the archive offline), so none is claimed; a mirror's
    /// SHA-256 can be passed to <see cref="DownloadAsync"/> instead.
    /// </summary>
    public const string Md5 = "c32a1d4ab5d03f1284b67883e8d87530";

    /// <summary>The archive's file name in the data folder.</summary>
    public const string ArchiveFileName = "cifar-10-binary.tar.gz";

    /// <summary>The folder the archive extracts to.</summary>
    public const string FolderName = "cifar-10-batches-bin";

    /// <summary>
    /// SHA-256 of the 12,000-image sample of real CIFAR-10 images kept beside the repository
    /// (shared/data/cifar-10-sample-binary.tar.gz, from its README); extracting it labels the data "CIFAR-10 sample", as
    /// does extracting the archive $NOTEBOOKVGG_SAMPLE names (a sample that <c>nvgg data sample</c> wrote).
    /// </summary>
    public const string SampleSha256 = "20d2fd2601eedc2794b9e0ddea0dbf18fe347c5967a013d9dfdf7fff563b34a6";

    /// <summary>What data from the official archive calls its source; also the default for a folder that names none.</summary>
    public const string SourceNameOfficial = "CIFAR-10";

    /// <summary>What data from the shared sample archive (recognized by <see cref="SampleSha256"/>) calls its source.</summary>
    public const string SourceNameSample = "CIFAR-10 sample";

    /// <summary>What every output built from <see cref="SyntheticCifar"/> data calls its source.</summary>
    public const string SyntheticSourceName = "synthetic CIFAR-10-shaped data";

    /// <summary>Marker file <see cref="SyntheticCifar"/> writes into the folder (first, before any batch file).</summary>
    public const string SyntheticMarkerFileName = "SYNTHETIC.txt";

    /// <summary>Optional file holding a source name (one line), written by <see cref="ExtractAsync"/> when it knows one.</summary>
    public const string SourceMarkerFileName = "SOURCE.txt";

    /// <summary>Number of classes; labels run 0–9.</summary>
    public const int ClassCount = 10;

    /// <summary>Height and width of every CIFAR-10 image.</summary>
    public const int ImageSize = 32;

    /// <summary>The class names, one per line in label order; its presence marks a folder as cifar-10-batches-bin.</summary>
    public const string MetaFileName = "batches.meta.txt";

    /// <summary>The test split's batch file.</summary>
    public const string TestFileName = "test_batch.bin";

    /// <summary>data_batch_1.bin … data_batch_5.bin.</summary>
    public static IReadOnlyList<string> TrainFileNames { get; } = [.. Enumerable.Range(1, 5).Select(i => $"data_batch_{i}.bin")];

    /// <summary>
    /// Makes sure the data folder holds an extracted <c>cifar-10-batches-bin/</c> and returns the data folder.
    /// A folder already extracted there is used as is (no network; synthetic data there is an error). Otherwise the archive is fetched into the
    /// data folder with <see cref="Downloader"/> (cached, resumable, http/https/file URLs), verified, then
    /// extracted safely. <paramref name="mirror"/> is the archive's URL (or a folder URL ending in '/' that
    /// holds <see cref="ArchiveFileName"/>). <paramref name="checksum"/> replaces the official MD5, for mirrors
    /// that serve different bytes.
    /// </summary>
    public static async Task<string> DownloadAsync(
        string? dataDir = null,
        Uri? mirror = null,
        Checksum? checksum = null,
        IProgress<DownloadProgress>? progress = null,
        CancellationToken ct = default,
        Action<string>? log = null)
    {
        string root = ProjectPaths.DataDirectory(dataDir);
        string existing = Path.Combine(root, FolderName);
        if (File.Exists(Path.Combine(existing, SyntheticMarkerFileName)))
            throw new IOException($"{existing}: holds synthetic data, not CIFAR-10; remove it (or use another data folder) to download CIFAR-10");
        if (Directory.Exists(existing))
            return root; // present: a read-only data folder is fine
        string? firstCreated = Downloader.FirstMissingFolder(root);
        var writing = await Task.Run(() => BeginWriting(root, existing, log, ct), ct).ConfigureAwait(false);
        try
        {
            if (Directory.Exists(existing))
                return root; // another process downloaded it while this one waited
            Uri source = mirror ?? new Uri(Url);
            if (source.AbsolutePath.EndsWith('/'))
                source = new Uri(source, ArchiveFileName);
            using var downloader = new Downloader { Log = log };
            string archive = await downloader.EnsureFileAsync(
                source, Path.Combine(root, ArchiveFileName), [checksum ?? Checksum.Md5(Md5)], progress, ct);
            // Verified above: by the official MD5, or by the checksum the caller gave for a mirror's bytes.
            string label = checksum is null ? SourceNameOfficial
                : IsSample(archive) ? SourceNameSample
                : $"{SourceNameOfficial} (mirror archive, checked against the checksum given)";
            return await ExtractIntoAsync(archive, root, label, ct, log, lockHeld: true);
        }
        catch
        {
            writing.Dispose(); // its lock file goes first: a failed download leaves no folder it created
            Downloader.RemoveEmptyFolders(root, firstCreated);
            throw;
        }
        finally
        {
            writing.Dispose();
        }
    }

    /// <summary>
    /// Extracts a CIFAR-10 binary archive (official, the shared sample, or one placed by hand) into
    /// <paramref name="dataDir"/>/cifar-10-batches-bin and returns the data folder. Entries are checked before
    /// anything is written (see <see cref="SafeTarExtraction"/>); extraction goes to a temporary folder inside
    /// the data folder and only <c>cifar-10-batches-bin/</c> is renamed into place. <paramref name="sourceName"/>
    /// labels the data (stored in SOURCE.txt); without it, the shared sample is recognized by its SHA-256.
    /// Two processes writing the same data folder take turns (<paramref name="log"/> hears that one waits); a full disk or a
    /// read-only folder fails in one line (<see cref="WriteFailedException"/>), leaving nothing behind.
    /// </summary>
    public static Task<string> ExtractAsync(string archive, string dataDir, string? sourceName = null, CancellationToken ct = default,
        Action<string>? log = null) =>
        ExtractIntoAsync(archive, dataDir, sourceName, ct, log, lockHeld: false);

    /// <summary><see cref="ExtractAsync"/>; <paramref name="lockHeld"/>: the caller holds the folder's lock (<see cref="BeginWriting"/>) already.</summary>
    private static async Task<string> ExtractIntoAsync(string archive, string dataDir, string? sourceName, CancellationToken ct,
        Action<string>? log, bool lockHeld)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(archive);
        string root = Path.GetFullPath(dataDir);
        string target = Path.Combine(root, FolderName);
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
                throw new IOException($"{target}: already exists (another process wrote it meanwhile); remove it to extract {archive} again");
            await SafeTarExtraction.ExtractAsync(archive, temporary, ct);
            string extracted = Path.Combine(temporary, FolderName);
            var folder = new DirectoryInfo(extracted);
            if (!folder.Exists || folder.LinkTarget is not null)
                throw new InvalidDataException($"{archive}: holds no '{FolderName}/' folder; not a CIFAR-10 binary archive");
            try
            {
                if (sourceName is not null)
                    await File.WriteAllTextAsync(Path.Combine(extracted, SourceMarkerFileName), sourceName + "\n", ct);
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
    internal static FileLock BeginWriting(string root, string target, Action<string>? log, CancellationToken ct)
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
    private static async Task<string> LabelAsync(string archive, CancellationToken ct)
    {
        if (IsSample(archive))
            return SourceNameSample;
        string md5;
        await using (var stream = new FileStream(archive, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true))
            md5 = Convert.ToHexStringLower(await MD5.HashDataAsync(stream, ct));
        if (md5 == Md5)
            return SourceNameOfficial;
        if (string.Equals(Path.GetFileName(archive), ArchiveFileName, StringComparison.Ordinal))
            throw new InvalidDataException($"{archive}: MD5 {md5} is not the official archive's ({Md5}): corrupt or not CIFAR-10; download it again");
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
    /// Loads train and test splits and class names. <paramref name="dir"/> holds <c>cifar-10-batches-bin/</c>
    /// or is that folder. <paramref name="sourceName"/> labels real data (e.g. "CIFAR-10 sample"); it cannot
    /// relabel synthetic data.
    /// </summary>
    /// <exception cref="FileNotFoundException">A batch file or batches.meta.txt is missing (named).</exception>
    /// <exception cref="InvalidDataException">A file is empty, not whole records, or has a label above 9 (file and record named).</exception>
    public static Cifar10Dataset Load(string dir, string? sourceName = null)
    {
        string folder = ResolveFolder(dir);
        string[] classNames = Cifar10Reader.ReadClassNames(Path.Combine(folder, MetaFileName));
        // Validate every file's size before reading any, so a broken test file fails fast.
        string[] trainFiles = [.. TrainFileNames.Select(f => Path.Combine(folder, f))];
        string testFile = Path.Combine(folder, TestFileName);
        foreach (string file in trainFiles.Append(testFile))
            Cifar10Reader.RecordCount(file);

        bool synthetic = File.Exists(Path.Combine(folder, SyntheticMarkerFileName));
        string source = synthetic ? SyntheticSourceName : sourceName ?? StoredSourceName(folder) ?? SourceNameOfficial;
        var train = Cifar10Reader.ReadSplit("train", trainFiles);
        try
        {
            var test = Cifar10Reader.ReadSplit("test", [testFile]);
            return new Cifar10Dataset(folder, train, test, classNames, source, synthetic);
        }
        catch
        {
            train.Dispose();
            throw;
        }
    }

    /// <summary>The cifar-10-batches-bin folder for <paramref name="dir"/> (which holds it or is it).</summary>
    public static string ResolveFolder(string dir)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dir);
        string full = Path.GetFullPath(dir);
        string inside = Path.Combine(full, FolderName);
        if (Directory.Exists(inside))
            return inside;
        if (Directory.Exists(full) && File.Exists(Path.Combine(full, MetaFileName)))
            return full;
        if (!Directory.Exists(full))
            throw new DirectoryNotFoundException($"{full}: no such folder");
        throw new DirectoryNotFoundException($"{full}: holds neither '{FolderName}/' nor {MetaFileName}; download or extract CIFAR-10 first (nvgg data download)");
    }

    private static string? StoredSourceName(string folder)
    {
        string path = Path.Combine(folder, SourceMarkerFileName);
        if (!File.Exists(path))
            return null;
        string name = File.ReadAllText(path).Trim();
        return name.Length > 0 ? name : null;
    }

    /// <summary>
    /// Whether <paramref name="archive"/> is the CIFAR-10 sample: the shared one (<see cref="SampleSha256"/>), or the same
    /// bytes as the archive <c>$NOTEBOOKVGG_SAMPLE</c> names — a sample written from the real data set by
    /// <c>nvgg data sample</c> (the workflow makes its own), declared the sample by whoever set the variable.
    /// </summary>
    private static bool IsSample(string archive)
    {
        string sha = Sha256Of(archive);
        if (sha == SampleSha256)
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
