using System.IO.Compression;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using NotebookVgg.Cli.Tests.TestSupport;
using NotebookVgg.Tests.TestSupport;

namespace NotebookVgg.Cli.Tests.Packaging;

/// <summary>Issue 14: dotnet pack makes a NotebookVgg package that a notebook outside this repository loads from a local feed.</summary>
public sealed class NuGetPackageTests
{
    [Fact]
    public void ThePackedLibrary_CarriesItsMetadata_AndLoadsInANotebookOutsideTheRepository()
    {
        using var temp = new TempDirectory();
        string configuration = Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(Nvgg.DllPath))!)!; // Debug or Release
        // A version of its own: NuGet caches a package by id and version, so a fixed one would load a stale copy next time.
        string version = $"0.1.0-test.{Guid.NewGuid():N}"[..24];
        var pack = ExternalProcess.Run("dotnet", ["pack", RepoFiles.Path("lib", "NotebookVgg", "NotebookVgg.csproj"), "--no-build",
            "-c", configuration, "-o", temp.Combine("feed"), $"-p:Version={version}", "--nologo"], TimeSpan.FromMinutes(5));
        Assert.True(pack.ExitCode == 0, pack.Stdout + pack.Stderr);

        string package = temp.Combine("feed", $"NotebookVgg.{version}.nupkg");
        using (var zip = ZipFile.OpenRead(package))
        {
            var entries = zip.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
            Assert.Contains("README.md", entries);
            Assert.Contains("lib/net10.0/NotebookVgg.dll", entries);
            Assert.Contains("lib/net10.0/NotebookVgg.xml", entries); // the XML docs, for IntelliSense in the notebook
            using var nuspec = zip.GetEntry("NotebookVgg.nuspec")!.Open();
            var metadata = XDocument.Load(nuspec).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
            string Field(string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.ToString() ?? "";
            Assert.Contains("README.md", Field("readme"), StringComparison.Ordinal);
            Assert.Contains("TorchSharp", Field("description"), StringComparison.Ordinal);
            Assert.Contains("commit=", Field("repository"), StringComparison.Ordinal); // Source Link's commit
            Assert.Contains("\"TorchSharp\"", Field("dependencies"), StringComparison.Ordinal);
        }
        Assert.True(File.Exists(Path.ChangeExtension(package, ".snupkg")), "symbols package missing");

        string notebook = temp.Combine("elsewhere", "uses-the-package.ipynb");
        Directory.CreateDirectory(Path.GetDirectoryName(notebook)!);
        File.WriteAllText(notebook, Notebook(
            $"#i \"nuget: {temp.Combine("feed")}\"\n#r \"nuget: NotebookVgg, {version}\"\nusing NotebookVgg.Models;\nusing NotebookVgg.Notebooks;\nNotebookSetup.Run();",
            "Console.WriteLine(Vgg.Create(\"vgg11\").parameters().Sum(p => p.numel()));"));
        var run = Nvgg.RunWith(temp.Path, new Dictionary<string, string>(), TimeSpan.FromMinutes(5), "run", notebook, "--output", temp.Combine("out"));
        Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);

        var executed = TestNotebooks.ReadJson(temp.Combine("out", "uses-the-package.executed.ipynb"));
        // The kernel restored this very package from the local feed (its version is unique to this test) ...
        string restore = TestNotebooks.CodeCell(executed, 0)["outputs"]!.ToJsonString();
        Assert.Contains($"NotebookVgg, {version}", restore, StringComparison.Ordinal);
        // ... and its API works. (nvgg run's kernel lives in nvgg's process, which has the same NotebookVgg assembly loaded
        // already, so the types come from there; the official kernel, tools/run-official-kernel.sh, loads the package's copy.)
        string printed = TestNotebooks.StreamText(TestNotebooks.CodeCell(executed, 1), "stdout");
        Assert.Contains("132863336", printed, StringComparison.Ordinal); // torchvision's vgg11 parameter count
    }

    private static string Notebook(params string[] cells) => new JsonObject
    {
        ["cells"] = new JsonArray([.. cells.Select((source, i) => (JsonNode)new JsonObject
        {
            ["cell_type"] = "code",
            ["id"] = $"cell-{i}",
            ["metadata"] = new JsonObject { ["polyglot_notebook"] = new JsonObject { ["kernelName"] = "csharp" } },
            ["execution_count"] = null,
            ["outputs"] = new JsonArray(),
            ["source"] = source,
        })]),
        ["metadata"] = new JsonObject
        {
            ["kernelspec"] = new JsonObject { ["display_name"] = ".NET (C#)", ["language"] = "C#", ["name"] = ".net-csharp" },
            ["language_info"] = new JsonObject { ["name"] = "polyglot-notebook" },
        },
        ["nbformat"] = 4,
        ["nbformat_minor"] = 5,
    }.ToJsonString();
}
