using System.Formats.Tar;
using NotebookVgg.Data;
using NotebookVgg.Tests.TestSupport;

namespace NotebookVgg.Tests.Data;

public sealed class SafeTarExtractionTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string, string> HostileEntries => new()
    {
        { "absolute", "entry '/tmp/nvgg-evil.txt' has an absolute path" },
        { "climb", "entry '../evil.txt' climbs out" },
        { "climb-inside-name", "entry 'cifar-10-batches-bin/../../evil.txt' climbs out" },
        { "symlink-absolute", "link 'cifar-10-batches-bin/etc' points outside the target folder (to the absolute path '/etc')" },
        { "symlink-climb", "link 'cifar-10-batches-bin/up' points to '../..'" },
        { "hardlink-climb", "link 'cifar-10-batches-bin/hard' points to '../outside.bin'" },
        { "fifo", "entry 'cifar-10-batches-bin/pipe' is a Fifo" },
        { "char-device", "entry 'cifar-10-batches-bin/null' is a CharacterDevice" },
    };

    private static TarEntry Hostile(string kind) => kind switch
    {
        "absolute" => DataTestFiles.FileEntry("/tmp/nvgg-evil.txt", [1, 2, 3]),
        "climb" => DataTestFiles.FileEntry("../evil.txt", [1, 2, 3]),
        "climb-inside-name" => DataTestFiles.FileEntry("cifar-10-batches-bin/../../evil.txt", [1, 2, 3]),
        "symlink-absolute" => DataTestFiles.LinkEntry(TarEntryType.SymbolicLink, "cifar-10-batches-bin/etc", "/etc"),
        "symlink-climb" => DataTestFiles.LinkEntry(TarEntryType.SymbolicLink, "cifar-10-batches-bin/up", "../.."),
        "hardlink-climb" => DataTestFiles.LinkEntry(TarEntryType.HardLink, "cifar-10-batches-bin/hard", "../outside.bin"),
        "fifo" => new PaxTarEntry(TarEntryType.Fifo, "cifar-10-batches-bin/pipe"),
        "char-device" => new PaxTarEntry(TarEntryType.CharacterDevice, "cifar-10-batches-bin/null"),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    [Theory]
    [MemberData(nameof(HostileEntries))]
    public async Task HostileEntryAfterValidOnes_IsRejectedBeforeAnythingIsWritten(string kind, string expected)
    {
        string archive = _dir.Combine("hostile.tar.gz");
        DataTestFiles.WriteTarGz(archive, [.. DataTestFiles.ValidEntries(_dir), Hostile(kind)]);
        string data = _dir.Combine("data", "inner");
        Directory.CreateDirectory(data);
        var before = _dir.Files();

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => Cifar10.ExtractAsync(archive, data));

        Assert.Contains(archive, ex.Message, StringComparison.Ordinal);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.Equal(before, _dir.Files());                       // not one file written anywhere below the scratch folder
        Assert.Empty(Directory.GetFileSystemEntries(data));       // no temporary folder left either
        Assert.False(File.Exists("/tmp/nvgg-evil.txt"));
    }

    [Fact]
    public async Task LinkPointingDownInsideTheArchive_IsExtracted()
    {
        string archive = _dir.Combine("links.tar.gz");
        DataTestFiles.WriteTarGz(archive,
        [
            .. DataTestFiles.ValidEntries(_dir),
            DataTestFiles.LinkEntry(TarEntryType.SymbolicLink, "cifar-10-batches-bin/first.bin", "data_batch_1.bin"),
        ]);
        string data = _dir.Combine("data");
        await Cifar10.ExtractAsync(archive, data);
        string link = Path.Combine(data, Cifar10.FolderName, "first.bin");
        Assert.Equal("data_batch_1.bin", new FileInfo(link).LinkTarget);
        Assert.Equal(File.ReadAllBytes(Path.Combine(data, Cifar10.FolderName, "data_batch_1.bin")), File.ReadAllBytes(link));
    }

    [Fact]
    public async Task NotAGzipFile_IsAnErrorNamingIt()
    {
        string archive = _dir.Combine("plain.tar.gz");
        File.WriteAllBytes(archive, "this is not gzip"u8.ToArray());
        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => Cifar10.ExtractAsync(archive, _dir.Combine("data")));
        Assert.Contains(archive, ex.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_dir.Combine("data"), Cifar10.FolderName)));
    }

    [Fact]
    public async Task OneFlippedBit_IsCaughtByGzipsChecksum_AndLeavesNoDataFolder()
    {
        // Issue 13: a bit flipped inside the compressed data used to extract with exit 0 (changed bytes, or fewer files).
        byte[] bytes = File.ReadAllBytes(RepoFiles.SampleArchive);
        bytes[bytes.Length / 4 + 333] ^= 1;
        string flipped = _dir.Combine("flipped.tar.gz");
        File.WriteAllBytes(flipped, bytes);
        string data = _dir.Combine("data");

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => Cifar10.ExtractAsync(flipped, data));

        Assert.StartsWith(flipped + ": ", ex.Message, StringComparison.Ordinal);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(ex.Message, System.Text.RegularExpressions.Regex.Escape(flipped))); // named once
        Assert.False(Directory.Exists(data), "a failed extraction leaves no (empty) data folder");
    }

    [Fact]
    public async Task AnArchiveUnderTheOfficialName_ThatFailsTheOfficialMd5_IsRefused_AndOthersAreLabelledUnverified()
    {
        string folder = DataTestFiles.SmallSet(_dir.Combine("src"));
        string official = _dir.Combine(Cifar10.ArchiveFileName);
        DataTestFiles.PackTarGz(folder, official);
        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => Cifar10.ExtractAsync(official, _dir.Combine("a")));
        Assert.Contains("is not the official archive's", ex.Message, StringComparison.Ordinal);

        string other = _dir.Combine("my-copy.tar.gz");
        File.Copy(official, other);
        string data = await Cifar10.ExtractAsync(other, _dir.Combine("b"));
        string label = File.ReadAllText(Path.Combine(data, Cifar10.FolderName, Cifar10.SourceMarkerFileName)).Trim();
        Assert.Equal("CIFAR-10-format data from my-copy.tar.gz (unverified)", label);
    }

    [Fact]
    public async Task TruncatedArchive_IsAnErrorNamingIt_AndLeavesNothing()
    {
        string folder = DataTestFiles.SmallSet(_dir.Combine("src"));
        string archive = _dir.Combine("whole.tar.gz");
        DataTestFiles.PackTarGz(folder, archive);
        byte[] bytes = File.ReadAllBytes(archive);
        string cut = _dir.Combine("cut.tar.gz");
        File.WriteAllBytes(cut, bytes.AsSpan(0, bytes.Length / 2).ToArray());
        string data = _dir.Combine("data");

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => Cifar10.ExtractAsync(cut, data));

        Assert.Contains(cut, ex.Message, StringComparison.Ordinal);
        Assert.True(!Directory.Exists(data) || Directory.GetFileSystemEntries(data).Length == 0);
    }

    [Fact]
    public async Task ArchiveWithoutCifarFolder_IsRejected_AndLeavesNothing()
    {
        string archive = _dir.Combine("other.tar.gz");
        DataTestFiles.WriteTarGz(archive, DataTestFiles.FileEntry("readme.txt", "hello"u8.ToArray()));
        string data = _dir.Combine("data");
        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => Cifar10.ExtractAsync(archive, data));
        Assert.Contains("cifar-10-batches-bin", ex.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(data), "a failed extraction leaves no (empty) data folder");
    }

    [Fact]
    public async Task ExistingFolder_IsNeverOverwritten()
    {
        string folder = DataTestFiles.SmallSet(_dir.Combine("src"));
        string archive = _dir.Combine("a.tar.gz");
        DataTestFiles.PackTarGz(folder, archive);
        var ex = await Assert.ThrowsAsync<IOException>(() => Cifar10.ExtractAsync(archive, _dir.Combine("src")));
        Assert.Contains("already exists", ex.Message, StringComparison.Ordinal);
    }
}
