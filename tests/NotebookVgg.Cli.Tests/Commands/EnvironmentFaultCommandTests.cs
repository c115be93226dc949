using NotebookVgg.Cli.Tests.TestSupport;
using NotebookVgg.Data;
using NotebookVgg.Tests.TestSupport;

namespace NotebookVgg.Cli.Tests.Commands;

/// <summary>
/// Issue 27, as a user meets it: an output nvgg cannot write fails in its first seconds, in one line, before the long work; an
/// nvgg killed mid-write leaves nothing the next run trips over.
/// </summary>
public sealed class EnvironmentFaultCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string ErrorLine(string stderr) =>
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("nvgg: error: ", StringComparison.Ordinal));

    [Fact]
    public void Train_WithACheckpointInAReadOnlyFolder_FailsBeforeTheFeatures_InOneLine()
    {
        string data = SyntheticCifar.Write(_dir.Combine("data"), 200, 100, seed: 0);
        using var folder = FaultyFolder.ReadOnly();
        string checkpoint = folder.Combine("smoke.ckpt");

        var run = Nvgg.Run(_dir.Path, "train", "--profile", "smoke", "--data", data, "--checkpoint", checkpoint);

        Assert.Equal(1, run.ExitCode);
        Assert.Equal($"nvgg: error: {checkpoint}: cannot write the checkpoint: {folder.Path} is on a read-only file system; " +
            "choose a writable folder with enough free space; nothing was changed", ErrorLine(run.Stderr));
        Assert.DoesNotContain("features:", run.Stderr, StringComparison.Ordinal); // nothing was computed first
        Assert.False(Directory.Exists(Path.Combine(data, "features")));
    }

    [Fact]
    public void Bench_WithItsReportInAReadOnlyFolder_FailsBeforeMeasuring_InOneLine()
    {
        using var folder = FaultyFolder.ReadOnly();
        string report = folder.Combine("bench.json");

        var run = Nvgg.Run(_dir.Path, "bench", "--quick", "--cases", "matmul", "--output", report);

        Assert.Equal(1, run.ExitCode);
        Assert.Equal($"nvgg: error: {report}: cannot write the bench report: {folder.Path} is on a read-only file system; " +
            "choose a writable --output folder; nothing was measured", ErrorLine(run.Stderr));
        Assert.DoesNotContain("bench: ", run.Stderr, StringComparison.Ordinal); // no measurement started
    }

    [Fact]
    public void Run_IntoAReadOnlyFolder_FailsBeforeAnyCell_InOneLine()
    {
        string notebook = TestNotebooks.CopyTo(_dir, "parameters.ipynb");
        using var folder = FaultyFolder.ReadOnly();

        var run = Nvgg.Run(_dir.Path, "run", notebook, "--output", folder.Path, "--html");

        Assert.Equal(1, run.ExitCode);
        Assert.Equal($"nvgg: error: cannot write executed notebooks to {folder.Path}: it is on a read-only file system (choose another folder with --output)",
            ErrorLine(run.Stderr));
        Assert.DoesNotContain("parameters.ipynb", run.Stdout, StringComparison.Ordinal); // no notebook started
    }

    [Fact]
    public void Run_WithItsKernelLogInAReadOnlyFolder_FailsBeforeAnyCell_InOneLine()
    {
        string notebook = TestNotebooks.CopyTo(_dir, "parameters.ipynb");
        using var folder = FaultyFolder.ReadOnly();
        string log = folder.Combine("kernel.log");

        var run = Nvgg.Run(_dir.Path, "run", notebook, "--output", _dir.Combine("out"), "--kernel-log", log);

        Assert.Equal(1, run.ExitCode);
        Assert.Equal($"nvgg: error: {log}: cannot write the kernel log: {folder.Path} is on a read-only file system; " +
            "choose a writable --kernel-log path; nothing was run", ErrorLine(run.Stderr));
        Assert.False(File.Exists(_dir.Combine("out", "parameters.executed.ipynb"))); // no notebook ran
    }

    [Fact]
    public void Run_OntoAFullDisk_StopsInOneLineNamingTheExecutedCopy_AndLeavesNoTemporary()
    {
        string notebook = TestNotebooks.CopyTo(_dir, "parameters.ipynb");
        using var disk = FaultyFolder.FullDisk(4096); // takes the folder check's empty probe file, not the executed copy

        var run = Nvgg.Run(_dir.Path, "run", notebook, "--output", disk.Path, "--html");

        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith($"nvgg: error: {disk.Combine("parameters.executed.ipynb")}: cannot write the executed notebook: the disk is full: ",
            ErrorLine(run.Stderr), StringComparison.Ordinal);
        Assert.Empty(disk.Entries());
    }

    [Fact]
    public void AnExtractionKilledMidway_LeavesNothingTheNextOneTripsOver()
    {
        string data = _dir.Combine("data");
        var start = new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            WorkingDirectory = _dir.Path,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string arg in new[] { Nvgg.DllPath, "data", "extract", RepoFiles.SampleArchive, "--data", data })
            start.ArgumentList.Add(arg);
        using var extracting = System.Diagnostics.Process.Start(start)!;
        extracting.BeginOutputReadLine();
        extracting.BeginErrorReadLine();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!(Directory.Exists(data) && Directory.EnumerateFiles(data, "*.bin", SearchOption.AllDirectories).Any()) && clock.Elapsed < TimeSpan.FromMinutes(2))
            Thread.Sleep(2);
        extracting.Kill(); // SIGKILL, mid-extraction
        extracting.WaitForExit();
        Assert.False(Directory.Exists(Path.Combine(data, Cifar10.FolderName)), "the extraction finished before it could be killed");
        Assert.NotEmpty(Directory.GetDirectories(data, ".extract-*")); // what a killed run leaves…

        var again = Nvgg.Run(_dir.Path, "data", "extract", RepoFiles.SampleArchive, "--data", data);

        Assert.True(again.ExitCode == 0, again.Stderr);
        Assert.Equal([Cifar10.FolderName], Directory.GetFileSystemEntries(data).Select(Path.GetFileName)); // …the next run removes
        using var set = Cifar10.Load(data);
        Assert.Equal("CIFAR-10 sample", set.SourceName);
    }
}
