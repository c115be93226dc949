using System.Formats.Tar;
using System.IO.Compression;
using NotebookVgg.Data;
using NotebookVgg.Tests.TestSupport;

namespace NotebookVgg.Tests.Data;

/// <summary>Builds small CIFAR-10 folders and archives for the data tests.</summary>
internal static class DataTestFiles
{
    /// <summary>A small synthetic set in the official layout under <paramref name="dir"/>; returns its cifar-10-batches-bin folder.</summary>
    public static string SmallSet(string dir, int train = 50, int test = 20, int seed = 7)
    {
        SyntheticCifar.Write(dir, train, test, seed);
        return Path.Combine(dir, Cifar10.FolderName);
    }

    /// <summary>Packs <paramref name="folder"/> (with its own name as the top entry) into a .tar.gz file.</summary>
    public static void PackTarGz(string folder, string archive)
    {
        using var file = File.Create(archive);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        TarFile.CreateFromDirectory(folder, gzip, includeBaseDirectory: true);
    }

    /// <summary>A .tar.gz with the given entries, in order (for hostile archives).</summary>
    public static void WriteTarGz(string archive, params TarEntry[] entries)
    {
        using var file = File.Create(archive);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        using var writer = new TarWriter(gzip, TarEntryFormat.Pax);
        foreach (var entry in entries)
            writer.WriteEntry(entry);
    }

    /// <summary>Same shape, dtype and every element equal.</summary>
    public static bool Same(TorchSharp.torch.Tensor a, TorchSharp.torch.Tensor b)
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        return a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && a.eq(b).all().item<bool>();
    }

    public static PaxTarEntry FileEntry(string name, byte[] content) =>
        new(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content) };

    public static PaxTarEntry LinkEntry(TarEntryType type, string name, string target) => new(type, name) { LinkName = target };

    /// <summary>A valid CIFAR-10 archive's entries, for putting a hostile entry after them.</summary>
    public static TarEntry[] ValidEntries(TempDirectory scratch)
    {
        string folder = SmallSet(scratch.Combine("valid-source"));
        var entries = new List<TarEntry> { new PaxTarEntry(TarEntryType.Directory, Cifar10.FolderName + "/") };
        foreach (string file in Directory.GetFiles(folder).Order(StringComparer.Ordinal))
            entries.Add(FileEntry($"{Cifar10.FolderName}/{Path.GetFileName(file)}", File.ReadAllBytes(file)));
        return [.. entries];
    }
}
