using NotebookVgg.IO;
using NotebookVgg.Tests.TestSupport;

namespace NotebookVgg.Tests.IO;

/// <summary>
/// Issue 27: the one write path every output and cache uses (<see cref="AtomicFile"/>) and the lock two writers meet at
/// (<see cref="FileLock"/>), under real faults: a full tmpfs, a read-only bind mount, a writer killed with SIGKILL, two writers at once.
/// </summary>
public sealed class WriteFaultTests
{
    private static void AssertOneLine(string message, string path)
    {
        Assert.DoesNotContain('\n', message);
        Assert.StartsWith(path + ": ", message, StringComparison.Ordinal);
        Assert.DoesNotContain(".partial", message, StringComparison.Ordinal);
    }

    [Fact]
    public void AFullDiskMidWrite_KeepsThePreviousFile_LeavesNoTemporary_AndSaysWhatWasNeeded()
    {
        using var disk = FaultyFolder.FullDisk(256 * 1024);
        string path = disk.Combine("out.bin");
        AtomicFile.WriteAllBytes(path, new byte[100_000]);

        // No size given: the disk fills while writing (ENOSPC from the kernel).
        var ex = Assert.Throws<WriteFailedException>(() => AtomicFile.Write(path, "test file", s => s.Write(new byte[300_000])));

        Assert.Equal(WriteProblem.DiskFull, ex.Problem);
        AssertOneLine(ex.Message, path);
        Assert.Contains("cannot write the test file: the disk is full: more than ", ex.Message, StringComparison.Ordinal);
        Assert.Contains("kB free", ex.Message, StringComparison.Ordinal);
        Assert.Equal(["out.bin"], disk.Entries());
        Assert.Equal(100_000, new FileInfo(path).Length);
    }

    [Fact]
    public void AFileTooBigForTheDisk_IsRefusedBeforeAnyByteIsWritten_NamingBothSizes()
    {
        using var disk = FaultyFolder.FullDisk(256 * 1024);
        string path = disk.Combine("out.bin");
        long free = disk.FreeBytes;

        var ex = Assert.Throws<WriteFailedException>(() => AtomicFile.WriteAllBytes(path, new byte[300_000], what: "report"));

        Assert.Equal(WriteProblem.DiskFull, ex.Problem);
        Assert.Equal($"{path}: cannot write the report: the disk is full: 300.0 kB needed, {WriteFailure.Bytes(free)} free; " +
            "free space there or choose a folder on another disk; nothing was changed", ex.Message);
        Assert.Equal((300_000L, free), (ex.BytesNeeded!.Value, ex.BytesFree!.Value));
        Assert.Empty(disk.Entries());
        Assert.Equal(free, disk.FreeBytes);
    }

    [Fact]
    public void AReadOnlyFolder_IsNamedInOneLine_AndItsFileIsUntouched()
    {
        using var folder = FaultyFolder.ReadOnly(source => File.WriteAllText(Path.Combine(source, "out.txt"), "old"));
        string path = folder.Combine("out.txt");

        var ex = Assert.Throws<WriteFailedException>(() => AtomicFile.WriteAllText(path, "new", "report"));
        var nested = Assert.Throws<WriteFailedException>(() => AtomicFile.WriteAllText(folder.Combine("sub", "out.txt"), "new"));

        Assert.Equal(WriteProblem.ReadOnly, ex.Problem);
        Assert.Equal($"{path}: cannot write the report: {folder.Path} is on a read-only file system; choose a writable folder; nothing was changed", ex.Message);
        Assert.Equal(WriteProblem.ReadOnly, nested.Problem);
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Equal(["out.txt"], folder.Entries());
    }

