using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using NotebookVgg.Cli.Tests.TestSupport;
using NotebookVgg.Tests.TestSupport;

namespace NotebookVgg.Cli.Tests.Notebooks;

/// <summary>The rules every notebook of notebooks/ follows (issue: the notebook suite). Running them is test.sh's job.</summary>
public partial class NotebookSuiteTests
{
    private static readonly string[] Expected =
        ["01-model-selection.ipynb", "02-the-last-layer.ipynb", "03-resizing-inputs.ipynb", "04-training.ipynb", "05-evaluation.ipynb"];

    public static TheoryData<string> Notebooks() => [.. Expected];

    private static JsonObject Load(string name) => TestNotebooks.ReadJson(RepoFiles.Path("notebooks", name));

    private static List<JsonObject> CodeCells(JsonObject nb) =>
        [.. TestNotebooks.Cells(nb).Select(c => (JsonObject)c!).Where(c => (string?)c["cell_type"] == "code")];

    private static string Source(JsonObject cell) => TestNotebooks.Text(cell["source"]);

    [Fact]
    public void TheSuite_IsFiveOrderedNotebooks()
    {
        var present = Directory.GetFiles(RepoFiles.Path("notebooks"), "*.ipynb").Select(Path.GetFileName)
            .Where(n => !n!.Contains(".executed.", StringComparison.Ordinal)).Order(StringComparer.Ordinal);
        Assert.Equal(Expected, present);
    }

    [Theory]
    [MemberData(nameof(Notebooks))]
    public void Notebook_IsCommittedWithoutOutputs_AndWithVsCodeMetadata(string name)
    {
        var nb = Load(name);
        Assert.All(CodeCells(nb), c =>
        {
            Assert.Empty((JsonArray)c["outputs"]!);
            Assert.Null((int?)c["execution_count"]);
        });
        Assert.Equal(".net-csharp", (string?)nb["metadata"]!["kernelspec"]!["name"]);
        Assert.Equal("csharp", (string?)nb["metadata"]!["polyglot_notebook"]!["kernelInfo"]!["defaultKernelName"]);
        Assert.All(CodeCells(nb), c => Assert.Equal("csharp", (string?)c["metadata"]!["polyglot_notebook"]!["kernelName"]));
    }

    [Theory]
    [MemberData(nameof(Notebooks))]
    public void Notebook_HasTheSharedSetup_OneParametersCell_ProseFirst_AndEndsWithSummaryAndExercises(string name)
    {
        var nb = Load(name);
        var cells = TestNotebooks.Cells(nb).Select(c => (JsonObject)c!).ToList();
        Assert.Equal("markdown", (string?)cells[0]["cell_type"]);
        Assert.Equal(Source(CodeCells(Load(Expected[0]))[0]), Source(CodeCells(nb)[0]));
        var parameters = Assert.Single(cells, c => TestNotebooks.Tags(c).Contains("parameters"));
        Assert.Contains("NotebookParameter.Get(\"profile\"", Source(parameters), StringComparison.Ordinal);
        string last = Source(cells[^1]);
        Assert.Contains("## Summary", last, StringComparison.Ordinal);
        Assert.Contains("## Exercises", last, StringComparison.Ordinal);
        // A few lines of code per cell: helpers live in the library.
        Assert.All(CodeCells(nb), c => Assert.True(Source(c).Split('\n').Length <= 16, $"{name}: a code cell of {Source(c).Split('\n').Length} lines"));
    }

    [Fact]
    public void SetupCell_PinsTheVersionsOfDirectoryPackagesProps()
    {
        string props = File.ReadAllText(RepoFiles.Path("Directory.Packages.props"));
        var properties = PropertyPattern().Matches(props).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        var pinned = VersionPattern().Matches(props).ToDictionary(
            m => m.Groups[1].Value,
            m => m.Groups[2].Value.StartsWith("$(", StringComparison.Ordinal) ? properties[m.Groups[2].Value[2..^1]] : m.Groups[2].Value,
            StringComparer.OrdinalIgnoreCase);
        var references = NugetPattern().Matches(Source(CodeCells(Load(Expected[0]))[0])).ToList();
        Assert.NotEmpty(references);
        foreach (Match r in references)
            Assert.True(pinned.TryGetValue(r.Groups[1].Value, out var version) && version == r.Groups[2].Value,
                $"setup cell references {r.Groups[1].Value} {r.Groups[2].Value}, Directory.Packages.props pins {(pinned.TryGetValue(r.Groups[1].Value, out var v) ? v : "nothing")}");
    }

    [GeneratedRegex("""<(\w+Version)>([^<]+)</""")]
    private static partial Regex PropertyPattern();

    [GeneratedRegex("""PackageVersion Include="([^"]+)" Version="([^"]+)" """)]
    private static partial Regex VersionPattern();

    [GeneratedRegex("#r \"nuget: ([^,]+), ([^\"]+)\"")]
    private static partial Regex NugetPattern();
}
