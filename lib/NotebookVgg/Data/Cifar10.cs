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
    public static Task<string> DownloadAsync(
        string? dataDir = null,
        Uri? mirror = null,
        Checksum? checksum = null,
        IProgress<DownloadProgress>? progress = null,
        CancellationToken ct = default,
        Action<string>? log = null) =>
        Cifar10Archive.DownloadAsync(dataDir, mirror, checksum, progress, ct, log);

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
        Cifar10Archive.ExtractAsync(archive, dataDir, sourceName, ct, log, lockHeld: false);

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
}
