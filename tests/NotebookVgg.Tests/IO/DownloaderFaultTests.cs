using System.Security.Cryptography;
using NotebookVgg.IO;
using NotebookVgg.Tests.TestSupport;

namespace NotebookVgg.Tests.IO;

/// <summary>
/// Issue 27: downloads under real faults. A disk too small for the size the server announces, or a read-only folder, fails before
/// any byte is fetched and leaves nothing; two downloads of one file take turns, and the second uses the first's verified file.
/// </summary>
public sealed class DownloaderFaultTests : IDisposable
{
    private readonly LocalHttpServer _server = new();
    private readonly byte[] _body = RandomNumberGenerator.GetBytes(3_000_000);

    private Checksum Sha => Checksum.Sha256(Convert.ToHexStringLower(SHA256.HashData(_body)));

    public void Dispose() => _server.Dispose();

    [Fact]
    public async Task ADownloadTooBigForTheDisk_IsRefusedBeforeItsBody_AndLeavesNothing()
    {
        using var disk = FaultyFolder.FullDisk(1024 * 1024);
        _server.Serve("f.bin", _body);
        using var downloader = new Downloader();
        string target = disk.Combine("weights", "f.bin");

        var ex = await Assert.ThrowsAsync<WriteFailedException>(() => downloader.EnsureFileAsync(_server.Url("f.bin"), target, [Sha]));

        Assert.Equal(WriteProblem.DiskFull, ex.Problem);
        Assert.Equal($"{target}: cannot write the download: the disk is full: 3.0 MB needed, {WriteFailure.Bytes(disk.FreeBytes)} free; " +
            "free space there (or download into another folder); nothing was fetched", ex.Message);
        Assert.Empty(disk.Entries()); // no partial file, no lock file, not even the folder it created
    }

    [Fact]
    public async Task ADiskThatFillsMidTransfer_DeletesThePartialFile_AndSaysNothingWasKept()
    {
        using var disk = FaultyFolder.FullDisk(1024 * 1024);
        _server.Chunked("f.bin", _body); // no Content-Length: nothing to check before the body, so the disk fills mid-way
        using var downloader = new Downloader();
        string target = disk.Combine("weights", "f.bin");

        var ex = await Assert.ThrowsAsync<WriteFailedException>(() => downloader.EnsureFileAsync(_server.Url("f.bin"), target, [Sha]));

        Assert.Equal(WriteProblem.DiskFull, ex.Problem);
        Assert.Equal(target, ex.Path);
        Assert.DoesNotContain('\n', ex.Message);
        Assert.StartsWith($"{target}: cannot write the download: the disk is full: ", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith("; free space there (or download into another folder); nothing was kept", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, _server.Requests["/f.bin"]);
        Assert.Empty(disk.Entries()); // the partial file gave its space back; no lock file, no folder it created
    }

    [Fact]
    public async Task ADownloadIntoAReadOnlyFolder_SaysSo_WithoutAskingTheServer()
    {
        using var folder = FaultyFolder.ReadOnly();
        _server.Serve("f.bin", _body);
        using var downloader = new Downloader();
        string target = folder.Combine("f.bin");

        var ex = await Assert.ThrowsAsync<WriteFailedException>(() => downloader.EnsureFileAsync(_server.Url("f.bin"), target, [Sha]));

        Assert.Equal(WriteProblem.ReadOnly, ex.Problem);
        Assert.Equal($"{target}: cannot write the download: {folder.Path} is on a read-only file system; " +
            "download into a writable folder, or place the file there by hand", ex.Message);
        Assert.Empty(_server.Requests);
    }

    [Fact]
    public async Task ATruncatedDownload_KeepsItsPartialFileToResume_ButNoLockFile()
    {
        using var dir = new TempDirectory();
        _server.Truncated("f.bin", _body, 1_000_000);
        using var downloader = new Downloader();

        await Assert.ThrowsAsync<IOException>(() => downloader.EnsureFileAsync(_server.Url("f.bin"), dir.Combine("f.bin"), [Sha]));

        Assert.Equal(["f.bin.partial"], dir.Files());
    }

    [Fact]
    public async Task TwoDownloadsOfOneFile_TakeTurns_AndTheSecondUsesTheFirstsVerifiedFile()
    {
        using var dir = new TempDirectory();
        var gate = new TaskCompletionSource();
        _server.Gated("f.bin", _body, gate.Task);
        var log = new List<string>();
        using var first = new Downloader();
        using var second = new Downloader { Log = log.Add };
        string target = dir.Combine("f.bin");

        var one = first.EnsureFileAsync(_server.Url("f.bin"), target, [Sha]);
        while (!File.Exists(target + ".partial"))
            await Task.Delay(20);
        var two = second.EnsureFileAsync(_server.Url("f.bin"), target, [Sha]);
        while (log.Count == 0)
            await Task.Delay(20);
        gate.SetResult();

        Assert.Equal(target, await one);
        Assert.Equal(target, await two);
        Assert.StartsWith($"{target}: waiting for another process (pid {Environment.ProcessId} (", Assert.Single(log), StringComparison.Ordinal);
        Assert.Equal(1, _server.Requests["/f.bin"]);
        Assert.Equal(["f.bin"], dir.Files());
    }
}
