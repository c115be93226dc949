using NotebookVgg.Data;
using NotebookVgg.IO;
using NotebookVgg.Models;
using NotebookVgg.Runtime;
using NotebookVgg.Tests.Data;
using NotebookVgg.Tests.TestSupport;
using NotebookVgg.Training;
using NotebookVgg.Transfer;
using NotebookVgg.Weights;
using static TorchSharp.torch;

namespace NotebookVgg.Tests.Training;

/// <summary>
/// Issue 27: a cache that cannot be written never stops the work. A read-only data folder is normal: the cache moves to the user
/// cache folder and the run says so; with no writable folder at all, or a full disk, the run goes on without a cache. Two
/// processes computing the same features meet at the cache file's lock: the second reads what the first computed.
/// </summary>
[Collection(GlobalRandomState.Name)] // sets XDG_CACHE_HOME: runs alone
public sealed class FeatureCacheFaultTests : IDisposable
{
    private static readonly Backbone Backbone = new("vgg11", WeightsReference.Random, FeatureCut.Fc7, 32, Interpolation.Bilinear,
        Preprocessing.ImageNet.Mean, Preprocessing.ImageNet.Std, Precision.Fp32, Seed: 11);
    private readonly TempDirectory _dir = new();
    private readonly Cifar10Dataset _data;
    private readonly Vgg _model;

    public FeatureCacheFaultTests()
    {
        DataTestFiles.SmallSet(_dir.Combine("data"), train: 20, test: 40);
        _data = Cifar10.Load(_dir.Combine("data"));
        random.manual_seed(11);
        _model = Vgg.CreateReducedWidth("vgg11", widthDivisor: 16, hiddenUnits: 64, numClasses: 10);
    }

