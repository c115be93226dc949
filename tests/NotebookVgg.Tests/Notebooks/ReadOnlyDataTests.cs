using NotebookVgg.Notebooks;
using NotebookVgg.Tests.Data;
using NotebookVgg.Tests.TestSupport;

namespace NotebookVgg.Tests.Notebooks;

/// <summary>
/// Issue 27: a notebook on a read-only data folder (a shared data set, a read-only checkout's data/) runs: the substituted sample,
/// the features and the checkpoints go to the user cache folder, and the setup says so.
/// </summary>
[Collection(GlobalRandomState.Name)] // changes environment variables: runs alone
public sealed class ReadOnlyDataTests
{
    [Fact]
    public async Task AReadOnlyDataFolder_SendsTheSampleFeaturesAndCheckpointsToTheUserCacheFolder_SayingSo()
    {
        using var temp = new TempDirectory();
        using var readOnly = FaultyFolder.ReadOnly();
        DataTestFiles.PackTarGz(DataTestFiles.SmallSet(temp.Combine("src"), train: 50, test: 20), temp.Combine("sample.tar.gz"));
        using var env = new EnvironmentVariables(("NOTEBOOKVGG_SAMPLE", temp.Combine("sample.tar.gz")), ("XDG_CACHE_HOME", temp.Combine("xdg")));
        var log = new List<string>();
        string userCache = temp.Combine("xdg", "notebookvgg");

        var run = await NotebookRun.ResolveAsync("smoke", "tiny", readOnly.Path, "none", seed: 0, "fp32", log.Add);

        Assert.Equal(Path.Combine(userCache, "sample"), run.DataDirectory);
        Assert.Equal(userCache, run.Root);
        Assert.StartsWith(Path.Combine(userCache, "checkpoints"), run.RecipeCheckpointPath, StringComparison.Ordinal);
        Assert.Equal(Path.Combine(userCache, "features"), run.Settings().FeatureCacheDirectory);
        Assert.Contains($"CIFAR-10 sample: {readOnly.Path} is on a read-only file system; cached in {userCache} instead", log);
        Assert.Contains($"features and checkpoints: {readOnly.Path} is on a read-only file system; cached in {userCache} instead", log);
        Assert.Empty(readOnly.Entries());
    }
}
