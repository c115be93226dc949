using NotebookVgg.Data;
using NotebookVgg.IO;
using NotebookVgg.Tests.TestSupport;

namespace NotebookVgg.Tests.Data;

/// <summary>
/// Issue 27: extraction and synthetic data under real faults. Too little space fails before anything is written (the archive's
/// entries say how much is needed), a read-only folder in one line, and nothing is left behind: no temporary folder, no lock file,
/// no data folder that was not there before. A read-only folder that already holds the data is fine. Two writers take turns.
/// </summary>
public sealed class DataWriteFaultTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly string _archive;

    public DataWriteFaultTests()
    {
        DataTestFiles.PackTarGz(DataTestFiles.SmallSet(_dir.Combine("src"), train: 50, test: 20), _archive = _dir.Combine("small.tar.gz"));
    }

    public void Dispose() => _dir.Dispose();

    private static long ExtractedBytes => 70L * Cifar10Reader.RecordBytes; // 50 train + 20 test records, and small text files

    [Fact]
    public async Task ExtractingOntoAFullDisk_IsRefusedBeforeWriting_NamingBothSizes_AndLeavesNothing()
    {
        using var disk = FaultyFolder.FullDisk(128 * 1024);

        var ex = await Assert.ThrowsAsync<WriteFailedException>(() => Cifar10.ExtractAsync(_archive, disk.Combine("data")));

        Assert.Equal(WriteProblem.DiskFull, ex.Problem);
        Assert.DoesNotContain('\n', ex.Message);
        Assert.StartsWith($"{disk.Combine("data", Cifar10.FolderName)}: cannot write the extracted archive: the disk is full: ", ex.Message, StringComparison.Ordinal);
        Assert.InRange(ex.BytesNeeded!.Value, ExtractedBytes, ExtractedBytes + 4096);
        Assert.Empty(disk.Entries());
    }

    [Fact]
    public async Task ADiskThatFillsMidExtraction_LeavesNoTemporaryFolder_AndSaysSoInOneLine_NamingTheDataFolder()
    {
        // 200 one-byte files add up to 200 bytes, which the size check lets through, but each takes a 4 kB page on tmpfs: the
        // 64 kB disk fills after a few of them, as a real disk fills when another writer takes its space mid-way.
        string src = _dir.Combine("many", Cifar10.FolderName);
        Directory.CreateDirectory(src);
        File.Copy(Path.Combine(DataTestFiles.SmallSet(_dir.Combine("meta"), train: 5, test: 1), Cifar10.MetaFileName), Path.Combine(src, Cifar10.MetaFileName));
        for (int i = 0; i < 200; i++)
            File.WriteAllBytes(Path.Combine(src, $"part-{i:D3}"), [(byte)i]);
        string archive = _dir.Combine("many.tar.gz");
        DataTestFiles.PackTarGz(src, archive);
        using var disk = FaultyFolder.FullDisk(64 * 1024);
        string data = disk.Combine("data");

        var ex = await Assert.ThrowsAsync<WriteFailedException>(() => Cifar10.ExtractAsync(archive, data));

        Assert.Equal(WriteProblem.DiskFull, ex.Problem);
        Assert.DoesNotContain('\n', ex.Message);
        string target = Path.Combine(data, Cifar10.FolderName);
        Assert.Equal(target, ex.Path); // the folder the user asked for, not the temporary one
        Assert.StartsWith($"{target}: cannot write the extracted archive: the disk is full: ", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith("; nothing was left behind", ex.Message, StringComparison.Ordinal);
        Assert.Empty(disk.Entries()); // no .extract-* folder, no lock file, no data folder it created
    }

    [Fact]
    public async Task ExtractingIntoAReadOnlyFolder_SaysSo_AndAReadOnlyFolderWithTheData_IsFine()
    {
        using var empty = FaultyFolder.ReadOnly();
        using var withData = FaultyFolder.ReadOnly(source => DataTestFiles.SmallSet(source, train: 50, test: 20));

        var ex = await Assert.ThrowsAsync<WriteFailedException>(() => Cifar10.ExtractAsync(_archive, empty.Path));
        using var data = Cifar10.Load(withData.Path);

        Assert.Equal(WriteProblem.ReadOnly, ex.Problem);
        Assert.Equal($"{empty.Combine(Cifar10.FolderName)}: cannot write the data folder: {empty.Path} is on a read-only file system; " +
            "choose a writable data folder; nothing was changed", ex.Message);
        Assert.Equal(50, data.Train.Count);
        Assert.Equal(withData.Path, await NotebookVgg.Transfer.RunInputs.DataAsync(withData.Path, NotebookVgg.Transfer.MissingData.Download)); // present: nothing written
    }

    [Fact]
    public async Task TwoExtractionsIntoOneFolder_TakeTurns_TheSecondFindsTheData_AndNothingIsLeftBehind()
    {
        string root = _dir.Combine("data");
        var log = new List<string>();
        using (var held = Cifar10Archive.BeginWriting(root, Path.Combine(root, Cifar10.FolderName), null, CancellationToken.None))
        {
            var waiting = Cifar10.ExtractAsync(_archive, root, log: log.Add);
            // It says it waits once it reaches the lock, after hashing the archive: a fixed 700 ms was too short on a busy machine.
            for (var clock = System.Diagnostics.Stopwatch.StartNew(); log.Count == 0 && !waiting.IsCompleted && clock.Elapsed < TimeSpan.FromSeconds(30);)
                await Task.Delay(20);
            Assert.False(waiting.IsCompleted); // it waits for the writer holding the folder
            Assert.StartsWith($"{Path.Combine(root, Cifar10.FolderName)}: waiting for another process (pid {Environment.ProcessId} (", Assert.Single(log), StringComparison.Ordinal);
            Directory.CreateDirectory(Path.Combine(root, ".extract-left-by-a-killed-run", Cifar10.FolderName));
            DataTestFiles.SmallSet(_dir.Combine("other"), train: 50, test: 20);
            Directory.Move(_dir.Combine("other", Cifar10.FolderName), Path.Combine(root, Cifar10.FolderName)); // what the holder wrote
            held.Dispose();
            var ex = await Assert.ThrowsAsync<IOException>(() => waiting);
            Assert.Contains("already exists (another process wrote it meanwhile)", ex.Message, StringComparison.Ordinal);
        }
        Assert.Equal([Cifar10.FolderName], Directory.GetFileSystemEntries(root).Select(Path.GetFileName));
    }

    [Fact]
    public async Task TwoExtractionsOfOneArchive_TheSecondWaits_ThenUsesTheFirstsData()
    {
        string root = _dir.Combine("data");
        var log = new List<string>();
        Task<string> waiting;
        using (var held = Cifar10Archive.BeginWriting(root, Path.Combine(root, Cifar10.FolderName), null, CancellationToken.None))
        {
            waiting = Cifar10.ExtractAsync(_archive, root, log: log.Add);
            await Task.Delay(700);
            Assert.False(waiting.IsCompleted);
            // What the holder writes: the same archive, extracted (here into another folder, then moved into place).
            string first = _dir.Combine("first");
            await Cifar10.ExtractAsync(_archive, first);
            Directory.Move(Path.Combine(first, Cifar10.FolderName), Path.Combine(root, Cifar10.FolderName));
        }

        Assert.Equal(root, await waiting);
        Assert.EndsWith("meanwhile; using it", log[^1], StringComparison.Ordinal);
        Assert.Equal([Cifar10.FolderName], Directory.GetFileSystemEntries(root).Select(Path.GetFileName));
        using var data = Cifar10.Load(root);
        Assert.True(data.Train.Count > 0);
    }

    [Fact]
    public void SyntheticData_OnAFullDisk_OrInAReadOnlyFolder_IsRefusedBeforeWriting_AndLeavesNothing()
    {
        using var disk = FaultyFolder.FullDisk(64 * 1024);
        using var readOnly = FaultyFolder.ReadOnly();

        var full = Assert.Throws<WriteFailedException>(() => SyntheticCifar.Write(disk.Path, 5000, 1000, seed: 0));
        var locked = Assert.Throws<WriteFailedException>(() => SyntheticCifar.Write(readOnly.Path, 50, 20, seed: 0));

        Assert.Equal(WriteProblem.DiskFull, full.Problem);
        Assert.Contains($"cannot write the synthetic data: the disk is full: {WriteFailure.Bytes(6000L * Cifar10Reader.RecordBytes)} needed", full.Message, StringComparison.Ordinal);
        Assert.Equal(WriteProblem.ReadOnly, locked.Problem);
        Assert.Empty(disk.Entries());
        Assert.Empty(readOnly.Entries());
    }
}
