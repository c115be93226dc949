using System.Security.Cryptography;
using NotebookVgg.Data;
using NotebookVgg.IO;
using NotebookVgg.Tests.TestSupport;
using TorchSharp;

namespace NotebookVgg.Tests.Data;

public sealed class Cifar10Tests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Load_ReadsTheOfficialLayout_ByteForByte()
    {
        string folder = DataTestFiles.SmallSet(_dir.Path, train: 53, test: 21);
        using var data = Cifar10.Load(_dir.Path);

        Assert.Equal(53, data.Train.Count);
        Assert.Equal(21, data.Test.Count);
        Assert.Equal(new long[] { 53, 3, 32, 32 }, data.Train.Images.shape);
        Assert.Equal(torch.ScalarType.Byte, data.Train.Images.dtype);
        Assert.Equal(torch.ScalarType.Int64, data.Train.Labels.dtype);
        Assert.Equal(["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"], data.ClassNames);
        Assert.Equal(Cifar10.TrainFileNames, data.Train.SourceFiles);

        // Record r of data_batch_2.bin (files hold 11, 11, 11, 10, 10 records) = train record 11 + r.
        byte[] file = File.ReadAllBytes(Path.Combine(folder, "data_batch_2.bin"));
        const int r = 4;
        var record = file.AsSpan(r * 3073, 3073);
        Assert.Equal(record[0], data.Train.Labels[11 + r].ToInt64());
        Assert.Equal(record[1..].ToArray(), data.Train.Images[11 + r].flatten().data<byte>().ToArray());
        // Plane order R, G, B and row-major: pixel (row 3, column 5) of green is byte 1 + 1024 + 3·32 + 5.
        Assert.Equal(record[1 + 1024 + 3 * 32 + 5], data.Train.Images[11 + r, 1, 3, 5].ToByte());
        byte[] test = File.ReadAllBytes(Path.Combine(folder, "test_batch.bin"));
        Assert.Equal(test.AsSpan(20 * 3073 + 1, 3072).ToArray(), data.Test.Images[20].flatten().data<byte>().ToArray());
    }

    [Fact]
    public void Load_AcceptsTheBatchFolderItself()
    {
        string folder = DataTestFiles.SmallSet(_dir.Path);
        using var data = Cifar10.Load(folder);
        Assert.Equal(folder, data.Directory);
    }

    [Fact]
    public void Load_OfFolderWithoutData_SaysWhatIsMissing()
    {
        var ex = Assert.Throws<DirectoryNotFoundException>(() => Cifar10.Load(_dir.Path));
        Assert.Contains(_dir.Path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("nvgg data download", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SizeNotMultipleOfRecord_IsAnErrorNamingTheFile()
    {
        string folder = DataTestFiles.SmallSet(_dir.Path);
        string file = Path.Combine(folder, "data_batch_3.bin");
        using (var stream = new FileStream(file, FileMode.Append))
            stream.WriteByte(0);
        var ex = Assert.Throws<InvalidDataException>(() => Cifar10.Load(_dir.Path));
        Assert.StartsWith(file + ":", ex.Message, StringComparison.Ordinal);
        Assert.Contains("not a whole number of 3,073-byte", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EmptyFile_IsAnErrorNamingTheFile()
    {
        string folder = DataTestFiles.SmallSet(_dir.Path);
        string file = Path.Combine(folder, "test_batch.bin");
        File.WriteAllBytes(file, []);
        var ex = Assert.Throws<InvalidDataException>(() => Cifar10.Load(_dir.Path));
        Assert.StartsWith(file + ": empty file", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LabelAboveNine_IsAnErrorNamingFileAndRecord()
    {
        string folder = DataTestFiles.SmallSet(_dir.Path);
        string file = Path.Combine(folder, "data_batch_2.bin");
        byte[] bytes = File.ReadAllBytes(file);
        bytes[7 * 3073] = 10;
        File.WriteAllBytes(file, bytes);
        var ex = Assert.Throws<InvalidDataException>(() => Cifar10.Load(_dir.Path));
        Assert.Equal($"{file}: record 7 has label byte 10; CIFAR-10 labels are 0–9", ex.Message);
    }

    [Theory]
    [InlineData("data_batch_4.bin")]
    [InlineData("test_batch.bin")]
    [InlineData("batches.meta.txt")]
    public void MissingFile_IsAnErrorNamingIt(string name)
    {
        string folder = DataTestFiles.SmallSet(_dir.Path);
        string file = Path.Combine(folder, name);
        File.Delete(file);
        var ex = Assert.Throws<FileNotFoundException>(() => Cifar10.Load(_dir.Path));
        Assert.Equal(file, ex.FileName);
        Assert.StartsWith(file + ":", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WrongNumberOfClassNames_IsAnErrorNamingTheFile()
    {
        string folder = DataTestFiles.SmallSet(_dir.Path);
        string file = Path.Combine(folder, "batches.meta.txt");
        File.WriteAllText(file, "cat\ndog\n");
        var ex = Assert.Throws<InvalidDataException>(() => Cifar10.Load(_dir.Path));
        Assert.StartsWith(file + ": 2 class names", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SourceName_SyntheticCannotBeRelabelled_RealCanBe()
    {
        DataTestFiles.SmallSet(_dir.Path);
        using (var synthetic = Cifar10.Load(_dir.Path, sourceName: "CIFAR-10"))
        {
            Assert.True(synthetic.IsSynthetic);
            Assert.Equal(Cifar10.SyntheticSourceName, synthetic.SourceName);
        }
        File.Delete(Path.Combine(_dir.Path, Cifar10.FolderName, Cifar10.SyntheticMarkerFileName));
        using (var unlabelled = Cifar10.Load(_dir.Path))
            Assert.Equal("CIFAR-10", unlabelled.SourceName);
        using (var labelled = Cifar10.Load(_dir.Path, "my copy"))
            Assert.Equal("my copy", labelled.SourceName);
    }

    // ---- the real sample (shared/data), extracted like a user would ----

    [Fact]
    public async Task SharedSample_ExtractsAndLoads_WithExactCounts()
    {
        string data = await Cifar10.ExtractAsync(RepoFiles.SampleArchive, _dir.Combine("data"));
        Assert.Equal([Cifar10.FolderName], Directory.GetFileSystemEntries(data).Select(Path.GetFileName));
        using var dataset = Cifar10.Load(data);

        Assert.Equal("CIFAR-10 sample", dataset.SourceName); // recognized by its SHA-256
        Assert.False(dataset.IsSynthetic);
        Assert.Equal(10_000, dataset.Train.Count);
        Assert.Equal(2_000, dataset.Test.Count);
        Assert.All(dataset.Train.CountPerClass(), c => Assert.Equal(1_000, c));
        Assert.All(dataset.Test.CountPerClass(), c => Assert.Equal(200, c));
        Assert.Equal(["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"], dataset.ClassNames);
    }

    // ---- download → verify → extract → load, over real HTTP on 127.0.0.1 ----

    private byte[] SmallArchive()
    {
        string folder = DataTestFiles.SmallSet(_dir.Combine("src"), train: 30, test: 10);
        // Stands in for the official archive, which carries no marker (downloads refuse synthetic folders).
        File.Delete(Path.Combine(folder, Cifar10.SyntheticMarkerFileName));
        string archive = _dir.Combine("src.tar.gz");
        DataTestFiles.PackTarGz(folder, archive);
        return File.ReadAllBytes(archive);
    }

    [Fact]
    public async Task Extract_RemovesWhatKilledExtractionsLeftBehind_OnceItHoldsTheFoldersLock()
    {
        // A running extraction holds the data folder's lock (cifar-10-batches-bin.lock; DataWriteFaultTests: a second one waits
        // for it), so whatever temporary folder is there once this one holds the lock belongs to a run that is gone: old or fresh.
        string archive = _dir.Combine("small.tar.gz");
        File.WriteAllBytes(archive, SmallArchive());
        string data = _dir.Combine("data");
        string killedLongAgo = Path.Combine(data, ".extract-0123456789abcdef0123456789abcdef");
        string killedJustNow = Path.Combine(data, ".synth-fedcba9876543210fedcba9876543210");
        foreach (var folder in new[] { killedLongAgo, killedJustNow })
            File.WriteAllText(Path.Combine(Directory.CreateDirectory(folder).FullName, "part"), "half-written");
        Directory.SetLastWriteTimeUtc(killedLongAgo, DateTime.UtcNow.AddHours(-2));

        await Cifar10.ExtractAsync(archive, data);

        Assert.Equal([Cifar10.FolderName], Directory.GetFileSystemEntries(data).Select(Path.GetFileName));
    }

    private static Checksum Sha256Of(byte[] bytes) => Checksum.Sha256(Convert.ToHexStringLower(SHA256.HashData(bytes)));

    [Fact]
    public async Task Download_FromHttpMirror_VerifiesExtractsAndLoads()
    {
        byte[] archive = SmallArchive();
        using var server = new LocalHttpServer();
        server.Serve("mirror/cifar-10-binary.tar.gz", archive);
        string data = _dir.Combine("data");
        var reports = new List<DownloadProgress>();

        string root = await Cifar10.DownloadAsync(data, server.Url("mirror/"), Sha256Of(archive), new SyncProgress(reports.Add));

        Assert.Equal(Path.GetFullPath(data), root);
        Assert.Equal([Cifar10.FolderName, Cifar10.ArchiveFileName], Directory.GetFileSystemEntries(root).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.True(reports[^1].Completed);
        using var dataset = Cifar10.Load(root);
        Assert.Equal(30, dataset.Train.Count);
        Assert.Equal(10, dataset.Test.Count);

        // Second call: the extracted folder is used, no request made.
        int requests = server.Requests.Values.Sum();
        await Cifar10.DownloadAsync(data, server.Url("mirror/"), Sha256Of(archive));
        Assert.Equal(requests, server.Requests.Values.Sum());
    }

    [Fact]
    public async Task Download_ChecksumMismatch_KeepsNothing()
    {
        byte[] archive = SmallArchive();
        using var server = new LocalHttpServer();
        server.Serve("c.tar.gz", archive);
        string data = _dir.Combine("data");

        var ex = await Assert.ThrowsAsync<InvalidDataException>(
            () => Cifar10.DownloadAsync(data, server.Url("c.tar.gz"), Checksum.Sha256(new string('0', 64))));

        Assert.Contains("SHA-256", ex.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(data), $"{data}: a failed download left its (empty) folder behind");
    }

    [Fact]
    public async Task Download_ThatFailsOnHttp_LeavesNoFolder_ButAnExistingFolderStays()
    {
        using var server = new LocalHttpServer();
        string data = _dir.Combine("new", "data");

        var ex = await Assert.ThrowsAsync<IOException>(() => Cifar10.DownloadAsync(data, server.Url("missing.tar.gz")));

        Assert.Contains("HTTP 404", ex.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_dir.Combine("new")), "a failed download left the folders it created behind");

        string existing = _dir.Combine("existing");
        Directory.CreateDirectory(existing);
        await Assert.ThrowsAsync<IOException>(() => Cifar10.DownloadAsync(existing, server.Url("missing.tar.gz")));
        Assert.True(Directory.Exists(existing), "a failed download removed a folder the user had made");
    }

    [Fact]
    public async Task Download_WithoutChecksum_UsesTheOfficialMd5()
    {
        byte[] archive = SmallArchive();
        using var server = new LocalHttpServer();
        server.Serve("c.tar.gz", archive);
        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => Cifar10.DownloadAsync(_dir.Combine("data"), server.Url("c.tar.gz")));
        Assert.Contains($"MD5 is {Convert.ToHexStringLower(MD5.HashData(archive))}, expected {Cifar10.Md5}", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Download_TruncatedBody_FailsAndExtractsNothing()
    {
        byte[] archive = SmallArchive();
        using var server = new LocalHttpServer();
        server.Truncated("c.tar.gz", archive, archive.Length / 3);
        string data = _dir.Combine("data");

        var ex = await Assert.ThrowsAsync<IOException>(() => Cifar10.DownloadAsync(data, server.Url("c.tar.gz"), Sha256Of(archive)));

        Assert.Contains(server.Url("c.tar.gz").ToString(), ex.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(data, Cifar10.FolderName)));
        Assert.False(File.Exists(Path.Combine(data, Cifar10.ArchiveFileName)));
    }

    [Theory]
    [InlineData(404)]
    [InlineData(500)]
    public async Task Download_HttpError_IsAnErrorNamingUrlAndStatus(int status)
    {
        using var server = new LocalHttpServer();
        server.Status("c.tar.gz", status);
        string data = _dir.Combine("data");
        var ex = await Assert.ThrowsAsync<IOException>(() => Cifar10.DownloadAsync(data, server.Url("c.tar.gz"), Checksum.Sha256(new string('0', 64))));
        Assert.Contains(server.Url("c.tar.gz").ToString(), ex.Message, StringComparison.Ordinal);
        Assert.Contains($"HTTP {status}", ex.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(data, Cifar10.FolderName)));
    }

    [Fact]
    public async Task Download_IntoAFolderHoldingSyntheticData_IsRefused()
    {
        DataTestFiles.SmallSet(_dir.Path);
        var ex = await Assert.ThrowsAsync<IOException>(() => Cifar10.DownloadAsync(_dir.Path, new Uri("http://127.0.0.1:9/never")));
        Assert.Contains("synthetic", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Download_FromFileMirror_OfTheSharedSample()
    {
        // The sample's own SHA-256: the shared one's, or that of a sample the workflow wrote with nvgg data sample.
        var mirror = new Uri(RepoFiles.SampleArchive);
        string sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(RepoFiles.SampleArchive)));
        string root = await Cifar10.DownloadAsync(_dir.Combine("data"), mirror, Checksum.Sha256(sha256));
        using var dataset = Cifar10.Load(root);
        Assert.Equal(10_000, dataset.Train.Count);
        Assert.Equal("CIFAR-10 sample", dataset.SourceName);
    }

    [Fact]
    public async Task Download_HostileArchive_FailsAfterVerification_WritingNothingOutside()
    {
        string hostile = _dir.Combine("hostile.tar.gz");
        DataTestFiles.WriteTarGz(hostile, [.. DataTestFiles.ValidEntries(_dir), DataTestFiles.FileEntry("../../escaped.txt", [1])]);
        byte[] bytes = File.ReadAllBytes(hostile);
        using var server = new LocalHttpServer();
        server.Serve("h.tar.gz", bytes);
        string data = _dir.Combine("deep", "data");

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => Cifar10.DownloadAsync(data, server.Url("h.tar.gz"), Sha256Of(bytes)));

        Assert.Contains("climbs out", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(_dir.Files(), f => f.Contains("escaped", StringComparison.Ordinal));
        Assert.Equal([Cifar10.ArchiveFileName], Directory.GetFileSystemEntries(data).Select(Path.GetFileName));
    }

    private sealed class SyncProgress(Action<DownloadProgress> report) : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value) => report(value);
    }
}
