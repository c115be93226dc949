using System.Security.Cryptography;
using NotebookVgg.Tests.TestSupport;
using NotebookVgg.Weights;

namespace NotebookVgg.Tests.Weights;

public sealed class WeightsStoreTests : IDisposable
{
    private readonly LocalHttpServer _server = new();
    private readonly TempDirectory _cache = new();
    private readonly TempDirectory _mirror = new();
    private readonly byte[] _body = File.ReadAllBytes(WeightFixtures.Path("vgg19_r32.legacy.pth"));

    public void Dispose()
    {
        _server.Dispose();
        _cache.Dispose();
        _mirror.Dispose();
    }

    private string Sha => Convert.ToHexStringLower(SHA256.HashData(_body));

    // A registry entry like the real one, pointing at the local server (the real files are 500+ MB).
    private PretrainedWeights Entry(string sha) => PretrainedWeights.Vgg19ImageNet with
    {
        Url = _server.Url("models/vgg19-test.pth"),
        Sha256 = sha,
        Bytes = _body.Length,
    };

    [Fact]
    public async Task Download_VerifiesAndCaches_ThenUsesCacheWithoutNetwork()
    {
        _server.Serve("models/vgg19-test.pth", _body);
        var w = Entry(Sha);
        string path = await WeightsStore.EnsureAsync(w, _cache.Path);
        Assert.Equal(_cache.Combine("vgg19-test.pth"), path);
        Assert.Equal(_body, await File.ReadAllBytesAsync(path));

        string again = await WeightsStore.EnsureAsync(w, _cache.Path);
        Assert.Equal(path, again);
        Assert.Equal(1, _server.Requests["/models/vgg19-test.pth"]);
        Assert.Equal(["vgg19-test.pth"], _cache.Files());
    }

    [Fact]
    public async Task WrongChecksum_KeepsNothing()
    {
        _server.Serve("models/vgg19-test.pth", _body);
        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => WeightsStore.EnsureAsync(Entry(new string('0', 64)), _cache.Path));
        Assert.Contains("expected 0000", ex.Message, StringComparison.Ordinal);
        Assert.Empty(_cache.Files());
    }

    [Fact]
    public async Task PrefixOnlyChecksum_IsCheckedBeforeTheFinalName()
    {
        _server.Serve("models/vgg19-test.pth", _body);
        var bad = await Assert.ThrowsAsync<InvalidDataException>(() => WeightsStore.EnsureAsync(Entry("00000000"), _cache.Path));
        Assert.Contains("starting 00000000", bad.Message, StringComparison.Ordinal);
        Assert.Empty(_cache.Files());

        string path = await WeightsStore.EnsureAsync(Entry(Sha[..8]), _cache.Path);
        Assert.Equal(["vgg19-test.pth"], _cache.Files());
        Assert.Equal(_body, await File.ReadAllBytesAsync(path));
    }

    [Fact]
    public async Task Mirror_AndHandPlacedFile_WorkOffline()
    {
        await File.WriteAllBytesAsync(_mirror.Combine("vgg19-test.pth"), _body);
        var w = Entry(Sha); // its URL is never served: only the mirror has the file
        string path = await WeightsStore.EnsureAsync(w, _cache.Path, mirror: new Uri(_mirror.Path + "/"));
        Assert.Equal(_body, await File.ReadAllBytesAsync(path));
        Assert.False(_server.Requests.ContainsKey("/models/vgg19-test.pth"));

        using var handPlaced = new TempDirectory();
        File.Copy(_mirror.Combine("vgg19-test.pth"), handPlaced.Combine("vgg19-test.pth"));
        Assert.Equal(handPlaced.Combine("vgg19-test.pth"), await WeightsStore.EnsureAsync(w, handPlaced.Path));
    }

    [Fact]
    public async Task HttpError_IsReportedClearly_AndLeavesNoFinalFile()
    {
        _server.Status("models/vgg19-test.pth", 404);
        var ex = await Assert.ThrowsAsync<IOException>(() => WeightsStore.EnsureAsync(Entry(Sha), _cache.Path));
        Assert.Contains("404", ex.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(_cache.Combine("vgg19-test.pth")));
    }

    [Fact]
    public void Parse_TellsRandomWeightsFilesAndRegistryNamesApart_WithoutTheNetwork()
    {
        Assert.True(WeightsStore.Parse("none").IsRandom);
        Assert.True(WeightsStore.Parse(" NONE ").IsRandom);

        string file = _mirror.Combine("my.pth");
        File.WriteAllBytes(file, _body);
        var local = WeightsStore.Parse(file);
        Assert.Equal(Path.GetFullPath(file), local.Path);
        Assert.Null(local.Entry);
        Assert.False(local.NeedsDownload);

        var missing = WeightsStore.Parse("VGG19", _cache.Path);
        Assert.Same(PretrainedWeights.Vgg19ImageNet, missing.Entry);
        Assert.Equal(WeightsStore.PathFor(PretrainedWeights.Vgg19ImageNet, _cache.Path), missing.Path);
        Assert.True(missing.NeedsDownload);
        File.WriteAllBytes(missing.Path!, _body);
        Assert.False(WeightsStore.Parse("vgg19", _cache.Path).NeedsDownload);

        var bad = Assert.Throws<ArgumentException>(() => WeightsStore.Parse("vgg20.pth"));
        Assert.Contains("'vgg20.pth'", bad.Message, StringComparison.Ordinal);
        Assert.Contains("vgg19_bn", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MirrorBase_GetsTheFileNameAppended()
    {
        var w = PretrainedWeights.Vgg19ImageNet;
        Assert.Equal("https://mirror.example/weights/vgg19-dcbb9e9d.pth", WeightsStore.SourceFor(w, new Uri("https://mirror.example/weights")).ToString());
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(WeightsStore.MirrorEnvironmentVariable)))
            Assert.Equal(w.Url, WeightsStore.SourceFor(w));
    }
}
