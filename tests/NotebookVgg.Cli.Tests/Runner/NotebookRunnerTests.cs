using System.Text.Json.Nodes;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using NotebookVgg.Cli.Runner;
using NotebookVgg.Cli.Tests.TestSupport;
using NotebookVgg.Tests.TestSupport;
using static NotebookVgg.Cli.Tests.TestSupport.TestNotebooks;

namespace NotebookVgg.Cli.Tests.Runner;

[Trait("Category", "Notebooks")]
public class NotebookRunnerTests
{
    private static KeyValuePair<string, string> P(string name, string value) => new(name, value);

    private static async Task<NotebookRunResult> RunAsync(string notebook, NotebookRunOptions? options = null)
    {
        var runner = new NotebookRunner(options ?? new NotebookRunOptions());
        return await runner.RunAsync(runner.Prepare(notebook));
    }

    [Fact]
    public async Task Run_WithParameters_InjectsTypedAssignmentsAndWritesOutputs()
    {
        using var temp = new TempDirectory();
        string notebook = CopyTo(temp, "parameters.ipynb");

        var result = await RunAsync(notebook, new NotebookRunOptions { Parameters = [P("epochs", "7"), P("profile", "full run"), P("lr", "0.5")] });

        Assert.True(result.Succeeded, result.FailedCell?.Failure?.Summary);
        Assert.Equal(temp.Combine("parameters.executed.ipynb"), result.OutputPath);
        var executed = ReadJson(result.OutputPath);
        var cells = Cells(executed).OfType<JsonObject>().ToList();

        // The injected cell comes right after the cell tagged "parameters", with typed assignments.
        int parametersAt = cells.FindIndex(c => Tags(c).Contains("parameters"));
        var injected = cells[parametersAt + 1];
        Assert.Equal(["injected-parameters"], Tags(injected));
        Assert.Equal("// Parameters injected by nvgg run\nepochs = 7;\nprofile = \"full run\";\nlr = 0.5d;", Text(injected["source"]));
        Assert.Equal(2, (int?)injected["execution_count"]);

        // Outputs reflect the injected values; the defaults not given keep their value.
        var report = CodeCell(executed, 2);
        Assert.Equal("epochs=7 profile=full run lr=0.5 verbose=False seed=42\n", StreamText(report, "stdout"));
        Assert.Equal("a line on stderr\n", StreamText(report, "stderr"));

        // The working directory during the run is the notebook's folder.
        Assert.Equal($"folder={Path.GetFileName(temp.Path)}\n", StreamText(CodeCell(executed, 3), "stdout"));

        // Updates replace the displayed value they belong to; nothing is appended.
        var display = Assert.Single(((JsonArray)CodeCell(executed, 4)["outputs"]!).OfType<JsonObject>());
        Assert.Equal("display_data", (string?)display["output_type"]);
        Assert.Equal("step 3", Text(display["data"]!["text/plain"]));

        // A return value is an execute_result carrying the cell's execution count.
        var last = CodeCell(executed, 5);
        var value = Assert.Single(((JsonArray)last["outputs"]!).OfType<JsonObject>());
        Assert.Equal("execute_result", (string?)value["output_type"]);
        Assert.Equal(6, (int?)value["execution_count"]);
        Assert.Contains("<pre>14</pre>", Text(value["data"]!["text/html"]), StringComparison.Ordinal);

        // Execution counts run 1..n over code cells, and every cell has its timing.
        Assert.Equal([1, 2, 3, 4, 5, 6], cells.Where(c => (string?)c["cell_type"] == "code").Select(c => (int?)c["execution_count"] ?? 0));
        Assert.All(cells.Where(c => (string?)c["cell_type"] == "code"), c =>
        {
            Assert.Equal("completed", (string?)c["metadata"]!["papermill"]!["status"]);
            Assert.True((double?)c["metadata"]!["papermill"]!["duration"] >= 0);
        });

        // Notebook metadata: kept as it was (VS Code and Jupyter open it as a C# notebook), plus the run's record.
        var metadata = executed["metadata"]!;
        Assert.Equal(".net-csharp", (string?)metadata["kernelspec"]!["name"]);
        Assert.Equal("csharp", (string?)metadata["polyglot_notebook"]!["kernelInfo"]!["defaultKernelName"]);
        var parameters = metadata["papermill"]!["parameters"]!;
        Assert.Equal(7, (int?)parameters["epochs"]);
        Assert.Equal("full run", (string?)parameters["profile"]);
        Assert.Equal(0.5, (double?)parameters["lr"]);
        Assert.False((bool?)metadata["papermill"]!["exception"]);
        Assert.Equal(4, (int?)executed["nbformat"]);

        // The input notebook is left as it was.
        Assert.Equal(File.ReadAllText(Path.Combine(SourceFolder, "parameters.ipynb")), File.ReadAllText(notebook));
    }

