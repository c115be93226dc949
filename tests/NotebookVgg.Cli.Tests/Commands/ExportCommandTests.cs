using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using NotebookVgg.Cli.Runner;
using NotebookVgg.Cli.Tests.TestSupport;
using NotebookVgg.Tests.TestSupport;

namespace NotebookVgg.Cli.Tests.Commands;

/// <summary>
/// nvgg export --to cs: a notebook as a .NET 10 file-based app, the path that needs no notebook kernel (issue 25).
/// </summary>
public class ExportCommandTests
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

    private static IEnumerable<MetadataReference> References() =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Concat([typeof(NotebookVgg.Notebooks.NotebookApp).Assembly.Location, typeof(TorchSharp.torch).Assembly.Location,
                typeof(Microsoft.Data.Analysis.DataFrame).Assembly.Location])
            .Distinct(StringComparer.Ordinal)
            .Select(p => MetadataReference.CreateFromFile(p));
}
