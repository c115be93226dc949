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
    public void Notebook_HasTheSharedSetup_OneParametersCell_ProseFirst_AndEndsWithSummaryExercisesAndReading(string name)
    {
        var nb = Load(name);
        var cells = TestNotebooks.Cells(nb).Select(c => (JsonObject)c!).ToList();
        Assert.Equal("markdown", (string?)cells[0]["cell_type"]);
        Assert.Equal(Source(CodeCells(Load(Expected[0]))[0]), Source(CodeCells(nb)[0]));
        Assert.Single(cells, c => TestNotebooks.Tags(c).Contains("parameters"));
        string last = Source(cells[^1]);
        Assert.Contains("## Summary", last, StringComparison.Ordinal);
        Assert.Contains("## Exercises", last, StringComparison.Ordinal);
        Assert.Contains("## Further reading", last, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Notebooks))]
    public void Notebook_DeclaresTheSixCommonParameters_WithPlainDefaults(string name)
    {
        var parameters = TestNotebooks.Cells(Load(name)).Select(c => (JsonObject)c!).Single(c => TestNotebooks.Tags(c).Contains("parameters"));
        string code = Source(parameters);
        foreach (string common in new[] { "profile", "scale", "data", "weights", "seed", "precision" })
            Assert.Contains($"NotebookParameter.Get(\"{common}\"", code, StringComparison.Ordinal);
        // An injected value lands after this cell: a default computed from another parameter would ignore it.
        Assert.DoesNotMatch(@"Get\(""\w+"", [^)]*\b(profile|scale)\b", code);
    }

    [Theory]
    [MemberData(nameof(Notebooks))]
    public void Notebook_IsReadable_CellIds_ShortLines_ShortCells(string name)
    {
        var nb = Load(name);
        Assert.True((int?)nb["nbformat"] == 4 && (int?)nb["nbformat_minor"] >= 5, $"{name}: nbformat 4.5 or later (cell ids)");
        var ids = TestNotebooks.Cells(nb).Select(c => (string?)c!["id"]).ToList();
        Assert.All(ids, id => Assert.Matches("^[A-Za-z0-9_-]{1,64}$", id ?? ""));
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.All(CodeCells(nb), c =>
        {
            var lines = Source(c).Split('\n');
            Assert.True(lines.Length <= 15, $"{name}: a code cell of {lines.Length} lines (at most 15)");
            Assert.All(lines, l => Assert.True(l.Length <= 100, $"{name}: a code line of {l.Length} characters: {l}"));
        });
    }

    [Fact]
    public void SetupCell_NamesNoPlatformSpecificPackage()
    {
        // The same cell must work on Linux, macOS and Windows, CPU or GPU: the native libtorch comes from the library's build.
        string setup = Source(CodeCells(Load(Expected[0]))[0]);
        Assert.DoesNotContain("libtorch", setup, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("TorchSharp-c", setup, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("TorchVision", setup, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("NotebookSetup.Run()", setup, StringComparison.Ordinal);
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
