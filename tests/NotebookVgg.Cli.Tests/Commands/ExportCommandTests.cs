using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using NotebookVgg.Cli.Runner;
using NotebookVgg.Cli.Tests.TestSupport;
using NotebookVgg.Tests.TestSupport;
using static NotebookVgg.Cli.Tests.TestSupport.TestNotebooks;

namespace NotebookVgg.Cli.Tests.Commands;

/// <summary>
/// nvgg export --to cs: a notebook as a .NET 10 file-based app, the path that needs no notebook kernel (issue 25).
/// </summary>
public partial class ExportCommandTests
{
    [Fact]
    public void Export_ScriptOnlyConstructs_BecomeOneProgramThatCompiles()
    {
        using var temp = new TempDirectory();
        string notebook = temp.Combine("script.ipynb");
        File.WriteAllText(notebook, """
            { "nbformat": 4, "nbformat_minor": 5,
              "metadata": { "kernelspec": { "name": ".net-csharp", "display_name": ".NET (C#)", "language": "C#" } },
              "cells": [
                { "cell_type": "markdown", "id": "m", "metadata": {}, "source": "# Title\n\nSome *prose*." },
                { "cell_type": "code", "id": "a", "metadata": {}, "execution_count": null, "outputs": [],
                  "source": "#!csharp\nvar n = 2;\nusing (var s = new System.IO.StringWriter()) { var total = n; }\nn * 3" },
                { "cell_type": "code", "id": "b", "metadata": {}, "execution_count": null, "outputs": [],
                  "source": "using System.Globalization;\nrecord Point(int X, int Y);\nvar n = \"now a string\";\nvar total = new Point(1, 2);\nConsole.WriteLine(n.ToString(CultureInfo.InvariantCulture))" },
                { "cell_type": "code", "id": "c", "metadata": {}, "execution_count": null, "outputs": [],
                  "source": "var view = display(total);\nview.Update(n);\n$\"{n} {total.X}\"" }
              ] }
            """);

        string source = NotebookExporter.Export(notebook, temp.Combine("script.cs"));

        Assert.Contains("// # Title\n//\n// Some *prose*.", source, StringComparison.Ordinal);
        Assert.Contains("var n_3 = \"now a string\";", source, StringComparison.Ordinal);            // declared again in a later cell
        Assert.Contains("Console.WriteLine(n_3.ToString(CultureInfo.InvariantCulture));", source, StringComparison.Ordinal); // a void last line
        Assert.Contains("var total_2 = n;", source, StringComparison.Ordinal);                       // a nested local that would clash
        Assert.Contains("display(n * 3);", source, StringComparison.Ordinal);                        // a cell's value is displayed
        Assert.Contains("display($\"{n_3} {total.X}\");", source, StringComparison.Ordinal);
        Assert.Matches(@"(?s)^.*using System.Globalization;.*using var notebookApp", source);     // usings first
        Assert.Matches(@"(?s)notebookApp.Cell\(4\);.*record Point\(int X, int Y\);\s*$", source);  // types last
        Assert.DoesNotContain("#!csharp", source, StringComparison.Ordinal);
        // The program compiles (the #: directives are the SDK's, not C#'s) against the library, as dotnet run builds it.
        string program = string.Join("\n", source.Split('\n').Where(l => !l.StartsWith("#:", StringComparison.Ordinal)));
        var compilation = CSharpCompilation.Create("app", [CSharpSyntaxTree.ParseText(program)], References(),
            new CSharpCompilationOptions(OutputKind.ConsoleApplication));
        Assert.Empty(compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
    }

    [Fact]
    public void Export_AnotherKernelsCell_IsRefusedInOneLine_AndNothingIsWritten()
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.Combine("fsharp.ipynb"), """
            { "nbformat": 4, "nbformat_minor": 5, "metadata": {},
              "cells": [ { "cell_type": "code", "id": "a", "metadata": { "polyglot_notebook": { "kernelName": "fsharp" } }, "execution_count": null, "outputs": [], "source": "1" } ] }
            """);

        var run = Nvgg.Run(temp.Path, "export", "fsharp.ipynb", "--to", "cs");

