using System.Security.Cryptography;
using NotebookVgg.IO;
using NotebookVgg.Tests.TestSupport;

namespace NotebookVgg.Tests.IO;

public sealed class DownloaderTests : IDisposable
{
    private readonly LocalHttpServer _server = new();
    private readonly TempDirectory _dir = new();
    private readonly byte[] _body = RandomNumberGenerator.GetBytes(3_000_000);

    private Checksum Sha => Checksum.Sha256(Convert.ToHexStringLower(SHA256.HashData(_body)));

    public void Dispose()
    {
        _server.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public async Task Http_DownloadsVerifiesAndReportsProgress()
    {
        _server.Serve("f.bin", _body);
        var reports = new List<DownloadProgress>();
        using var downloader = new Downloader();
        string path = await downloader.EnsureFileAsync(_server.Url("f.bin"), _dir.Combine("f.bin"), [Sha], new SyncProgress(reports.Add));

        Assert.Equal(_body, await File.ReadAllBytesAsync(path));
        Assert.Equal(["f.bin"], _dir.Files());
        var last = reports[^1];
        Assert.True(last.Completed);
        Assert.Equal(_body.Length, last.BytesReceived);
        Assert.Equal(_body.Length, last.TotalBytes);
    }

    [Fact]
    public async Task PresentVerifiedFile_IsUsedWithoutNetwork()
    {
        string path = _dir.Combine("f.bin");
        await File.WriteAllBytesAsync(path, _body);
        using var downloader = new Downloader();
        await downloader.EnsureFileAsync(_server.Url("f.bin"), path, [Sha]);
        Assert.Empty(_server.Requests);
    }

    [Fact]
    public async Task PresentFileWithWrongChecksum_IsAnErrorNamingIt_AndIsKept()
    {
        string path = _dir.Combine("f.bin");
        await File.WriteAllBytesAsync(path, [1, 2, 3]);
        using var downloader = new Downloader();
        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => downloader.EnsureFileAsync(_server.Url("f.bin"), path, [Sha]));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains(Sha.Hex, ex.Message, StringComparison.Ordinal);
        Assert.Equal(3, new FileInfo(path).Length);
    }

    [Fact]
    public async Task ChecksumMismatch_LeavesNothingBehind()
    {
        _server.Serve("f.bin", _body);
        using var downloader = new Downloader();
        var wrong = Checksum.Sha256(new string('0', 64));
        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => downloader.EnsureFileAsync(_server.Url("f.bin"), _dir.Combine("f.bin"), [wrong]));
        Assert.Contains("SHA-256", ex.Message, StringComparison.Ordinal);
        Assert.Contains(_server.Url("f.bin").ToString(), ex.Message, StringComparison.Ordinal);
        Assert.Empty(_dir.Files());
    }

    [Theory]
    [InlineData(404)]
    [InlineData(500)]
    public async Task HttpError_IsReportedWithStatus_AndNoFinalFile(int status)
    {
        _server.Status("f.bin", status);
        using var downloader = new Downloader();
        var ex = await Assert.ThrowsAsync<IOException>(() => downloader.EnsureFileAsync(_server.Url("f.bin"), _dir.Combine("f.bin"), [Sha]));
        Assert.Contains($"HTTP {status}", ex.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(_dir.Combine("f.bin")));
    }

    [Fact]
    public async Task TruncatedBody_FailsClearly_ThenResumesToTheVerifiedFile()
    {
        _server.Truncated("f.bin", _body, 1_000_000);
        using var downloader = new Downloader();
        var ex = await Assert.ThrowsAsync<IOException>(() => downloader.EnsureFileAsync(_server.Url("f.bin"), _dir.Combine("f.bin"), [Sha]));
        Assert.Contains(_server.Url("f.bin").ToString(), ex.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(_dir.Combine("f.bin")));
        long partial = new FileInfo(_dir.Combine("f.bin.partial")).Length;
        Assert.InRange(partial, 1, _body.Length - 1);

        _server.Serve("f.bin", _body); // the server recovers: the next call resumes with a Range request
        string path = await downloader.EnsureFileAsync(_server.Url("f.bin"), _dir.Combine("f.bin"), [Sha]);
        Assert.Equal(_body, await File.ReadAllBytesAsync(path));
        Assert.Equal(["f.bin"], _dir.Files());
    }

    [Fact]
    public async Task StalledServer_TimesOutWithAClearMessage()
    {
        _server.Stalls("f.bin", _body, TimeSpan.FromSeconds(10));
        using var downloader = new Downloader(timeout: TimeSpan.FromMilliseconds(500));
        var ex = await Assert.ThrowsAsync<IOException>(() => downloader.EnsureFileAsync(_server.Url("f.bin"), _dir.Combine("f.bin"), [Sha]));
        Assert.Contains("no data", ex.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(_dir.Combine("f.bin")));
    }

    [Fact]
    public async Task FileUrl_WorksAsAnOfflineMirror()
    {
        string source = _dir.Combine("mirror", "f.bin");
        Directory.CreateDirectory(Path.GetDirectoryName(source)!);
        await File.WriteAllBytesAsync(source, _body);
        using var downloader = new Downloader();
        string path = await downloader.EnsureFileAsync(new Uri(source), _dir.Combine("cache", "f.bin"), [Sha, Checksum.Md5(Convert.ToHexStringLower(MD5.HashData(_body)))]);
        Assert.Equal(_body, await File.ReadAllBytesAsync(path));
    }

    [Fact]
    public void Checksum_RejectsMalformedHex()
    {
        var ex = Assert.Throws<ArgumentException>(() => Checksum.Sha256("xyz"));
        Assert.Contains("xyz", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sha256Prefix_AcceptsTheFileItNames_AndRefusesAnotherLeavingNothing()
    {
        // torchvision publishes only the first 8 hex digits of a file's SHA-256 (in its name).
        _server.Serve("f.bin", _body);
        string digest = Convert.ToHexStringLower(SHA256.HashData(_body));
        using var downloader = new Downloader();
        string path = await downloader.EnsureFileAsync(_server.Url("f.bin"), _dir.Combine("f.bin"), [Checksum.Sha256Prefix(digest[..8])]);
        Assert.Equal(_body, await File.ReadAllBytesAsync(path));

        string wrong = (digest[0] == '0' ? "1" : "0") + digest[1..8];
        var ex = await Assert.ThrowsAsync<InvalidDataException>(() =>
            downloader.EnsureFileAsync(_server.Url("f.bin"), _dir.Combine("g.bin"), [Checksum.Sha256Prefix(wrong)]));
        Assert.Contains($"expected one starting {wrong}", ex.Message, StringComparison.Ordinal);
        Assert.Equal(["f.bin"], _dir.Files());
        Assert.Throws<ArgumentException>(() => Checksum.Sha256Prefix("abc"));
    }

    /// <summary>Progress&lt;T&gt; posts to the thread pool; tests need the reports in order, at once.</summary>
    private sealed class SyncProgress(Action<DownloadProgress> report) : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value) => report(value);
    }
}