    [Fact]
    public void OutputCheck_FailsAtOnce_ForAReadOnlyFolder_AndForTooLittleSpace_AndCreatesAMissingFolder()
    {
        using var folder = FaultyFolder.ReadOnly();
        using var disk = FaultyFolder.FullDisk(64 * 1024);
        using var temp = new TempDirectory();

        var readOnly = Assert.Throws<WriteFailedException>(() => OutputCheck.EnsureCanWrite(folder.Combine("x.ckpt"), "checkpoint"));
        var full = Assert.Throws<WriteFailedException>(() => OutputCheck.EnsureCanWrite(disk.Combine("x.ckpt"), "checkpoint", 1_000_000));
        OutputCheck.EnsureCanWrite(temp.Combine("new", "x.ckpt"), "checkpoint", 1000);

        Assert.Equal(WriteProblem.ReadOnly, readOnly.Problem);
        Assert.Equal(WriteProblem.DiskFull, full.Problem);
        Assert.Contains("cannot write the checkpoint: the disk is full: 1.0 MB needed, ", full.Message, StringComparison.Ordinal);
        Assert.True(Directory.Exists(temp.Combine("new")));
        Assert.Empty(disk.Entries());
        Assert.Empty(temp.Files()); // the probe file is gone
    }

    [Fact]
    public void AWriterKilledMidWrite_LeavesThePreviousFileWhole_AndTheNextWriteRemovesItsTemporary()
    {
        using var dir = new TempDirectory();
        string path = dir.Combine("out.bin");
        AtomicFile.WriteAllText(path, "previous");
        using var writer = ChildProcess.Start("hold-write", path, "1000000");
        writer.WaitFor("WRITING");
        string partial = Assert.Single(Directory.GetFiles(dir.Path, "out.bin.*.partial"));
        Thread.Sleep(1100); // older than the grace period: only the writer's lock protects its temporary file now
        Assert.Equal(0, AtomicFile.RemoveStaleTemporaries(path)); // a live writer's file is left alone

        writer.KillHard();

        Assert.Equal("previous", File.ReadAllText(path));
        Assert.True(File.Exists(partial)); // a killed process cannot clean up after itself…
        AtomicFile.WriteAllText(path, "next");
        Assert.Equal(["out.bin"], dir.Files()); // …the next write of the same file does
        Assert.Equal("next", File.ReadAllText(path));
    }

    [Fact]
    public void TwoProcessesWritingTheSameFile_NeverMixTheirBytes_AndLeaveNoTemporary()
    {
        using var dir = new TempDirectory();
        string path = dir.Combine("shared.bin");
        using var one = ChildProcess.Start("write", path, "2000000", "1", "25");
        using var two = ChildProcess.Start("write", path, "2000000", "2", "25");

        Assert.Equal(0, one.WaitForExit().ExitCode);
        Assert.Equal(0, two.WaitForExit().ExitCode);

        byte[] bytes = File.ReadAllBytes(path);
        Assert.Equal(2_000_000, bytes.Length);
        Assert.True(bytes.All(b => b == bytes[0]) && bytes[0] is 1 or 2, "the file mixes the two writers' bytes");
        Assert.Equal(["shared.bin"], dir.Files());
    }

    [Fact]
    public void ALockHeldByAnotherProcess_IsRefusedNamingIt_AndIsFreedWhenThatProcessIsKilled()
    {
        using var dir = new TempDirectory();
        string lockPath = dir.Combine("x.ckpt.lock");
        using var holder = ChildProcess.Start("hold-lock", lockPath);
        holder.WaitFor("LOCKED");

        Assert.Null(FileLock.TryAcquire(lockPath, "test"));
        Assert.StartsWith($"pid {holder.Id} (", FileLock.Holder(lockPath), StringComparison.Ordinal);
        holder.KillHard();

        using (var mine = FileLock.TryAcquire(lockPath, "test"))
        {
            Assert.NotNull(mine);
            Assert.Null(FileLock.TryAcquire(lockPath, "test")); // held once in this process too
        }
        Assert.Empty(dir.Files()); // the last holder removes the lock file
    }
}
