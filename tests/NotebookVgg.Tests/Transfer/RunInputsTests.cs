using NotebookVgg.Training;
using NotebookVgg.Transfer;
using NotebookVgg.Weights;

namespace NotebookVgg.Tests.Transfer;

// The weights' name is decided in RunInputs alone: the notebooks (NotebookRun) and nvgg train both ask it.
[Collection(TestSupport.GlobalRandomState.Name)] // changes environment variables: runs alone
public class RunInputsTests
{
    [Theory]
    [InlineData("smoke", null, "none")]
    [InlineData("smoke", "", "none")]
    [InlineData("cpu", null, "vgg19")]
    [InlineData("cpu", "  ", "vgg19")]
    [InlineData("gpu-tutorial", "none", "none")]
    [InlineData("cpu", " vgg19_bn ", "vgg19_bn")]
    public void WeightsName_IsTheRequestedOne_ElseTheProfilesOwn(string profile, string? requested, string expected) =>
        Assert.Equal(expected, RunInputs.WeightsName(Profiles.Get(profile), requested));

    [Fact]
    public async Task WeightsReference_ForNone_IsRandom_AndForAProfilesUndownloadedWeights_RandomOnlyWhenAllowed()
    {
        using var temp = new TestSupport.TempDirectory();
        using var env = new TestSupport.EnvironmentVariables(("NOTEBOOKVGG_WEIGHTS", temp.Combine("weights")),
            ("NOTEBOOKVGG_WEIGHTS_MIRROR", "http://127.0.0.1:9/unreachable/"));
        var log = new List<string>();

        Assert.Same(WeightsReference.Random, await RunInputs.WeightsReferenceAsync(Profiles.Get("cpu"), "none"));
        Assert.Same(WeightsReference.Random, await RunInputs.WeightsReferenceAsync(Profiles.Get("cpu"), null, "cpu at tiny scale", log.Add));
        Assert.Equal("cpu at tiny scale: the vgg19 weights are not downloaded, so this run uses RANDOM weights (pass weights=vgg19 to download them)",
            Assert.Single(log));
        // Named explicitly, the same weights are downloaded (here from an unreachable mirror): never silently random.
        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            RunInputs.WeightsReferenceAsync(Profiles.Get("cpu"), "vgg19", "cpu at tiny scale"));
    }
}