        Assert.Equal(1, run.ExitCode);
        Assert.Equal("nvgg: error: fsharp.ipynb: cell 1 runs in the 'fsharp' kernel; only C# cells can be exported", run.Stderr.Trim());
        Assert.Equal(["fsharp.ipynb"], temp.Files());
    }

    /// <summary>
    /// All five notebooks exported and run with <c>dotnet run</c> under the smoke profile: each app runs, and every line the
    /// notebook printed (its output streams and text results, under nvgg run with the same seed) is printed by the app too,
    /// in the same order — figures equal, times and paths aside.
    /// </summary>
    [Fact]
    [Trait("Category", "Notebooks")]
    [Trait("Category", "Slow")]
    public void Export_TheFiveNotebooks_RunWithDotnetRunUnderSmoke_AndPrintTheNotebooksFigures()
    {
        string sample = RepoFiles.SampleArchive; // fails loudly when missing
        // Inside the repository (artifacts/ is ignored): the apps build with its Directory.*.props, as apps beside the notebooks do.
        string work = RepoFiles.Path("artifacts", "export-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            var environment = new Dictionary<string, string> { ["NOTEBOOKVGG_PROFILE"] = "smoke", ["NOTEBOOKVGG_SAMPLE"] = sample };
            var export = Nvgg.Run(RepoFiles.Path(), "export", "notebooks", "--to", "cs", "--output", Path.Combine(work, "apps"));
            Assert.True(export.ExitCode == 0, export.Stdout + export.Stderr);
            var notebooks = Nvgg.RunWith(RepoFiles.Path(), new Dictionary<string, string>(environment) { ["NOTEBOOKVGG_DATA"] = Path.Combine(work, "data-notebooks") },
                TimeSpan.FromMinutes(40), "run", "notebooks", "--output", Path.Combine(work, "executed"), "--timeout", "900");
            Assert.True(notebooks.ExitCode == 0, notebooks.Stdout + notebooks.Stderr);

            foreach (string name in Directory.GetFiles(RepoFiles.Path("notebooks"), "0*.ipynb").Select(f => Path.GetFileNameWithoutExtension(f)!).Order(StringComparer.Ordinal))
            {
                var app = DotnetRun(Path.Combine(work, "apps", name + ".cs"), Path.Combine(work, "artifacts", name),
                    new Dictionary<string, string>(environment) { ["NOTEBOOKVGG_DATA"] = Path.Combine(work, "data-apps") });
                Assert.True(app.ExitCode == 0, $"dotnet run {name}.cs failed:\n{app.Stdout}\n{app.Stderr}");
                Assert.True(File.Exists(Path.Combine(work, "apps", name + ".app.html")), $"{name}.app.html missing");
                var printed = app.Stdout.Split('\n').Select(Masked).ToList();
                int at = 0;
                foreach (string line in PrintedLines(ReadJson(Path.Combine(work, "executed", name + ".executed.ipynb"))).Select(Masked))
                {
                    int found = printed.FindIndex(at, l => l == line);
                    Assert.True(found >= 0, $"{name}: the notebook printed\n  {line}\nand the app did not (after its line {at}):\n{app.Stdout}");
                    at = found + 1;
                }
            }
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    // What a notebook printed: its output streams and its text results (a cell's string value), line by line.
    private static IEnumerable<string> PrintedLines(JsonObject executed) =>
        Cells(executed).OfType<JsonObject>().Where(c => (string?)c["cell_type"] == "code")
            .SelectMany(c => ((JsonArray)c["outputs"]!).OfType<JsonObject>())
            .Select(o => (string?)o["output_type"] == "stream" && (string?)o["name"] == "stdout" ? Text(o["text"])
                : o["data"] is JsonObject data && data.Count == 1 && data["text/plain"] is { } plain ? Text(plain) : "")
            .SelectMany(t => t.Split('\n'))
            .Where(l => l.Trim().Length > 0);

    // Times, rates and paths differ from run to run; figures do not.
    private static string Masked(string line) =>
        Volatile().Replace(Paths().Replace(line.TrimEnd('\r'), "PATH"), "#");

    [GeneratedRegex(@"\d[\d,]*(\.\d+)?\s?(ms|s|min|images/s|MB|GB)\b")]
    private static partial Regex Volatile();

    [GeneratedRegex(@"(/[\w.\-]+){2,}")]
    private static partial Regex Paths();

    private static ExternalProcess.Result DotnetRun(string app, string artifacts, Dictionary<string, string> environment) =>
        ExternalProcess.Run("dotnet", ["run", "-c", "Release", "--artifacts-path", artifacts, app], TimeSpan.FromMinutes(15), environment);

    private static IEnumerable<MetadataReference> References() =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Concat([typeof(NotebookVgg.Notebooks.NotebookApp).Assembly.Location, typeof(TorchSharp.torch).Assembly.Location,
                typeof(Microsoft.Data.Analysis.DataFrame).Assembly.Location])
            .Distinct(StringComparer.Ordinal)
            .Select(p => MetadataReference.CreateFromFile(p));
}
