using System.Security.Cryptography;
using NotebookVgg.Data;
using NotebookVgg.IO;
using NotebookVgg.Tests.TestSupport;
using NotebookVgg.Transfer;
using NotebookVgg.Weights;

namespace NotebookVgg.Tests.Transfer;

/// <summary>
/// Issue 27: downloads a notebook or <c>nvgg train</c> starts (<see cref="RunInputs"/>, <see cref="WeightsStore"/>) under real
/// faults. A full disk or a read-only folder is said as it is (the <see cref="WriteFailedException"/> passes through), never
/// wrapped as "could not be downloaded … place the file there by hand"; a read-only default weights folder is no error.
/// </summary>
[Collection(GlobalRandomState.Name)] // sets NOTEBOOKVGG_WEIGHTS, its mirror and XDG_CACHE_HOME: runs alone
public sealed class RunInputsFaultTests : IDisposable
{
    private readonly LocalHttpServer _server = new();
    private readonly TempDirectory _dir = new();
    private readonly byte[] _body = RandomNumberGenerator.GetBytes(3_000_000);

    public void Dispose()
    {
        _server.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public async Task WeightsDownloadedOntoADiskThatFills_FailWithTheWriteFailure_NotAsAnOfflineDownload()
    {
        using var disk = FaultyFolder.FullDisk(1024 * 1024);
        var vgg19 = PretrainedWeights.Find("vgg19")!;
        _server.Chunked(vgg19.FileName, _body);
        using var env = new EnvironmentVariables(("NOTEBOOKVGG_WEIGHTS", disk.Combine("weights")),
            ("NOTEBOOKVGG_WEIGHTS_MIRROR", _server.BaseUri.ToString()), ("XDG_CACHE_HOME", _dir.Combine("xdg")));

        var ex = await Assert.ThrowsAsync<WriteFailedException>(() => RunInputs.WeightsAsync("vgg19"));

        Assert.Equal(WriteProblem.DiskFull, ex.Problem);
        Assert.StartsWith($"{disk.Combine("weights", vgg19.FileName)}: cannot write the download: the disk is full: ", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith("nothing was kept", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("place", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, _server.Requests[$"/{vgg19.FileName}"]);
        Assert.Equal(["weights"], disk.Entries()); // no partial file, no lock (the folder existed before the download: its probe made it)
    }

    [Fact]
    public async Task CifarDownloadedIntoAReadOnlyDataFolder_FailsWithTheWriteFailure_BeforeAnyRequest()
    {
        using var folder = FaultyFolder.ReadOnly();

        var ex = await Assert.ThrowsAsync<WriteFailedException>(() => RunInputs.DataAsync(folder.Path, MissingData.Download));

        Assert.Equal(WriteProblem.ReadOnly, ex.Problem);
        Assert.Equal($"{folder.Combine(Cifar10.FolderName)}: cannot write the data folder: {folder.Path} is on a read-only file system; " +
            "choose a writable data folder; nothing was changed", ex.Message);
        Assert.Empty(folder.Entries());
    }

    [Fact]
    public void TwoProcessesSubstitutingTheSample_TakeTurnsAtItsExtraction_AndBothUseTheOneCopy()
    {
        string data = _dir.Combine("data"), sample = Path.Combine(data, "sample");
        ChildProcess first, second;
        // Held here until both wait at the sample folder's lock, so that they meet there whatever their start-up times.
        using (Cifar10Archive.BeginWriting(sample, Path.Combine(sample, Cifar10.FolderName), null, CancellationToken.None))
        {
            first = ChildProcess.Start("sample-data", data);
            second = ChildProcess.Start("sample-data", data);
            Assert.Contains("waiting for another process", first.WaitFor("LOG " + sample), StringComparison.Ordinal);
            Assert.Contains("waiting for another process", second.WaitFor("LOG " + sample), StringComparison.Ordinal);
        }
        using (first)
        using (second)
        {
            var one = first.WaitForExit();
            var two = second.WaitForExit();

            Assert.True((one.ExitCode, two.ExitCode) == (0, 0), one.Stderr + two.Stderr);
            Assert.Contains($"PATH {sample}", one.Stdout, StringComparison.Ordinal);
            Assert.Contains($"PATH {sample}", two.Stdout, StringComparison.Ordinal);
            Assert.Single(new[] { one.Stdout, two.Stdout }, o => o.Contains("another process extracted CIFAR-10 sample meanwhile; using it", StringComparison.Ordinal));
        }
        Assert.Equal([Cifar10.FolderName], Directory.GetFileSystemEntries(sample).Select(Path.GetFileName)); // no temporary, no lock file
        using var set = Cifar10.Load(sample);
        Assert.Equal(Cifar10.SourceNameSample, set.SourceName);
    }

    [Fact]
    public async Task WeightsForAReadOnlyFolderNamedExplicitly_FailInOneLine_WithoutAskingTheServer()
    {
        using var folder = FaultyFolder.ReadOnly();
        using var env = new EnvironmentVariables(("XDG_CACHE_HOME", _dir.Combine("xdg")));
        _server.Serve("models/vgg19-test.pth", _body);
        var entry = PretrainedWeights.Vgg19ImageNet with { Url = _server.Url("models/vgg19-test.pth"), Sha256 = Convert.ToHexStringLower(SHA256.HashData(_body)) };

        var ex = await Assert.ThrowsAsync<WriteFailedException>(() => WeightsStore.EnsureAsync(entry, folder.Path));

        Assert.Equal($"{folder.Combine(entry.FileName)}: cannot write the download: {folder.Path} is on a read-only file system; " +
            "download into a writable folder, or place the file there by hand", ex.Message);
        Assert.Empty(_server.Requests);
        Assert.False(Directory.Exists(_dir.Combine("xdg"))); // a folder the user named is not swapped for the user cache folder
    }

    [Fact]
    public async Task WeightsForAReadOnlyDefaultFolder_GoToTheUserCacheFolder_SayingSo_AndAreFoundThereNextTime()
    {
        using var folder = FaultyFolder.ReadOnly();
        string xdg = _dir.Combine("xdg");
        using var env = new EnvironmentVariables(("NOTEBOOKVGG_WEIGHTS", folder.Path), ("NOTEBOOKVGG_WEIGHTS_MIRROR", null), ("XDG_CACHE_HOME", xdg));
        _server.Serve("models/vgg19-test.pth", _body);
        var entry = PretrainedWeights.Vgg19ImageNet with
        {
            Url = _server.Url("models/vgg19-test.pth"),
            Sha256 = Convert.ToHexStringLower(SHA256.HashData(_body)),
            Bytes = _body.Length,
        };
        var log = new List<string>();
        string standIn = Path.Combine(xdg, "notebookvgg", "weights", entry.FileName);

        string path = await WeightsStore.EnsureAsync(entry, log: log.Add);
        string located = WeightsStore.Locate(entry);
        string again = await WeightsStore.EnsureAsync(entry, log: log.Add);

        Assert.Equal(standIn, path);
        Assert.Equal(_body, File.ReadAllBytes(path));
        Assert.Equal($"weights: {folder.Path} is on a read-only file system; cached in {Path.GetDirectoryName(standIn)} instead", Assert.Single(log));
        Assert.Equal(standIn, located);
        Assert.Equal(standIn, again);
        Assert.Equal(1, _server.Requests["/models/vgg19-test.pth"]); // found there: no second download
        Assert.Empty(folder.Entries());
    }
}
