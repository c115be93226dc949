using System.IO.Compression;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using NotebookVgg.Cli.Tests.TestSupport;
using NotebookVgg.Tests.TestSupport;

namespace NotebookVgg.Cli.Tests.Packaging;

/// <summary>
/// Issues 14 and 26: dotnet pack makes a NotebookVgg package that declares MIT and depends on TorchSharp without a libtorch
/// build (the application chooses one), and a notebook outside this repository that adds libtorch-cpu-linux-x64 itself
/// loads both from a local feed and runs.
/// </summary>
[Trait("Category", "Slow")]
[Trait("Category", "Notebooks")]
public sealed class NuGetPackageTests
{
    [Fact]
    public void ThePackedLibrary_DeclaresMit_LeavesLibTorchToTheApplication_AndRunsInANotebookOutsideTheRepository()
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
            Assert.Contains("LICENSE", entries);
            Assert.Contains("lib/net10.0/NotebookVgg.dll", entries);
            Assert.Contains("lib/net10.0/NotebookVgg.xml", entries); // the XML docs, for IntelliSense in the notebook
            using var nuspec = zip.GetEntry("NotebookVgg.nuspec")!.Open();
            var metadata = XDocument.Load(nuspec).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
            XElement? Element(string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name);
            string Field(string name) => Element(name)?.ToString() ?? "";
            Assert.Contains("README.md", Field("readme"), StringComparison.Ordinal);
            Assert.Contains("TorchSharp", Field("description"), StringComparison.Ordinal);
            Assert.Contains("commit=", Field("repository"), StringComparison.Ordinal); // Source Link's commit
            var license = Element("license");
            Assert.True(license is not null && (string?)license.Attribute("type") == "expression" && license.Value == "MIT", Field("license"));
            var dependencies = Element("dependencies")!.Descendants().Where(e => e.Name.LocalName == "dependency")
                .Select(e => (string)e.Attribute("id")!).ToList();
            Assert.Contains("TorchSharp", dependencies);
            // No libtorch build: not libtorch-cpu-*, nor the bundles that carry one (TorchSharp-cpu, TorchSharp-cuda-*).
            Assert.DoesNotContain(dependencies, id => id.StartsWith("libtorch", StringComparison.OrdinalIgnoreCase)
                || id.StartsWith("TorchSharp-", StringComparison.OrdinalIgnoreCase));
        }
        Assert.True(File.Exists(Path.ChangeExtension(package, ".snupkg")), "symbols package missing");

        // The application's choice, as README's "Use it elsewhere" shows it: the host's CPU libtorch, added by the notebook.
        string libTorch = $"libtorch-cpu-{RepoFiles.LibTorchPlatform}";
        string libTorchVersion = RepoFiles.PinnedVersion(libTorch);
        string notebook = temp.Combine("elsewhere", "uses-the-package.ipynb");
        Directory.CreateDirectory(Path.GetDirectoryName(notebook)!);
        File.WriteAllText(notebook, Notebook(
            $"#i \"nuget: {temp.Combine("feed")}\"\n#r \"nuget: {libTorch}, {libTorchVersion}\"\n#r \"nuget: NotebookVgg, {version}\"\n" +
            "using NotebookVgg.Models;\nusing NotebookVgg.Notebooks;\nusing TorchSharp;\nNotebookSetup.Run();",
            "var model = Vgg.Create(\"vgg11\");\nmodel.eval();\n" +
            "var logits = model.call(torch.zeros(1, 3, 32, 32));\n" +
            "Console.WriteLine($\"parameters {model.parameters().Sum(p => p.numel())}, logits {string.Join('x', logits.shape)}\");\n" +
            // Which libtorch this process runs (Linux): the file mapped into it.
            "Console.WriteLine(\"libtorch: \" + (System.IO.File.Exists(\"/proc/self/maps\") ? System.IO.File.ReadLines(\"/proc/self/maps\")" +
            ".Select(l => l[(l.IndexOf('/') is var i && i >= 0 ? i : l.Length)..]).FirstOrDefault(f => f.EndsWith(\"/libtorch_cpu.so\")) : \"?\"));"));

        // nvgg run: the in-process kernel restores this very package from the local feed (its version is unique to this
        // test) and its API works. (That kernel lives in nvgg's process, which has NotebookVgg and libtorch loaded already.)
        var run = Nvgg.RunWith(temp.Path, new Dictionary<string, string>(), TimeSpan.FromMinutes(5), "run", notebook, "--output", temp.Combine("out"));
        Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
        var executed = TestNotebooks.ReadJson(temp.Combine("out", "uses-the-package.executed.ipynb"));
        string restore = TestNotebooks.CodeCell(executed, 0)["outputs"]!.ToJsonString();
        Assert.Contains($"NotebookVgg, {version}", restore, StringComparison.Ordinal);
        Assert.Contains($"{libTorch}, {libTorchVersion}", restore, StringComparison.Ordinal);
        string printed = TestNotebooks.StreamText(TestNotebooks.CodeCell(executed, 1), "stdout");
        Assert.Contains("parameters 132863336, logits 1x1000", printed, StringComparison.Ordinal); // torchvision's vgg11

        // The official .NET Interactive kernel (its own process, as in VS Code or Jupyter): NotebookVgg and TorchSharp come
        // from the packages, and the libtorch that runs is the package the notebook added.
        if (!OperatingSystem.IsLinux())
            return;
        var official = ExternalProcess.Run("bash", [RepoFiles.Path("tools", "run-official-kernel.sh"), notebook, "--output", temp.Combine("official")],
            TimeSpan.FromMinutes(10));
        Assert.True(official.ExitCode == 0, official.Stdout + official.Stderr +
            (File.Exists(temp.Combine("official", "uses-the-package.log")) ? File.ReadAllText(temp.Combine("official", "uses-the-package.log")) : ""));
        var officialRun = TestNotebooks.ReadJson(temp.Combine("official", "uses-the-package.ipynb"));
        string officialPrinted = TestNotebooks.StreamText(TestNotebooks.CodeCell(officialRun, 1), "stdout");
        Assert.Contains("parameters 132863336, logits 1x1000", officialPrinted, StringComparison.Ordinal);
        Assert.Contains($"/{libTorch}/{libTorchVersion}/", officialPrinted, StringComparison.Ordinal);
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