    [Fact]
    public async Task Run_ALiveDisplayUpdatedByALaterCell_KeepsTheLastValueWhereItWasShown()
    {
        using var temp = new TempDirectory();
        string notebook = CopyTo(temp, "live-display.ipynb");

        var result = await RunAsync(notebook);

        Assert.True(result.Succeeded, result.FailedCell?.Failure?.Summary);
        var executed = ReadJson(result.OutputPath);
        static string Shown(JsonObject cell) =>
            Text(Assert.Single(((JsonArray)cell["outputs"]!).OfType<JsonObject>(), o => (string?)o["output_type"] == "display_data")["data"]!["text/plain"]);
        Assert.Equal("unrelated, earlier", Shown(CodeCell(executed, 0)));
        Assert.Equal("epoch 3", Shown(CodeCell(executed, 1)));   // the view, as Jupyter shows it after the run
        Assert.Empty(((JsonArray)CodeCell(executed, 2)["outputs"]!).OfType<JsonObject>()); // the updating cell adds no copy
    }

    [Fact]
    public async Task Run_ExecutedCopyAgain_ReplacesTheInjectedCell()
    {
        using var temp = new TempDirectory();
        string notebook = CopyTo(temp, "parameters.ipynb");
        var first = await RunAsync(notebook, new NotebookRunOptions { Parameters = [P("epochs", "7")] });

        var second = await RunAsync(first.OutputPath, new NotebookRunOptions { Parameters = [P("epochs", "9")] });

        Assert.Equal(first.OutputPath, second.OutputPath); // X.executed.ipynb is not renamed X.executed.executed.ipynb
        var executed = ReadJson(second.OutputPath);
        var injected = Assert.Single(Cells(executed).OfType<JsonObject>(), c => Tags(c).Contains("injected-parameters"));
        Assert.Contains("epochs = 9;", Text(injected["source"]), StringComparison.Ordinal);
        Assert.StartsWith("epochs=9 ", StreamText(CodeCell(executed, 2), "stdout"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_ThrowingCell_WritesTheErrorAndStops()
    {
        using var temp = new TempDirectory();
        string notebook = CopyTo(temp, "throws.ipynb");

        var result = await RunAsync(notebook);

        Assert.False(result.Succeeded);
        var failed = result.FailedCell!;
        Assert.Equal(3, failed.CellNumber); // the third cell of the notebook (a markdown cell comes first)
        Assert.Equal(CellFailureKind.Exception, failed.Failure!.Kind);
        Assert.Equal("InvalidOperationException: boom from the second code cell", failed.Failure.Summary);
        Assert.Equal([CellStatus.Completed, CellStatus.Failed, CellStatus.NotRun], result.Cells.Select(c => c.Status));

        var executed = ReadJson(result.OutputPath);
        Assert.Equal("before the failure\n", StreamText(CodeCell(executed, 0), "stdout"));
        var error = Assert.Single(((JsonArray)CodeCell(executed, 1)["outputs"]!).OfType<JsonObject>());
        Assert.Equal("error", (string?)error["output_type"]);
        Assert.Equal("InvalidOperationException", (string?)error["ename"]);
        Assert.Equal("boom from the second code cell", (string?)error["evalue"]);
        Assert.Contains(((JsonArray)error["traceback"]!).Select(l => (string?)l), l => l!.Contains("boom from the second code cell", StringComparison.Ordinal));
        Assert.Equal("failed", (string?)CodeCell(executed, 1)["metadata"]!["papermill"]!["status"]);

        var notRun = CodeCell(executed, 2);
        Assert.Null(notRun["execution_count"]);
        Assert.Empty((JsonArray)notRun["outputs"]!);
        Assert.Equal("pending", (string?)notRun["metadata"]!["papermill"]!["status"]);
        Assert.True((bool?)executed["metadata"]!["papermill"]!["exception"]);

        // papermill's error banner: first cell of the copy, linked to an anchor cell right before the failed cell.
        var cells = Cells(executed).OfType<JsonObject>().ToList();
        Assert.Equal(["papermill-error-cell-tag"], Tags(cells[0]));
        Assert.Contains("An Exception was encountered at '<a href=\"#papermill-error-cell\">In [2]</a>'", Text(cells[0]["source"]), StringComparison.Ordinal);
        Assert.Contains("cell 3: <code>InvalidOperationException: boom from the second code cell</code>", Text(cells[0]["source"]), StringComparison.Ordinal);
        int failedAt = cells.IndexOf(CodeCell(executed, 1));
        Assert.Equal(["papermill-error-cell-tag"], Tags(cells[failedAt - 1]));
        Assert.Contains("id=\"papermill-error-cell\"", Text(cells[failedAt - 1]["source"]), StringComparison.Ordinal);
        Assert.Equal(2, cells.Count(c => Tags(c).Contains("papermill-error-cell-tag")));

        // Running the executed copy again replaces the banners instead of adding more.
        var again = await RunAsync(result.OutputPath);
        Assert.Equal(2, Cells(ReadJson(again.OutputPath)).OfType<JsonObject>().Count(c => Tags(c).Contains("papermill-error-cell-tag")));
    }

    [Fact]
    public async Task Run_SavesTheExecutedCopyAsEachCellStarts_HoldingEveryFinishedCell()
    {
        using var temp = new TempDirectory();
        string notebook = CopyTo(temp, "parameters.ipynb");
        string copy = temp.Combine("parameters.executed.ipynb");
        var onDisk = new List<string>();
        var runner = new NotebookRunner(new NotebookRunOptions
        {
            Parameters = [P("epochs", "4")],
            // What is on disk when a cell starts: every earlier cell completed, this one running, the later ones pending.
            CellStarted = (_, _) =>
            {
                var code = Cells(ReadJson(copy)).OfType<JsonObject>().Where(c => (string?)c["cell_type"] == "code").ToList();
                onDisk.Add(string.Join(",", code.Select(c => (string?)c["metadata"]!["papermill"]!["status"])));
                Assert.Null((string?)ReadJson(copy)["metadata"]!["papermill"]!["end_time"]);
            },
        });

        var result = await runner.RunAsync(runner.Prepare(notebook));

        Assert.True(result.Succeeded, result.FailedCell?.Failure?.Summary);
        Assert.Equal([
            "running,pending,pending,pending,pending,pending",
            "completed,running,pending,pending,pending,pending",
            "completed,completed,running,pending,pending,pending",
            "completed,completed,completed,running,pending,pending",
            "completed,completed,completed,completed,running,pending",
            "completed,completed,completed,completed,completed,running",
        ], onDisk);
        Assert.StartsWith("epochs=4 ", StreamText(CodeCell(ReadJson(copy), 2), "stdout"), StringComparison.Ordinal);
        Assert.Equal(["parameters.executed.ipynb", "parameters.ipynb"], temp.Files()); // no temporary file left
    }

    [Fact]
    public void SavePrepared_RecordsDefaultsEnvironmentOverridesAndTheRunner_WithoutRunning()
    {
        using var temp = new TempDirectory();
        string notebook = temp.Combine("env.ipynb");
        File.WriteAllText(notebook, """
            { "nbformat": 4, "nbformat_minor": 5,
              "metadata": { "kernelspec": { "name": ".net-csharp", "display_name": ".NET (C#)", "language": "C#" } },
              "cells": [
                { "cell_type": "code", "id": "p", "metadata": { "tags": ["parameters"] }, "execution_count": null, "outputs": [],
                  "source": ["int steps = NotebookParameter.Get(\"steps\", 100); // gradient steps per run\n",
                             "string profile = NotebookParameter.Get(\"profile\", \"auto\");\n", "var lr = 0.1;"] },
                { "cell_type": "code", "id": "c", "metadata": {}, "execution_count": null, "outputs": [], "source": "Console.WriteLine(steps);" }
              ] }
            """);
        string? saved = Environment.GetEnvironmentVariable("NOTEBOOKVGG_STEPS");
        Environment.SetEnvironmentVariable("NOTEBOOKVGG_STEPS", "7");
        try
        {
            var runner = new NotebookRunner(new NotebookRunOptions { Parameters = [P("profile", "smoke")] });
            string written = runner.SavePrepared(runner.Prepare(notebook));

            var papermill = ReadJson(written)["metadata"]!["papermill"]!;
            Assert.Equal("""{"steps":100,"profile":"auto","lr":0.1}""", papermill["default_parameters"]!.ToJsonString());
            Assert.Equal("""{"steps":7,"profile":"smoke"}""", papermill["parameters"]!.ToJsonString());
            Assert.Equal("7", (string?)papermill["environment_variables"]!["NOTEBOOKVGG_STEPS"]);
            Assert.Equal("nvgg run", (string?)papermill["runner"]!["name"]);
            Assert.False(string.IsNullOrEmpty((string?)papermill["runner"]!["version"]));
            Assert.Null(papermill["exception"]);
            var cells = Cells(ReadJson(written)).OfType<JsonObject>().ToList();
            Assert.Equal("// Parameters injected by nvgg run\nprofile = \"smoke\";", Text(cells[1]["source"]));
            Assert.All(cells, c => Assert.Empty((JsonArray)c["outputs"]!));
        }
        finally
        {
            Environment.SetEnvironmentVariable("NOTEBOOKVGG_STEPS", saved);
        }
    }

    [Fact]
    public async Task Run_WithWorkingDirectory_RunsTheKernelThere()
    {
        using var temp = new TempDirectory();
        string notebook = CopyTo(temp, "parameters.ipynb");
        Directory.CreateDirectory(temp.Combine("elsewhere"));

        var result = await RunAsync(notebook, new NotebookRunOptions { WorkingDirectory = temp.Combine("elsewhere") });

        Assert.Equal("folder=elsewhere\n", StreamText(CodeCell(ReadJson(result.OutputPath), 2), "stdout"));
    }

    [Fact]
    public void CheckOutputsWritable_AFolderThatCannotBeMade_FailsInOneLineBeforeAnythingRuns()
    {
        using var temp = new TempDirectory();
        string notebook = CopyTo(temp, "parameters.ipynb");
        File.WriteAllText(temp.Combine("a-file"), "");
        var runner = new NotebookRunner(new NotebookRunOptions { OutputDirectory = temp.Combine("a-file", "out") });

        var ex = Assert.Throws<NotebookVgg.IO.WriteFailedException>(() => runner.CheckOutputsWritable([notebook]));

        Assert.StartsWith($"cannot write executed notebooks to {temp.Combine("a-file", "out")}: ", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", ex.Message, StringComparison.Ordinal);
        Assert.Equal(["a-file", "parameters.ipynb"], temp.Files());
    }

    [Fact]
    public async Task Run_CompileError_IsReportedAsTheCellsError()
    {
        using var temp = new TempDirectory();
        string notebook = CopyTo(temp, "compile-error.ipynb");

        var result = await RunAsync(notebook);

        var failed = result.FailedCell!;
        Assert.Equal(2, failed.CellNumber);
        Assert.Equal(CellFailureKind.CompilationError, failed.Failure!.Kind);
        Assert.Contains("CS0029", failed.Failure.Message, StringComparison.Ordinal);
        var error = Assert.Single(((JsonArray)CodeCell(ReadJson(result.OutputPath), 1)["outputs"]!).OfType<JsonObject>());
        Assert.Equal("CompilationError", (string?)error["ename"]);
        Assert.Contains("Cannot implicitly convert type 'string' to 'int'", (string?)error["evalue"], StringComparison.Ordinal);
        Assert.Equal(CellStatus.NotRun, result.Cells[^1].Status);
    }

    [Fact]
    public async Task Run_CellPastTimeout_IsStoppedAndKeepsWhatItPrinted()
    {
        using var temp = new TempDirectory();
        string notebook = CopyTo(temp, "hangs.ipynb");

        var result = await RunAsync(notebook, new NotebookRunOptions { CellTimeout = TimeSpan.FromSeconds(2) });

        var failed = result.FailedCell!;
        Assert.Equal(2, failed.CellNumber);
        Assert.Equal(CellFailureKind.Timeout, failed.Failure!.Kind);
        Assert.InRange(failed.Elapsed.TotalSeconds, 1.9, 10);
        var executed = ReadJson(result.OutputPath);
        var hung = CodeCell(executed, 1);
        Assert.Equal("about to hang\n", StreamText(hung, "stdout"));
        var error = ((JsonArray)hung["outputs"]!).OfType<JsonObject>().Last();
        Assert.Equal("TimeoutException", (string?)error["ename"]);
        Assert.Contains("did not finish within 2 s", (string?)error["evalue"], StringComparison.Ordinal);
        Assert.Null(CodeCell(executed, 2)["execution_count"]);
    }

    [Fact]
    public void Prepare_UnknownParameter_FailsBeforeAnythingRuns()
    {
        using var temp = new TempDirectory();
        string notebook = CopyTo(temp, "parameters.ipynb");
        var runner = new NotebookRunner(new NotebookRunOptions { Parameters = [P("epoch", "5")] });

        var ex = Assert.Throws<NotebookParameterException>(() => runner.Prepare(notebook));

        Assert.Equal("parameters.ipynb: unknown parameter 'epoch' (it declares epochs, profile, lr, verbose, seed)", ex.Message);
        Assert.Equal(["parameters.ipynb"], temp.Files());
    }

    [Fact]
    public void Prepare_ParametersForANotebookWithoutParametersCell_Fails()
    {
        using var temp = new TempDirectory();
        string notebook = CopyTo(temp, "throws.ipynb");
        var runner = new NotebookRunner(new NotebookRunOptions { Parameters = [P("epochs", "5")] });

        var ex = Assert.Throws<NotebookParameterException>(() => runner.Prepare(notebook));

        Assert.Equal("throws.ipynb: parameters given, but the notebook has no code cell tagged 'parameters'", ex.Message);
    }

    [Theory]
    [InlineData("{ \"cells\": [", "not a notebook (invalid JSON")]
    [InlineData("{ \"nbformat\": 3, \"cells\": [] }", "only nbformat 4 notebooks are supported (nbformat is 3)")]
    [InlineData("{ \"nbformat\": 4, \"nbformat_minor\": 5, \"metadata\": {}, \"cells\": [ { \"cell_type\": \"code\", \"metadata\": { \"polyglot_notebook\": { \"kernelName\": \"fsharp\" } }, \"source\": \"1\", \"outputs\": [] } ] }",
        "cell 1 runs in the 'fsharp' kernel; nvgg run runs C# cells only")]
    public void Prepare_NotebookThatCannotRunHere_FailsWithOneLine(string json, string message)
    {
        using var temp = new TempDirectory();
        string notebook = temp.Combine("bad.ipynb");
        File.WriteAllText(notebook, json);

        var ex = Assert.ThrowsAny<Exception>(() => new NotebookRunner(new NotebookRunOptions()).Prepare(notebook));

        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
        Assert.Contains("bad.ipynb", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_ReferencesALocalDllByRelativePath_AndItsDependencyBesideIt()
    {
        using var temp = new TempDirectory();
        // Two small assemblies, made here: Greeting.dll uses Wording.dll; both in lib/ beside the notebook.
        Directory.CreateDirectory(temp.Combine("lib"));
        string wording = Compile(temp.Combine("lib", "Wording.dll"), "public static class Wording { public static string Salute => \"Hello\"; }");
        Compile(temp.Combine("lib", "Greeting.dll"), "public static class Greeting { public static string To(string name) => Wording.Salute + \", \" + name; }", wording);
        string notebook = temp.Combine("local-dll.ipynb");
        File.WriteAllText(notebook, MinimalNotebook("#r \"lib/Greeting.dll\"", "Console.WriteLine(Greeting.To(\"notebook\"));"));

        var result = await RunAsync(notebook);

        Assert.True(result.Succeeded, result.FailedCell?.Failure?.Summary);
        Assert.Equal("Hello, notebook\n", StreamText(CodeCell(ReadJson(result.OutputPath), 1), "stdout"));
    }

    [Fact]
    public async Task Run_WithOutputDirectoryAndKernelLog_WritesThereAndLogsEvents()
    {
        using var temp = new TempDirectory();
        string notebook = CopyTo(temp, "throws.ipynb");
        using var log = new StringWriter();

        var result = await RunAsync(notebook, new NotebookRunOptions { OutputDirectory = temp.Combine("out"), KernelLog = log, HtmlReport = true });

        Assert.Equal(temp.Combine("out", "throws.executed.ipynb"), result.OutputPath);
        Assert.Equal(temp.Combine("out", "throws.report.html"), result.ReportPath);
        Assert.Equal(["out/throws.executed.ipynb", "out/throws.report.html", "throws.ipynb"], temp.Files());
        Assert.Contains("StandardOutputValueProduced", log.ToString(), StringComparison.Ordinal);
        Assert.Contains("before the failure", log.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_ExecutedNotebooks_AreValidNbformat()
    {
        using var temp = new TempDirectory();
        var passed = await RunAsync(CopyTo(temp, "parameters.ipynb"), new NotebookRunOptions { Parameters = [P("epochs", "2")] });
        var failed = await RunAsync(CopyTo(temp, "throws.ipynb"));

        // Jupyter's own validator (Debian's python3-nbformat; ./test.sh installs it).
        var (exitCode, stdout, stderr) = ExternalProcess.Run("/usr/bin/python3",
            ["-c", "import sys, nbformat\nfor f in sys.argv[1:]: nbformat.validate(nbformat.read(f, as_version=4)); print('valid', f)", passed.OutputPath, failed.OutputPath],
            TimeSpan.FromMinutes(2));
        Assert.True(exitCode == 0, $"nbformat validation failed (python3-nbformat missing? ./test.sh installs it): {stderr}");
        Assert.Contains("valid " + passed.OutputPath, stdout, StringComparison.Ordinal);
        Assert.Contains("valid " + failed.OutputPath, stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void ExpandInputs_FolderGivesItsNotebooksInNameOrder_WithoutExecutedCopies()
    {
        using var temp = new TempDirectory();
        foreach (string name in new[] { "b.ipynb", "a.ipynb", "a.executed.ipynb", "notes.txt" })
            File.WriteAllText(temp.Combine(name), "{}");

        var inputs = NotebookRunner.ExpandInputs([temp.Path]);

        Assert.Equal([temp.Combine("a.ipynb"), temp.Combine("b.ipynb")], inputs);
        Assert.Throws<FileNotFoundException>(() => NotebookRunner.ExpandInputs([temp.Combine("missing.ipynb")]));
    }

    internal static string MinimalNotebook(params string[] codeCells)
    {
        var cells = new JsonArray();
        foreach (string code in codeCells)
        {
            cells.Add(new JsonObject
            {
                ["cell_type"] = "code",
                ["metadata"] = new JsonObject { ["polyglot_notebook"] = new JsonObject { ["kernelName"] = "csharp" } },
                ["execution_count"] = null,
                ["outputs"] = new JsonArray(),
                ["source"] = code,
            });
        }
        return new JsonObject
        {
            ["cells"] = cells,
            ["metadata"] = new JsonObject { ["kernelspec"] = new JsonObject { ["name"] = ".net-csharp", ["language"] = "C#", ["display_name"] = ".NET (C#)" } },
            ["nbformat"] = 4,
            ["nbformat_minor"] = 4,
        }.ToJsonString();
    }

    private static string Compile(string path, string code, params string[] references)
    {
        string[] platform = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => Path.GetFileName(p) is "System.Runtime.dll" or "System.Private.CoreLib.dll")
            .ToArray();
        var compilation = CSharpCompilation.Create(Path.GetFileNameWithoutExtension(path),
            [CSharpSyntaxTree.ParseText(code)],
            platform.Concat(references).Select(r => MetadataReference.CreateFromFile(r)),
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        var emitted = compilation.Emit(path);
        Assert.True(emitted.Success, string.Join("\n", emitted.Diagnostics));
        return path;
    }
}
