using System.Text.Json.Nodes;
using NotebookVgg.Cli.Commands;
using NotebookVgg.Cli.Tests.TestSupport;
using NotebookVgg.Tests.TestSupport;
using static NotebookVgg.Cli.Tests.TestSupport.TestNotebooks;

namespace NotebookVgg.Cli.Tests.Commands;

/// <summary>nvgg run as a person runs it: the built CLI in its own process.</summary>
[Trait("Category", "Notebooks")]
public class RunCommandTests
{
    [Fact]
    public void NormalizeParameterArguments_AcceptsPapermillAndEqualsForms()
    {
        string[] args = ["run", "nb.ipynb", "-p", "epochs", "5", "--parameter", "profile=a b", "-p", "note", "x=y", "--html"];

        Assert.Equal(["run", "nb.ipynb", "-p", "epochs=5", "--parameter", "profile=a b", "-p", "note=x=y", "--html"],
            RunCommand.NormalizeParameterArguments(args));
    }

    [Fact]
    public void Run_PassingNotebookWithParameters_ExitsZeroAndWritesOutputsOfTheInjectedValues()
    {
        using var temp = new TempDirectory();
        CopyTo(temp, "parameters.ipynb");

        var run = Nvgg.Run(temp.Path, "run", "parameters.ipynb", "-p", "epochs", "7", "-p", "profile", "full run",
            "--output", "out", "--html", "--kernel-log", "kernel.log");

        Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
        var executed = ReadJson(temp.Combine("out", "parameters.executed.ipynb"));
        Assert.StartsWith("epochs=7 profile=full run ", StreamText(CodeCell(executed, 2), "stdout"), StringComparison.Ordinal);
        Assert.True(File.Exists(temp.Combine("out", "parameters.report.html")));
        // One line per cell with its time, and a summary.
        Assert.Contains("parameters.ipynb epochs=7 profile=\"full run\"", run.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"injected parameters \[2\] +\d+\.\d\d s", run.Stdout);
        Assert.Matches(@"cell 6 \[6\] +\d+\.\d\d s  epochs \* 2", run.Stdout);
        Assert.Contains("parameters.ipynb: 6 cells passed in", run.Stdout, StringComparison.Ordinal);
        // What the cells print goes into the notebook, not between the CLI's lines.
        Assert.DoesNotContain("epochs=7 profile=full run", run.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("a line on stderr", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("epochs=7 profile=full run", File.ReadAllText(temp.Combine("kernel.log")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("train --epoch 1 --checkpoint x.ckpt", "Unknown option 'epoch'", "did you mean --epochs?")]
    [InlineData("data download --mirorr http://127.0.0.1:9/", "Unknown option 'mirorr'", "did you mean --mirror?")]
    [InlineData("eval --checkpoint x.ckpt --no-such-option", "Unknown option 'no-such-option'", "")]
    public void UnknownOption_IsRefusedInOneLine_WithASuggestion(string commandLine, string error, string suggestion)
    {
        using var temp = new TempDirectory();

        var run = Nvgg.Run(temp.Path, commandLine.Split(' '));

        Assert.Equal(2, run.ExitCode);
        string line = Assert.Single(run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(suggestion == "" ? error : $"{error} ({suggestion})", line, StringComparison.Ordinal);
        Assert.False(File.Exists(temp.Combine("x.ckpt")));
    }

    [Fact]
    public void Run_ACellThatEndsTheProcess_IsAFailure_RecordedInTheExecutedCopy()
    {
        using var temp = new TempDirectory();
        string path = temp.Combine("exits.ipynb");
        File.WriteAllText(path, """
            { "nbformat": 4, "nbformat_minor": 5,
              "metadata": { "kernelspec": { "name": ".net-csharp", "display_name": ".NET (C#)", "language": "C#" } },
              "cells": [
                { "cell_type": "code", "id": "a", "metadata": {}, "execution_count": null, "outputs": [], "source": "1 + 1" },
                { "cell_type": "code", "id": "b", "metadata": {}, "execution_count": null, "outputs": [], "source": "System.Environment.Exit(0);" },
                { "cell_type": "code", "id": "c", "metadata": {}, "execution_count": null, "outputs": [], "source": "2 + 2" }
              ] }
            """);

        var run = Nvgg.Run(temp.Path, "run", "exits.ipynb");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("exits.ipynb: the notebook ended the kernel's process (Environment.Exit)", run.Stderr, StringComparison.Ordinal);
        var executed = ReadJson(temp.Combine("exits.executed.ipynb"));
        Assert.Equal("KernelExited", (string?)CodeCell(executed, 1)["outputs"]![0]!["ename"]);
    }

    [Fact]
    public void Run_ANotebookThatEndsTheProcess_FailsAlone_AndTheNextNotebooksStillRun()
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.Combine("1-exits.ipynb"), """
            { "nbformat": 4, "nbformat_minor": 5,
              "metadata": { "kernelspec": { "name": ".net-csharp", "display_name": ".NET (C#)", "language": "C#" } },
              "cells": [
                { "cell_type": "code", "id": "a", "metadata": {}, "execution_count": null, "outputs": [], "source": "System.Environment.Exit(0);" },
                { "cell_type": "code", "id": "b", "metadata": {}, "execution_count": null, "outputs": [], "source": "2 + 2" }
              ] }
            """);
        File.Copy(Path.Combine(SourceFolder, "parameters.ipynb"), temp.Combine("2-parameters.ipynb"));

        var run = Nvgg.Run(temp.Path, "run", ".", "--output", "out", "--kernel-log", "kernel.log");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("1-exits.ipynb: the notebook ended the kernel's process (Environment.Exit)", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("2-parameters.ipynb: 5 cells passed", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("1 of 2 notebooks failed: 1-exits.ipynb", run.Stdout, StringComparison.Ordinal);
        var exited = CodeCell(ReadJson(temp.Combine("out", "1-exits.executed.ipynb")), 0);
        Assert.Equal("KernelExited", (string?)exited["outputs"]![0]!["ename"]);
        Assert.True(File.Exists(temp.Combine("out", "2-parameters.executed.ipynb")));
        // Each notebook runs in a process of its own; their kernels log to the one file.
        string log = File.ReadAllText(temp.Combine("kernel.log"));
        Assert.Contains("1-exits.ipynb (started", log, StringComparison.Ordinal);
        Assert.Contains("2-parameters.ipynb (started", log, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_ACellThatLeavesAForegroundThreadRunning_StillEndsTheProcess()
    {
        using var temp = new TempDirectory();
        string path = temp.Combine("thread.ipynb");
        File.WriteAllText(path, """
            { "nbformat": 4, "nbformat_minor": 5,
              "metadata": { "kernelspec": { "name": ".net-csharp", "display_name": ".NET (C#)", "language": "C#" } },
              "cells": [
                { "cell_type": "code", "id": "c", "metadata": {}, "execution_count": null, "outputs": [],
                  "source": "new System.Threading.Thread(() => System.Threading.Thread.Sleep(-1)) { IsBackground = false }.Start();" }
              ] }
            """);

        var run = Nvgg.Run(temp.Path, "run", "thread.ipynb"); // throws TimeoutException after 3 minutes if it hangs

        Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
        Assert.Contains("thread.ipynb: 1 cells passed", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_ThrowingNotebook_ExitsNonZeroNamingNotebookCellAndError()
    {
        using var temp = new TempDirectory();
        CopyTo(temp, "throws.ipynb");

        var run = Nvgg.Run(temp.Path, "run", "throws.ipynb");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("nvgg run: throws.ipynb: cell 3 failed: InvalidOperationException: boom from the second code cell", run.Stderr, StringComparison.Ordinal);
        Assert.Matches(@"cell 3 \[2\] +\d+\.\d\d s  FAILED InvalidOperationException: boom", run.Stdout);
        Assert.Contains("throws.ipynb: failed at cell 3 after 2 cells", run.Stdout, StringComparison.Ordinal);
        Assert.DoesNotMatch("(?m)^before the failure$", run.Stdout); // the cell's own output stays in the notebook
        var executed = ReadJson(temp.Combine("throws.executed.ipynb"));
        Assert.Equal("InvalidOperationException", (string?)CodeCell(executed, 1)["outputs"]![0]!["ename"]);
    }

    [Fact]
    public void Run_HangingCellWithTimeout_ExitsNonZeroAndTheProcessEnds()
    {
        using var temp = new TempDirectory();
        CopyTo(temp, "hangs.ipynb");

        var run = Nvgg.Run(temp.Path, "run", "hangs.ipynb", "--timeout", "2");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("nvgg run: hangs.ipynb: cell 2 failed: TimeoutException: the cell did not finish within 2 s (--timeout) and was stopped", run.Stderr, StringComparison.Ordinal);
        Assert.True(File.Exists(temp.Combine("hangs.executed.ipynb")));
    }

    [Fact]
    public void Run_CtrlC_StopsTheRunningCellAndStillWritesTheExecutedNotebook()
    {
        using var temp = new TempDirectory();
        CopyTo(temp, "hangs.ipynb");

        // No --timeout: the second cell would run for ever; Ctrl+C arrives once the first cell is done.
        var run = Nvgg.RunAndInterrupt(temp.Path, interruptWhenStdoutHas: "cell 1 [1]", "run", "hangs.ipynb");

        Assert.Equal(RunCommand.Interrupted, run.ExitCode);
        Assert.Contains("nvgg run: hangs.ipynb: cell 2 failed: OperationCanceledException: the run was interrupted (Ctrl+C)", run.Stderr, StringComparison.Ordinal);
        var hung = CodeCell(ReadJson(temp.Combine("hangs.executed.ipynb")), 1);
        Assert.Equal("OperationCanceledException", (string?)((JsonArray)hung["outputs"]!).OfType<JsonObject>().Last()["ename"]);
    }

    [Fact]
    public void Run_CtrlC_DuringAFolder_StopsTheChildsCell_WritesItsCopy_AndRunsNoMoreNotebooks()
    {
        using var temp = new TempDirectory();
        File.Copy(Path.Combine(SourceFolder, "hangs.ipynb"), temp.Combine("1-hangs.ipynb"));
        File.Copy(Path.Combine(SourceFolder, "parameters.ipynb"), temp.Combine("2-parameters.ipynb"));

        var run = Nvgg.RunAndInterrupt(temp.Path, interruptWhenStdoutHas: "cell 1 [1]", "run", ".");

        Assert.Equal(RunCommand.Interrupted, run.ExitCode);
        Assert.Contains("nvgg run: 1-hangs.ipynb: cell 2 failed: OperationCanceledException: the run was interrupted (Ctrl+C)", run.Stderr, StringComparison.Ordinal);
        Assert.True(File.Exists(temp.Combine("1-hangs.executed.ipynb")));
        Assert.False(File.Exists(temp.Combine("2-parameters.executed.ipynb")));
    }

    [Fact]
    public void Run_Folder_RunsEveryNotebookInOrderAndSummarises()
    {
        using var temp = new TempDirectory();
        CopyTo(temp, "compile-error.ipynb");
        CopyTo(temp, "throws.ipynb");
        File.Copy(Path.Combine(SourceFolder, "parameters.ipynb"), temp.Combine("a-parameters.ipynb"));

        var run = Nvgg.Run(temp.Path, "run", ".");

        Assert.Equal(1, run.ExitCode);
        int a = run.Stdout.IndexOf("a-parameters.ipynb: 5 cells passed", StringComparison.Ordinal);
        int b = run.Stdout.IndexOf("compile-error.ipynb: failed at cell 2", StringComparison.Ordinal);
        int c = run.Stdout.IndexOf("throws.ipynb: failed at cell 3", StringComparison.Ordinal);
        Assert.True(a >= 0 && b > a && c > b, run.Stdout);
        Assert.Contains("2 of 3 notebooks failed: compile-error.ipynb, throws.ipynb", run.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "-p", "epoch", "5" }, "nvgg: error: parameters.ipynb: unknown parameter 'epoch' (it declares epochs, profile, lr, verbose, seed)")]
    [InlineData(new[] { "-p", "epochs", "many" }, "nvgg: error: parameters.ipynb: parameter 'epochs' is an int; cannot use the value 'many'")]
    public void Run_BadParameter_FailsBeforeRunningWithOneLine(string[] parameters, string message)
    {
        using var temp = new TempDirectory();
        CopyTo(temp, "parameters.ipynb");

        var run = Nvgg.Run(temp.Path, ["run", "parameters.ipynb", .. parameters]);

        Assert.Equal(1, run.ExitCode);
        Assert.Equal(message, run.Stderr.Trim());
        Assert.Equal(["parameters.ipynb"], temp.Files());
    }

    [Fact]
    public void Run_ParametersFromAYamlFileAndYamlText_pWinsOverYWinsOverF()
    {
        using var temp = new TempDirectory();
        CopyTo(temp, "parameters.ipynb");
        File.WriteAllText(temp.Combine("params.yaml"), "epochs: 4\nprofile: from the file\nlr: 0.25\n");

        var run = Nvgg.Run(temp.Path, "run", "parameters.ipynb", "-f", "params.yaml", "-y", "{profile: from yaml, verbose: true}", "-p", "epochs", "9");

        Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
        var executed = ReadJson(temp.Combine("parameters.executed.ipynb"));
        Assert.Equal("epochs=9 profile=from yaml lr=0.25 verbose=True seed=42\n", StreamText(CodeCell(executed, 2), "stdout"));
    }

    [Fact]
    public void Run_BadYaml_FailsBeforeRunningWithOneLine()
    {
        using var temp = new TempDirectory();
        CopyTo(temp, "parameters.ipynb");

        var run = Nvgg.Run(temp.Path, "run", "parameters.ipynb", "-y", "epochs: [1, 2]");

        Assert.Equal(1, run.ExitCode);
        Assert.Equal("nvgg: error: -y: parameter 'epochs' (line 1) must be a single value, not a list or mapping", run.Stderr.Trim());
        Assert.Equal(["parameters.ipynb"], temp.Files());
    }

    [Fact]
    public void Run_PrepareOnly_WritesTheNotebookWithItsParameters_AndRunsNothing()
    {
        using var temp = new TempDirectory();
        CopyTo(temp, "parameters.ipynb");

        var run = Nvgg.Run(temp.Path, "run", "parameters.ipynb", "--prepare-only", "-p", "epochs", "6");

        Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
        Assert.Contains("parameters.ipynb: parameters injected, not run → parameters.executed.ipynb", run.Stdout, StringComparison.Ordinal);
        var executed = ReadJson(temp.Combine("parameters.executed.ipynb"));
        Assert.Contains("epochs = 6;", Text(Cells(executed).OfType<JsonObject>().Single(c => Tags(c).Contains("injected-parameters"))["source"]), StringComparison.Ordinal);
        Assert.All(Cells(executed).OfType<JsonObject>().Where(c => (string?)c["cell_type"] == "code"), c => Assert.Null(c["execution_count"]));
        Assert.Equal(6, (int?)executed["metadata"]!["papermill"]!["parameters"]!["epochs"]);
    }

    [Fact]
    public void Run_HelpNotebook_ListsEachParameterWithTypeAndDefault_AndRunsNothing()
    {
        using var temp = new TempDirectory();
        CopyTo(temp, "parameters.ipynb");
        CopyTo(temp, "throws.ipynb");

        var run = Nvgg.Run(temp.Path, "run", ".", "--help-notebook");

        Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
        Assert.Contains("parameters.ipynb: parameters of cell 2", run.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"epochs +int +3", run.Stdout);
        Assert.Matches(@"profile +string +""smoke""", run.Stdout);
        Assert.Matches(@"lr +double +0\.001", run.Stdout);
        Assert.Matches(@"seed +long +42", run.Stdout);
        Assert.Contains("throws.ipynb: no cell tagged 'parameters': it takes no parameters", run.Stdout, StringComparison.Ordinal);
        Assert.Equal(["parameters.ipynb", "throws.ipynb"], temp.Files());
    }

    [Fact]
    public void Run_LogOutput_StreamsWhatCellsPrint_AndALongCellGetsProgressLines()
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.Combine("slow.ipynb"), NotebookVgg.Cli.Tests.Runner.NotebookRunnerTests.MinimalNotebook(
            "Console.WriteLine(\"first line\");",
            "Console.WriteLine(\"working on it\"); System.Threading.Thread.Sleep(4000);",
            "\"a result\""));

        var run = Nvgg.Run(temp.Path, "run", "slow.ipynb", "--log-output", "--progress", "1");

        Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
        Assert.Contains("    │ first line", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("    │ a result", run.Stdout, StringComparison.Ordinal);
        // While cell 2 sleeps: a line a second, with how long it has run and what it last printed.
        Assert.Matches(@"… cell 2 \[2\] running for \ds · working on it", run.Stdout);
        Assert.True(run.Stdout.IndexOf("    │ working on it", StringComparison.Ordinal) < run.Stdout.IndexOf("cell 2 [2] running for", StringComparison.Ordinal));
    }

    [Fact]
    public void Run_FolderWithParameters_EachNotebookTakesWhatItDeclares_AndANameNoneDeclaresIsAnError()
    {
        using var temp = new TempDirectory();
        File.Copy(Path.Combine(SourceFolder, "parameters.ipynb"), temp.Combine("a-parameters.ipynb"));
        CopyTo(temp, "live-display.ipynb"); // declares no parameters

        var run = Nvgg.Run(temp.Path, "run", ".", "-p", "epochs", "5");

        Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
        Assert.StartsWith("epochs=5 ", StreamText(CodeCell(ReadJson(temp.Combine("a-parameters.executed.ipynb")), 2), "stdout"), StringComparison.Ordinal);
        Assert.Contains("2 notebooks passed", run.Stdout, StringComparison.Ordinal);

        var wrong = Nvgg.Run(temp.Path, "run", ".", "-p", "epochs", "5", "-p", "epoch", "6");

        Assert.Equal(1, wrong.ExitCode);
        Assert.Equal("nvgg: error: no notebook of this run declares parameter 'epoch' (they declare epochs, lr, profile, seed, verbose)", wrong.Stderr.Trim());
    }

    [Fact]
    public void Run_UnwritableOutputFolder_FailsInOneLineBeforeAnyCellRuns()
    {
        using var temp = new TempDirectory();
        CopyTo(temp, "parameters.ipynb");
        File.WriteAllText(temp.Combine("not-a-folder"), "");

        var run = Nvgg.Run(temp.Path, "run", "parameters.ipynb", "--output", "not-a-folder/out");

        Assert.Equal(1, run.ExitCode);
        string line = Assert.Single(run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"nvgg: error: cannot write executed notebooks to {temp.Combine("not-a-folder", "out")}", line, StringComparison.Ordinal);
        Assert.DoesNotContain("parameters.ipynb", run.Stdout, StringComparison.Ordinal); // no notebook started
        Assert.Equal(["not-a-folder", "parameters.ipynb"], temp.Files());
    }

    [Fact]
    public void Run_KilledWithSigkillMidNotebook_LeavesAnExecutedCopyWithEveryFinishedCell()
    {
        using var temp = new TempDirectory();
        // A folder run: a notebook that completes, then one killed in its third cell (the parent and its child nvgg both die).
        File.WriteAllText(temp.Combine("1-quick.ipynb"), NotebookVgg.Cli.Tests.Runner.NotebookRunnerTests.MinimalNotebook("Console.WriteLine(\"quick\");"));
        File.WriteAllText(temp.Combine("2-killed.ipynb"), NotebookVgg.Cli.Tests.Runner.NotebookRunnerTests.MinimalNotebook(
            "Console.WriteLine(\"one\");",
            "var two = 1 + 1;\ntwo",
            "System.IO.File.WriteAllText(\"../cell-3-started\", \"\"); System.Threading.Thread.Sleep(300_000);",
            "Console.WriteLine(\"never\");"));
        Directory.CreateDirectory(temp.Combine("nb"));
        foreach (string name in new[] { "1-quick.ipynb", "2-killed.ipynb" })
            File.Move(temp.Combine(name), temp.Combine("nb", name));

        // bash's job control puts the run in a process group of its own: kill -9 of that group is what a CI timeout or the
        // OOM killer's cgroup kill does.
        var start = new System.Diagnostics.ProcessStartInfo("bash") { RedirectStandardOutput = true, UseShellExecute = false, WorkingDirectory = temp.Path };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"set -m; dotnet '{Nvgg.DllPath}' run nb --kernel-log kernel.log >run.log 2>&1 & echo $!; wait");
        using var bash = System.Diagnostics.Process.Start(start)!;
        string group = bash.StandardOutput.ReadLine()!.Trim();
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!File.Exists(temp.Combine("cell-3-started")))
        {
            if (waited.Elapsed > TimeSpan.FromMinutes(4))
                Assert.Fail("cell 3 never started: " + File.ReadAllText(temp.Combine("run.log")));
            Thread.Sleep(100);
        }
        Thread.Sleep(300); // within the sleeping cell: nothing is being written now
        using (var kill = System.Diagnostics.Process.Start("kill", ["-9", "--", "-" + group]))
            kill.WaitForExit();
        Assert.True(bash.WaitForExit(30_000), "the killed run's shell did not end");
        // The shell ends once its own child is reaped; the run's child processes (one per notebook) may still be tearing
        // down their memory, and a process closes its files (freeing its locks) only after that: wait until none is left.
        var gone = System.Diagnostics.Stopwatch.StartNew();
        while (GroupAlive(group))
        {
            Assert.True(gone.Elapsed < TimeSpan.FromSeconds(60), "the killed run's processes did not end");
            Thread.Sleep(100);
        }

        var quick = ReadJson(temp.Combine("nb", "1-quick.executed.ipynb"));
        Assert.Equal("quick\n", StreamText(CodeCell(quick, 0), "stdout"));
        var killed = ReadJson(temp.Combine("nb", "2-killed.executed.ipynb")); // whole, valid JSON
        Assert.Equal("one\n", StreamText(CodeCell(killed, 0), "stdout"));
        Assert.Contains("<pre>2</pre>", Text(CodeCell(killed, 1)["outputs"]![0]!["data"]!["text/html"]), StringComparison.Ordinal);
        Assert.Equal(["completed", "completed", "running", "pending"],
            Cells(killed).OfType<JsonObject>().Select(c => (string?)c["metadata"]!["papermill"]!["status"]));
        Assert.Empty((JsonArray)CodeCell(killed, 2)["outputs"]!);
        Assert.Null(killed["metadata"]!["papermill"]!["end_time"]);
        Assert.DoesNotContain(temp.Files(), f => f.EndsWith(".partial", StringComparison.Ordinal));
        // The kernel log keeps every line written before the kill (each is flushed as it is written); the killed run's lock on
        // it died with it, so the next run takes the log (and removes the lock file the kill left).
        string log = File.ReadAllText(temp.Combine("kernel.log"));
        Assert.Contains("1-quick.ipynb (started", log, StringComparison.Ordinal);
        Assert.Contains("text/plain:one", log, StringComparison.Ordinal);
        Assert.DoesNotContain("never", log, StringComparison.Ordinal);
        Assert.EndsWith("\n", log, StringComparison.Ordinal);
        Assert.Contains("kernel.log.lock", temp.Files()); // left by the kill, no longer locked
        using (var next = NotebookVgg.Cli.Runner.KernelLogFile.Open(temp.Combine("kernel.log"), append: true))
            next.WriteLine("next");
        Assert.DoesNotContain("kernel.log.lock", temp.Files());
    }

    private static bool GroupAlive(string group)
    {
        using var probe = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("kill", ["-0", "--", "-" + group])
        {
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        probe.WaitForExit();
        return probe.ExitCode == 0;
    }

    [Fact]
    public void Run_MissingNotebook_FailsWithOneLine()
    {
        using var temp = new TempDirectory();

        var run = Nvgg.Run(temp.Path, "run", "nowhere.ipynb");

        Assert.Equal(1, run.ExitCode);
        Assert.Equal("nvgg: error: notebook or folder not found: nowhere.ipynb", run.Stderr.Trim());
    }
}
