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
    public void Train_WithACheckpointOnADiskThatFills_FailsInOneLineWithTheSizes_AndLeavesNothing()
    {
        string data = SyntheticCifar.Write(_dir.Combine("data"), 400, 100, seed: 0);
        // The smoke head's checkpoint is about 0.5 MB: the folder check passes (the size is known only once the head is
        // built, after the features), the checkpoint does not fit.
        using var disk = FaultyFolder.FullDisk(256 * 1024);
        string checkpoint = disk.Combine("smoke.ckpt");

        var run = Nvgg.Run(_dir.Path, "train", "--profile", "smoke", "--data", data, "--checkpoint", checkpoint);

        Assert.Equal(1, run.ExitCode);
        Assert.Matches(@"^nvgg: error: .*smoke\.ckpt: cannot write the checkpoint: the disk is full: [0-9.]+ kB needed, [0-9.]+ kB free",
            ErrorLine(run.Stderr));
        Assert.Empty(disk.Entries()); // no temporary, no partial checkpoint, no lock file
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
    public void Bench_WithItsReportOnADiskThatFills_FailsInOneLine_AndLeavesNoTemporary()
    {
        using var disk = FaultyFolder.FullDisk(64 * 1024);
        disk.Fill(); // the folder check's empty probe file still fits (the report's size is unknown before measuring); the report does not
        string report = disk.Combine("bench.json");

        var run = Nvgg.Run(_dir.Path, "bench", "--quick", "--cases", "matmul", "--output", report);

        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith($"nvgg: error: {report}: cannot write the bench report: the disk is full: ", ErrorLine(run.Stderr), StringComparison.Ordinal);
        Assert.Equal(["FILLER"], disk.Entries());
    }

    [Fact]
    public void Export_OnAFullDisk_OrIntoAReadOnlyFolder_FailsInOneLineNamingTheApp_AndLeavesNoTemporary()
    {
        string notebook = TestNotebooks.CopyTo(_dir, "parameters.ipynb");
        using var disk = FaultyFolder.FullDisk(64 * 1024);
        disk.Fill();
        using var folder = FaultyFolder.ReadOnly();

        var full = Nvgg.Run(_dir.Path, "export", notebook, "--to", "cs", "--output", disk.Path);
        var locked = Nvgg.Run(_dir.Path, "export", notebook, "--to", "cs", "--output", folder.Path);

        Assert.Equal((1, 1), (full.ExitCode, locked.ExitCode));
        Assert.StartsWith($"nvgg: error: {disk.Combine("parameters.cs")}: cannot write the file-based app: the disk is full: ", ErrorLine(full.Stderr), StringComparison.Ordinal);
        Assert.Equal($"nvgg: error: {folder.Combine("parameters.cs")}: cannot write the file-based app: {folder.Path} is on a read-only file system; " +
            "choose a writable folder; nothing was changed", ErrorLine(locked.Stderr));
        Assert.Equal(["FILLER"], disk.Entries());
        Assert.Empty(folder.Entries());
    }

    [Fact]
    public void RunPrepareOnly_OnADiskThatFills_FailsInOneLineNamingTheExecutedCopy_AndLeavesNoTemporary()
    {
        string notebook = TestNotebooks.CopyTo(_dir, "parameters.ipynb");
        using var disk = FaultyFolder.FullDisk(64 * 1024);
        disk.Fill();

        var run = Nvgg.Run(_dir.Path, "run", notebook, "--prepare-only", "-p", "epochs", "7", "--output", disk.Path);

        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith($"nvgg: error: {disk.Combine("parameters.executed.ipynb")}: cannot write the executed notebook: the disk is full: ",
            ErrorLine(run.Stderr), StringComparison.Ordinal);
        Assert.Equal(["FILLER"], disk.Entries());
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
    public void Run_WithAKernelLogAnotherRunIsWriting_IsRefusedBeforeAnyCell_AndThatLogIsUntouched()
    {
        // Before: both runs truncated the log and wrote from its start, the second over the first's bytes; both exited 0.
        string notebook = TestNotebooks.CopyTo(_dir, "parameters.ipynb");
        string log = _dir.Combine("kernel.log");
        string first;
        using (var running = NotebookVgg.Cli.Runner.KernelLogFile.Open(log, append: false)) // what the first run holds while it runs
        {
            running.WriteLine("the first run's line");
            first = File.ReadAllText(log);

            var second = Nvgg.Run(_dir.Path, "run", notebook, "--output", _dir.Combine("out"), "--kernel-log", log);

            Assert.Equal(1, second.ExitCode);
            Assert.StartsWith($"nvgg: error: {log}: cannot write the kernel log: another run is writing it (pid {Environment.ProcessId} ",
                ErrorLine(second.Stderr), StringComparison.Ordinal);
            Assert.EndsWith("; wait for it to finish, or choose another --kernel-log path; nothing was run", ErrorLine(second.Stderr), StringComparison.Ordinal);
            Assert.False(Directory.Exists(_dir.Combine("out"))); // no notebook ran
            Assert.Equal(first, File.ReadAllText(log)); // not truncated, not written over
        }
        using (var next = NotebookVgg.Cli.Runner.KernelLogFile.Open(log, append: true)) // the lock ends with its holder
            next.WriteLine("the next run's line");
        Assert.Equal(first + "the next run's line\n", File.ReadAllText(log));
        Assert.Equal(["kernel.log", "parameters.ipynb"], _dir.Files()); // the last holder removed kernel.log.lock
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
    public void Run_WithItsKernelLogOnAFullDisk_FailsInOneLineNamingTheLog_AndTheNotebookStillRuns()
    {
        string notebook = TestNotebooks.CopyTo(_dir, "parameters.ipynb");
        using var disk = FaultyFolder.FullDisk(64 * 1024);
        disk.Fill(); // the folder check's empty probe file still fits; the log's first line does not
        string log = disk.Combine("kernel.log");

        var run = Nvgg.Run(_dir.Path, "run", notebook, "--output", _dir.Combine("out"), "--kernel-log", log);

        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith($"nvgg: error: {log}: cannot write the kernel log: the disk is full: ", ErrorLine(run.Stderr), StringComparison.Ordinal);
        Assert.EndsWith("; free space there or choose another --kernel-log path; the notebook ran on without it", ErrorLine(run.Stderr), StringComparison.Ordinal);
        Assert.Equal("completed", (string?)TestNotebooks.CodeCell(TestNotebooks.ReadJson(_dir.Combine("out", "parameters.executed.ipynb")), 4)["metadata"]!["papermill"]!["status"]);
        Assert.Equal(["FILLER", "kernel.log"], disk.Entries());
        Assert.Equal(0, new FileInfo(log).Length);
    }

    [Fact]
    public void Run_WithItsHtmlReportOnAFullDisk_FailsInOneLineNamingTheReport_AndKeepsTheExecutedCopyWhole()
    {
        string notebook = TestNotebooks.CopyTo(_dir, "chart.ipynb");
        using var disk = FaultyFolder.FullDisk(256 * 1024); // the executed copy (about 20 kB) fits; the report, with plotly.js inlined (3.6 MB), does not

        var run = Nvgg.Run(_dir.Path, "run", notebook, "--output", disk.Path, "--html");

        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith($"nvgg: error: {disk.Combine("chart.report.html")}: cannot write the report: the disk is full: ", ErrorLine(run.Stderr), StringComparison.Ordinal);
        Assert.Equal(["chart.executed.ipynb"], disk.Entries()); // no temporary report
        var executed = TestNotebooks.ReadJson(disk.Combine("chart.executed.ipynb"));
        Assert.All(TestNotebooks.Cells(executed).OfType<System.Text.Json.Nodes.JsonObject>().Where(c => (string?)c["cell_type"] == "code"),
            cell => Assert.Equal("completed", (string?)cell["metadata"]!["papermill"]!["status"]));
    }

    [Fact]
    public async Task TwoRunsIntoOneOutputFolder_EachWritesWholeFiles_AndNoTemporaryIsLeft()
    {
        string notebook = TestNotebooks.CopyTo(_dir, "parameters.ipynb");
        string output = _dir.Combine("out");

        var runs = await Task.WhenAll(
            Task.Run(() => Nvgg.Run(_dir.Path, "run", notebook, "--output", output, "--html", "-p", "epochs", "7")),
            Task.Run(() => Nvgg.Run(_dir.Path, "run", notebook, "--output", output, "--html", "-p", "epochs", "9")));

        Assert.All(runs, run => Assert.True(run.ExitCode == 0, run.Stderr));
        Assert.Equal(["parameters.executed.ipynb", "parameters.report.html"], Directory.GetFileSystemEntries(output).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        // Whichever run renamed its copy last: a whole notebook from one run, every cell finished, never a mix of the two.
        var executed = TestNotebooks.ReadJson(Path.Combine(output, "parameters.executed.ipynb"));
        string printed = TestNotebooks.Cells(executed).OfType<System.Text.Json.Nodes.JsonObject>().Where(c => (string?)c["cell_type"] == "code")
            .Select(c => TestNotebooks.StreamText(c, "stdout")).First(t => t.StartsWith("epochs=", StringComparison.Ordinal));
        Assert.Matches("^epochs=(7|9) ", printed);
        string epochs = printed[7..8];
        Assert.All(TestNotebooks.Cells(executed).OfType<System.Text.Json.Nodes.JsonObject>().Where(c => (string?)c["cell_type"] == "code" && c["metadata"]!["papermill"] is not null),
            cell => Assert.Equal("completed", (string?)cell["metadata"]!["papermill"]!["status"]));
        Assert.Contains($"epochs = {epochs}", TestNotebooks.Text(TestNotebooks.Cells(executed).OfType<System.Text.Json.Nodes.JsonObject>()
            .First(c => TestNotebooks.Tags(c).Contains("injected-parameters"))["source"]), StringComparison.Ordinal);
        string report = File.ReadAllText(Path.Combine(output, "parameters.report.html"));
        Assert.EndsWith("</html>", report.TrimEnd(), StringComparison.Ordinal);
        Assert.Matches("epochs=(7|9) ", report);
    }

    [Fact]
    public void Sample_OnAFullDisk_OrInAReadOnlyFolder_FailsInOneLine_AndLeavesNoTemporary()
    {
        string source = _dir.Combine("source");
        SyntheticCifar.Write(source, 600, 150, seed: 3);
        File.Delete(Path.Combine(source, Cifar10.FolderName, Cifar10.SyntheticMarkerFileName)); // stands in for the real set
        using var disk = FaultyFolder.FullDisk(64 * 1024); // synthetic records hardly compress: the archive is about 0.7 MB
        using var folder = FaultyFolder.ReadOnly();
        string full = disk.Combine("sample.tar.gz"), locked = folder.Combine("sample.tar.gz");

        var onFullDisk = Nvgg.Run(_dir.Path, "data", "sample", "--data", source, "--out", full, "--train-per-class", "20", "--test-per-class", "5");
        var intoReadOnly = Nvgg.Run(_dir.Path, "data", "sample", "--data", source, "--out", locked, "--train-per-class", "20", "--test-per-class", "5");

        Assert.Equal((1, 1), (onFullDisk.ExitCode, intoReadOnly.ExitCode));
        Assert.StartsWith($"nvgg: error: {full}: cannot write the CIFAR-10 sample archive: the disk is full: ", ErrorLine(onFullDisk.Stderr), StringComparison.Ordinal);
        Assert.Equal($"nvgg: error: {locked}: cannot write the CIFAR-10 sample archive: {folder.Path} is on a read-only file system; " +
            "choose a writable folder; nothing was changed", ErrorLine(intoReadOnly.Stderr));
        Assert.Empty(disk.Entries());
        Assert.Empty(folder.Entries());
    }

    [Fact]
    public void TwoExtractionProcessesIntoOneFolder_TakeTurns_TheSecondUsesTheFirstsData()
    {
        string data = _dir.Combine("data");
        var (one, two) = TwoAtTheFolderLock(data,
            ["data", "extract", RepoFiles.SampleArchive, "--data", data],
            ["data", "extract", RepoFiles.SampleArchive, "--data", data]);

        Assert.Single(new[] { one.Stderr, two.Stderr }, e => e.Contains("another process extracted CIFAR-10 sample meanwhile; using it", StringComparison.Ordinal));
        Assert.Equal([Cifar10.FolderName], Directory.GetFileSystemEntries(data).Select(Path.GetFileName)); // no temporary, no lock file
        using var set = Cifar10.Load(data);
        Assert.Equal("CIFAR-10 sample", set.SourceName);
    }

    /// <summary>
    /// Starts two nvgg processes writing <paramref name="data"/>'s CIFAR-10 folder while this test holds the folder's lock, so
    /// that both wait there whatever their start-up times; then lets them go and returns both results, each having exited 0.
    /// </summary>
    private ((int ExitCode, string Stdout, string Stderr) One, (int ExitCode, string Stdout, string Stderr) Two) TwoAtTheFolderLock(string data, string[] firstArgs, string[] secondArgs)
    {
        NvggChild first, second;
        using (Cifar10Archive.BeginWriting(data, Path.Combine(data, Cifar10.FolderName), null, CancellationToken.None))
        {
            first = new NvggChild(_dir.Path, firstArgs);
            second = new NvggChild(_dir.Path, secondArgs);
            first.WaitForStderr("waiting for another process");
            second.WaitForStderr("waiting for another process");
        }
        using (first)
        using (second)
        {
            var one = first.WaitForExit();
            var two = second.WaitForExit();
            Assert.True(one.ExitCode == 0, one.Stderr);
            Assert.True(two.ExitCode == 0, two.Stderr);
            return (one, two);
        }
    }

    [Fact]
    public void TwoSynthProcessesIntoOneFolder_TakeTurns_AndLeaveOneWholeSyntheticSet()
    {
        string data = _dir.Combine("data");
        TwoAtTheFolderLock(data,
            ["data", "synth", "--out", data, "--train", "500", "--test", "100", "--seed", "1"],
            ["data", "synth", "--out", data, "--train", "500", "--test", "100", "--seed", "2"]);

        Assert.Equal([Cifar10.FolderName], Directory.GetFileSystemEntries(data).Select(Path.GetFileName)); // no .synth-* temporary, no lock file
        using var set = Cifar10.Load(data); // the second writer's whole set, replacing the first's
        Assert.Equal((500, 100), (set.Train.Count, set.Test.Count));
        Assert.True(set.IsSynthetic);
        Assert.Matches(@"\(seed (1|2), 500 train and 100 test records\)", File.ReadAllText(Path.Combine(data, Cifar10.FolderName, Cifar10.SyntheticMarkerFileName)));
    }

    [Fact]
    public void ADownloadKilledMidTransfer_KeepsItsPartialFile_AndTheNextRunResumesIt()
    {
        byte[] archive = File.ReadAllBytes(RepoFiles.SampleArchive);
        string sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(archive));
        using var server = new LocalHttpServer();
        var gate = new TaskCompletionSource();
        server.Gated("cifar.tar.gz", archive, gate.Task, sent: 4 << 20);
        string data = _dir.Combine("data");
        string partial = Path.Combine(data, Cifar10.ArchiveFileName + ".partial");
        string[] download = ["data", "download", "--mirror", server.Url("cifar.tar.gz").ToString(), "--sha256", sha, "--data", data];
        try
        {
            using (var killed = new NvggChild(_dir.Path, download))
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                while (!(File.Exists(partial) && new FileInfo(partial).Length >= 1 << 20) && clock.Elapsed < TimeSpan.FromMinutes(1))
                    Thread.Sleep(10);
                killed.Kill(); // SIGKILL, mid-transfer
            }
            long kept = new FileInfo(partial).Length;
            Assert.InRange(kept, 1 << 20, 4 << 20);
            server.Serve("cifar.tar.gz", archive);

            var again = Nvgg.Run(_dir.Path, download);

            Assert.True(again.ExitCode == 0, again.Stderr);
            Assert.Equal($"bytes={kept}-", server.Ranges[^1]); // resumed where the killed run stopped: the kernel freed its lock
            Assert.Equal([Cifar10.FolderName, Cifar10.ArchiveFileName], Directory.GetFileSystemEntries(data).Select(Path.GetFileName).Order(StringComparer.Ordinal));
            Assert.Equal(archive, File.ReadAllBytes(Path.Combine(data, Cifar10.ArchiveFileName)));
        }
        finally
        {
            gate.TrySetResult();
        }
    }

    [Fact]
    public async Task DoctorFix_TwoAtOnceLeaveOneWholeCopy_AndAFolderThatCannotBeMade_FailsInOneLine()
    {
        // Debian 12's libstdc++ needs the fix (environment.md); a system that does not would write nothing, and this test fails saying so.
        string alone = _dir.Combine("alone"), together = _dir.Combine("together");
        using var readOnly = FaultyFolder.ReadOnly();
        string cannotMake = readOnly.Combine("native");
        Nvgg.Result Fix(string folder) => Nvgg.RunWith(_dir.Path, new Dictionary<string, string> { ["NOTEBOOKVGG_NATIVE"] = folder }, TimeSpan.FromMinutes(2), "doctor", "--fix");

        var reference = Fix(alone);
        var both = await Task.WhenAll(Task.Run(() => Fix(together)), Task.Run(() => Fix(together)));
        var failed = Fix(cannotMake);

        Assert.True(reference.ExitCode == 0, reference.Stderr);
        Assert.True(File.Exists(Path.Combine(alone, "libLibTorchSharp.so")), "nvgg doctor --fix wrote no patched copy: this system may not need it\n" + reference.Stdout);
        Assert.All(both, run => Assert.True(run.ExitCode == 0, run.Stderr));
        Assert.Equal(["libLibTorchSharp.so"], Directory.GetFileSystemEntries(together).Select(Path.GetFileName)); // no temporary left
        Assert.Equal(File.ReadAllBytes(Path.Combine(alone, "libLibTorchSharp.so")), File.ReadAllBytes(Path.Combine(together, "libLibTorchSharp.so")));
        Assert.Equal(1, failed.ExitCode);
        Assert.Equal($"nvgg: error: {Path.Combine(cannotMake, "libLibTorchSharp.so")}: cannot write the patched copy of libLibTorchSharp.so: " +
            $"{cannotMake} is on a read-only file system; set NOTEBOOKVGG_NATIVE (or XDG_CACHE_HOME) to a writable folder and run nvgg doctor --fix again",
            ErrorLine(failed.Stderr));
        Assert.Empty(readOnly.Entries());
    }

    /// <summary>nvgg in its own process, its output collected as it comes, to be waited for or killed (SIGKILL) mid-way.</summary>
    private sealed class NvggChild : IDisposable
    {
        private readonly System.Diagnostics.Process _process;
        private readonly System.Text.StringBuilder _stdout = new(), _stderr = new();

        public NvggChild(string workingDirectory, params string[] args)
        {
            var start = new System.Diagnostics.ProcessStartInfo("dotnet")
            {
                WorkingDirectory = workingDirectory,
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (string arg in (string[])[Nvgg.DllPath, .. args])
                start.ArgumentList.Add(arg);
            _process = System.Diagnostics.Process.Start(start)!;
            _process.OutputDataReceived += (_, e) => { lock (_stdout) _stdout.AppendLine(e.Data); };
            _process.ErrorDataReceived += (_, e) => { lock (_stderr) _stderr.AppendLine(e.Data); };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        private string Stderr
        {
            get { lock (_stderr) return _stderr.ToString(); }
        }

        public void WaitForStderr(string text)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (!Stderr.Contains(text, StringComparison.Ordinal))
            {
                if (_process.HasExited || clock.Elapsed > TimeSpan.FromMinutes(1))
                    throw new TimeoutException($"nvgg never printed '{text}' on stderr; it printed: {Stderr}");
                Thread.Sleep(20);
            }
        }

        public (int ExitCode, string Stdout, string Stderr) WaitForExit()
        {
            if (!_process.WaitForExit(TimeSpan.FromMinutes(2)))
                throw new TimeoutException($"nvgg did not finish within 2 minutes; stderr: {Stderr}");
            _process.WaitForExit(); // the output read to its end
            lock (_stdout)
                return (_process.ExitCode, _stdout.ToString(), Stderr);
        }

        public void Kill()
        {
            _process.Kill(); // SIGKILL, this process only
            _process.WaitForExit();
        }

        public void Dispose()
        {
            if (!_process.HasExited)
                Kill();
            _process.Dispose();
        }
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
