using NotebookVgg.Cli.Tests.TestSupport;
using NotebookVgg.Tests.TestSupport;

namespace NotebookVgg.Cli.Tests.Commands;

/// <summary>
/// Every command's --help renders: option descriptions are Spectre.Console markup, where a bracket ("[0, 1]") is read as a
/// style and the help failed with "Could not find color or style '0,'" instead of printing.
/// </summary>
public class HelpTests
{
    private static readonly string[] All =
    [
        "doctor", "weights inspect", "weights list", "weights download", "logits", "summary",
        "data download", "data extract", "data synth", "data sample", "data summary",
        "train", "eval", "predict", "bench", "export", "run",
    ];

    public static TheoryData<string> Commands() => [.. All];

    [Theory]
    [MemberData(nameof(Commands))]
    public void Help_Renders_WithItsOptions(string command)
    {
        var run = Nvgg.Run(RepoFiles.Path(), [.. command.Split(' '), "--help"]);

        Assert.True(run.ExitCode == 0, $"nvgg {command} --help exited {run.ExitCode}:\n{run.Stdout}\n{run.Stderr}");
        Assert.Contains("USAGE:", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("OPTIONS:", run.Stdout, StringComparison.Ordinal);
        Assert.Equal("", run.Stderr.Trim());
    }

    [Fact]
    public void TopLevelHelp_ListsEveryCommandTheTheoryChecks()
    {
        var run = Nvgg.Run(RepoFiles.Path(), "--help");

        Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
        foreach (string top in All.Select(c => c.Split(' ')[0]).Distinct())
            Assert.Contains(top, run.Stdout, StringComparison.Ordinal);
    }
}
