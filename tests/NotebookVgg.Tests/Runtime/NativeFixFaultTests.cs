using NotebookVgg.IO;
using NotebookVgg.Runtime;
using NotebookVgg.Tests.TestSupport;

namespace NotebookVgg.Tests.Runtime;

/// <summary>
/// Issue 27: the native-runtime fix's patched copy (<c>nvgg doctor --fix</c>) on a full disk or in a read-only cache folder:
/// one line saying where else to put it, nothing half-written.
/// </summary>
public sealed class NativeFixFaultTests
{
    private static string PackageCopy => NativeFiles.LibTorchSharpCandidates().FirstOrDefault()
        ?? throw new FileNotFoundException("no libLibTorchSharp.so of the TorchSharp package found: build the solution first");

    [Fact]
    public void ThePatchedCopy_OnAFullDisk_OrInAReadOnlyFolder_FailsInOneLineSayingWhereElseToPutIt()
    {
        using var disk = FaultyFolder.FullDisk(256 * 1024);
        using var folder = FaultyFolder.ReadOnly();
        const string Advice = "set NOTEBOOKVGG_NATIVE to a writable folder";

        var full = Assert.Throws<WriteFailedException>(() =>
            ElfVersionNeeds.WriteWeakCopy(PackageCopy, disk.Combine("libLibTorchSharp.so"), NativeRuntime.MarkerVersion, Advice));
        var readOnly = Assert.Throws<WriteFailedException>(() =>
            ElfVersionNeeds.WriteWeakCopy(PackageCopy, folder.Combine("libLibTorchSharp.so"), NativeRuntime.MarkerVersion, Advice));

        Assert.Equal(WriteProblem.DiskFull, full.Problem);
        Assert.Contains($"cannot write the patched copy of libLibTorchSharp.so: the disk is full: {WriteFailure.Bytes(new FileInfo(PackageCopy).Length)} needed", full.Message, StringComparison.Ordinal);
        Assert.EndsWith(Advice, full.Message, StringComparison.Ordinal);
        Assert.Equal(WriteProblem.ReadOnly, readOnly.Problem);
        Assert.EndsWith(Advice, readOnly.Message, StringComparison.Ordinal);
        Assert.Empty(disk.Entries());
        Assert.Empty(folder.Entries());
    }
}
