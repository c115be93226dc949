using System.Text.Json.Nodes;
using NotebookVgg.Cli.Tests.TestSupport;
using NotebookVgg.Tests.TestSupport;
using static NotebookVgg.Cli.Tests.TestSupport.TestNotebooks;

namespace NotebookVgg.Cli.Tests.Notebooks;

/// <summary>
/// Every profile's recipe runs every notebook on a CPU (issue 12): the whole suite under each profile at tiny scale,
/// as a user runs it (<c>nvgg run notebooks -p profile P -p scale tiny</c>), in a fresh data folder — so the run finds
/// no downloaded weights (random weights, labelled) and uses the CIFAR-10 sample.
/// </summary>
[Trait("Category", "Notebooks")]
[Trait("Category", "Slow")]
public class NotebookProfilesTests
{
    public static TheoryData<string> Profiles() => ["smoke", "cpu", "gpu-tutorial", "gpu"];

    [Theory]
    [MemberData(nameof(Profiles))]
    public void WholeSuite_RunsUnderEveryProfile_AtTinyScale(string profile)
    {
        string sample = RepoFiles.SampleArchive; // fails loudly when missing
        using var temp = new TempDirectory();
        var environment = new Dictionary<string, string>
        {
            ["NOTEBOOKVGG_DATA"] = temp.Combine("data"),
            ["NOTEBOOKVGG_SAMPLE"] = sample,
        };

        var run = Nvgg.RunWith(RepoFiles.Path(), environment, TimeSpan.FromMinutes(15),
            "run", "notebooks", "-p", "profile", profile, "-p", "scale", "tiny", "--output", temp.Combine("out"), "--timeout", "600");

        Assert.True(run.ExitCode == 0, $"nvgg run under {profile} tiny failed:\n{run.Stdout}\n{run.Stderr}");
        Assert.Contains("5 notebooks passed", run.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("NNPACK", run.Stdout + run.Stderr, StringComparison.Ordinal);
        var training = ReadJson(temp.Combine("out", "04-training.executed.ipynb"));
        string outputs = AllOutputText(training);
        Assert.DoesNotContain("NNPACK", outputs, StringComparison.Ordinal);
        // The profile's own recipe ran (what TransferLearning logs), on the data and weights it says.
        Assert.Contains(profile is "smoke" or "cpu" ? "features: vgg19 cut after fc7 at 32×32" : "FineTune: vgg19 at 32×32", outputs, StringComparison.Ordinal);
        Assert.Contains("test images of CIFAR-10 sample, random weights (not pretrained)", outputs, StringComparison.Ordinal);
        Assert.Contains(profile is "smoke" or "cpu" ? "4 fine-tunes of" : "skipped:", outputs, StringComparison.Ordinal);
        if (profile is "smoke" or "cpu")
        {
            // The four fine-tunes start from the trained head (the library's FineTuneFromTheTrainedHead test checks they
            // start exactly there); the notebook prints the head's accuracy beside the recipe's result.
            Assert.Contains("the fine-tune kept (SGD, dropout off): ", outputs, StringComparison.Ordinal);
            // Notebook 5 reuses notebook 4's test features: no second pass over the test set.
            string evaluation = AllOutputText(ReadJson(temp.Combine("out", "05-evaluation.executed.ipynb")));
            Assert.Contains("test features: read from the cache", evaluation, StringComparison.Ordinal);
        }
        foreach (string name in Directory.GetFiles(temp.Combine("out"), "*.executed.ipynb"))
            Assert.DoesNotContain("NNPACK", AllOutputText(ReadJson(name)), StringComparison.Ordinal);
    }

    /// <summary>Streams and plain-text results of every code cell (HTML outputs may escape characters).</summary>
    private static string AllOutputText(JsonObject notebook) =>
        string.Concat(Cells(notebook).OfType<JsonObject>().Where(c => (string?)c["cell_type"] == "code")
            .SelectMany(c => ((JsonArray)c["outputs"]!).OfType<JsonObject>())
            .Select(o => Text(o["text"]) + Text(o["data"]?["text/plain"]) + "\n"));
}