    public void Dispose()
    {
        _model.Dispose();
        _data.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public void AReadOnlyCacheFolder_MovesTheCacheToTheUserCacheFolder_SayingSo_AndTheNextRunReadsItThere()
    {
        using var readOnly = FaultyFolder.ReadOnly();
        using var env = new EnvironmentVariables(("XDG_CACHE_HOME", _dir.Combine("xdg")));
        var log = new List<string>();
        string cacheDir = readOnly.Combine("features");

        using var computed = FeatureCache.GetOrCompute(Backbone, _model, _data.Test, cacheDir, 8, log: log.Add);
        using var again = FeatureCache.GetOrCompute(Backbone, _model, _data.Test, cacheDir, 8, log: log.Add);

        string standIn = Path.Combine(_dir.Combine("xdg"), "notebookvgg", "features");
        Assert.Equal($"feature cache ({_data.Test.Name}): {cacheDir} is on a read-only file system; cached in {standIn} instead", Assert.Single(log));
        Assert.False(computed.FromCache);
        Assert.Equal(standIn, Path.GetDirectoryName(computed.Path));
        Assert.True(again.FromCache);
        Assert.Equal(computed.Path, again.Path);
        Assert.Empty(readOnly.Entries());
    }

    [Fact]
    public void WithNoWritableCacheFolder_TheWorkGoesOnWithoutACache_SayingSo()
    {
        using var readOnly = FaultyFolder.ReadOnly();
        using var readOnlyHome = FaultyFolder.ReadOnly();
        using var env = new EnvironmentVariables(("XDG_CACHE_HOME", readOnlyHome.Path));
        var log = new List<string>();

        using var features = FeatureCache.GetOrCompute(Backbone, _model, _data.Test, readOnly.Combine("features"), 8, log: log.Add);

        Assert.Null(features.Path);
        Assert.Equal(_data.Test.Count, features.Count);
        Assert.Contains("going on without a cache", Assert.Single(log), StringComparison.Ordinal);
    }

    [Fact]
    public void AFullCacheDisk_TheWorkGoesOnWithoutACache_SayingWhy()
    {
        using var disk = FaultyFolder.FullDisk(4096);
        var log = new List<string>();

        using var features = FeatureCache.GetOrCompute(Backbone, _model, _data.Test, disk.Combine("features"), 8, log: log.Add);

        Assert.Null(features.Path);
        Assert.Equal(_data.Test.Count, features.Count);
        string line = Assert.Single(log);
        Assert.StartsWith($"feature cache ({_data.Test.Name}): not stored, the run goes on without it: ", line, StringComparison.Ordinal);
        Assert.Contains("the disk is full: ", line, StringComparison.Ordinal);
        Assert.Equal(["features"], disk.Entries()); // no temporary file, no lock file
    }

    [Fact]
    public void TwoProcessesComputingTheSameFeatures_TheSecondWaitsForTheFirst_AndReadsItsFile()
    {
        string cache = _dir.Combine("cache"), gate = _dir.Combine("go");
        using var first = ChildProcess.Start("features", cache, _dir.Combine("data"), gate);
        first.WaitFor("EXTRACTING");
        using var second = ChildProcess.Start("features", cache, _dir.Combine("data"), gate);
        string waiting = second.WaitFor("LOG ");
        File.WriteAllText(gate, ""); // the first may finish now

        var one = first.WaitForExit();
        var two = second.WaitForExit();

        Assert.Equal((0, 0), (one.ExitCode, two.ExitCode));
        Assert.Contains("FROMCACHE False", one.Stdout, StringComparison.Ordinal);
        Assert.Contains("FROMCACHE True", two.Stdout, StringComparison.Ordinal);
        Assert.StartsWith($"LOG feature cache (test): waiting for another process (pid {first.Id} (", waiting, StringComparison.Ordinal);
        Assert.DoesNotContain("EXTRACTING", two.Stdout, StringComparison.Ordinal);
        string Sum(string stdout) => stdout.Split('\n').Single(l => l.StartsWith("SUM ", StringComparison.Ordinal));
        Assert.Equal(Sum(one.Stdout), Sum(two.Stdout));
        Assert.Single(Directory.GetFiles(cache)); // the features: no lock file, no temporary
    }

    [Fact]
    public void ThePrecisionCheck_OnAFullDisk_GoesOnWithoutCaching_SayingWhy_AndLeavesNoTemporary()
    {
        using var disk = FaultyFolder.FullDisk(64 * 1024);
        Directory.CreateDirectory(disk.Combine("features"));
        disk.Fill(); // a few hundred bytes of JSON no longer fit
        var log = new List<string>();
        using var batch = randn(4, 3, 32, 32);

        var choice = PrecisionCheck.Choose(Precision.Auto, CPU, _model, batch, FeatureCut.Fc7, "key", disk.Combine("features"), log.Add);

        Assert.Equal(["FILLER", "features"], disk.Entries());
        if (CpuSpeed.HasNativeBf16 && CpuAutocast.IsAvailable)
        {
            // The check ran; its result could not be stored, and the run goes on with it.
            string line = Assert.Single(log);
            Assert.StartsWith($"precision check: not cached, the run goes on without it: {disk.Combine("features", "precision-key.json")}: " +
                "cannot write the precision check cache file: the disk is full: ", line, StringComparison.Ordinal);
            Assert.DoesNotContain("(check read from the cache)", choice.Reason, StringComparison.Ordinal);
        }
        else
        {
            // Without native bf16 there is nothing to check, so nothing is written.
            Assert.False(choice.Bf16);
            Assert.Empty(log);
        }
    }

    [Fact]
    public void TwoProcessesCheckingThePrecisionAtOnce_LeaveOneWholeCacheFile_AndNoTemporary()
    {
        string cache = _dir.Combine("precision"), gate = _dir.Combine("go-precision");
        using var first = ChildProcess.Start("precision", cache, gate);
        using var second = ChildProcess.Start("precision", cache, gate);
        first.WaitFor("READY");
        second.WaitFor("READY");
        File.WriteAllText(gate, ""); // both measure at once: there is no lock, each renames a whole file

        var one = first.WaitForExit();
        var two = second.WaitForExit();

        Assert.True((one.ExitCode, two.ExitCode) == (0, 0), one.Stderr + two.Stderr);
        if (CpuSpeed.HasNativeBf16 && CpuAutocast.IsAvailable)
        {
            string file = Assert.Single(Directory.GetFiles(cache)); // no temporary, no lock file
            Assert.Equal("precision-key.json", Path.GetFileName(file));
            var measured = System.Text.Json.JsonSerializer.Deserialize<PrecisionMeasurement>(File.ReadAllText(file));
            Assert.Equal(4, measured!.Images);
            Assert.DoesNotContain("LOG ", one.Stdout + two.Stdout, StringComparison.Ordinal); // neither had to skip the cache
        }
        else
        {
            Assert.False(Directory.Exists(cache)); // without native bf16 there is nothing to check, so nothing is written
            Assert.Contains("BF16 False", one.Stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void ThePrecisionCheck_WithAReadOnlyCacheFolder_GoesOnAndCachesInTheUserCacheFolder()
    {
        using var readOnly = FaultyFolder.ReadOnly();
        using var env = new EnvironmentVariables(("XDG_CACHE_HOME", _dir.Combine("xdg")));
        var log = new List<string>();
        using var batch = randn(4, 3, 32, 32);
        string standIn = Path.Combine(_dir.Combine("xdg"), "notebookvgg", "features");

        var choice = PrecisionCheck.Choose(Precision.Auto, CPU, _model, batch, FeatureCut.Fc7, "key", readOnly.Combine("features"), log.Add);

        Assert.Empty(readOnly.Entries());
        if (CpuSpeed.HasNativeBf16 && CpuAutocast.IsAvailable)
        {
            // The check ran and was cached in the stand-in folder, which the log named.
            Assert.Contains($"cached in {standIn} instead", Assert.Single(log), StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(standIn, "precision-key.json")));
            Assert.EndsWith("(check read from the cache)", PrecisionCheck.Choose(Precision.Auto, CPU, _model, batch, FeatureCut.Fc7, "key",
                readOnly.Combine("features"), log.Add).Reason, StringComparison.Ordinal);
        }
        else
        {
            // Without native bf16 there is nothing to check, so nothing is written anywhere.
            Assert.False(choice.Bf16);
            Assert.False(Directory.Exists(standIn));
            Assert.Empty(log);
        }
    }
}
