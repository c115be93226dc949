using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using NotebookVgg.Data;
using NotebookVgg.IO;

namespace NotebookVgg.Cli.Commands;

/// <summary>
/// A class-balanced sample of a CIFAR-10 folder, written as an archive in the official binary layout (shared/data's
/// README): cifar-10-batches-bin/ with data_batch_1.bin … data_batch_5.bin, test_batch.bin and batches.meta.txt; records
/// of 3,073 bytes. The same folder and options give the same bytes: the first records of each class in file order,
/// shuffled with a fixed generator, tar entries with fixed times and owners, gzip at a fixed level.
/// </summary>
internal static class CifarSample
{
    private const int RecordBytes = 1 + 3 * Cifar10.ImageSize * Cifar10.ImageSize;

    /// <summary>What <see cref="Write"/> wrote: the archive, its SHA-256, and the records per class in each split.</summary>
    public sealed record Result(string Archive, string Sha256, int TrainPerClass, int TestPerClass);

    /// <summary>
    /// Writes the sample of <paramref name="dataDir"/> (holding cifar-10-batches-bin/, not synthetic) to
    /// <paramref name="archive"/> (temporary name, then renamed). Train records per class must divide into the five batch files.
    /// </summary>
    public static Result Write(string dataDir, string archive, int trainPerClass, int testPerClass, int seed)
    {
        if (trainPerClass < 1 || trainPerClass * Cifar10.ClassCount % Cifar10.TrainFileNames.Count != 0)
            throw new ArgumentException($"--train-per-class {trainPerClass}: at least 1, and {Cifar10.ClassCount} times it must split into {Cifar10.TrainFileNames.Count} equal batch files");
        if (testPerClass < 1)
            throw new ArgumentException($"--test-per-class {testPerClass}: at least 1");
        string folder = Cifar10.ResolveFolder(dataDir);
        if (File.Exists(Path.Combine(folder, Cifar10.SyntheticMarkerFileName)))
            throw new InvalidDataException($"{folder}: holds synthetic data; a sample is made from CIFAR-10 (nvgg data download)");
        // Validates every file (sizes, labels, class names) before anything is written.
        using (Cifar10.Load(folder)) { }

        byte[][] train = Shuffle(Pick(Cifar10.TrainFileNames.Select(f => Path.Combine(folder, f)), trainPerClass, "train"), seed);
        byte[][] test = Shuffle(Pick([Path.Combine(folder, Cifar10.TestFileName)], testPerClass, "test"), seed + 1);
        int perBatch = train.Length / Cifar10.TrainFileNames.Count;

        string target = Path.GetFullPath(archive);
        string sha = "";
        // One write path for every output: a full disk or a read-only folder is one line, and no temporary file stays behind.
        AtomicFile.Write(target, "CIFAR-10 sample archive", stream =>
        {
            using (var gzip = new GZipStream(stream, CompressionLevel.SmallestSize, leaveOpen: true))
            using (var tar = new TarWriter(gzip, TarEntryFormat.Ustar, leaveOpen: true))
            {
                tar.WriteEntry(Entry(TarEntryType.Directory, Cifar10.FolderName + "/", null));
                tar.WriteEntry(Entry(TarEntryType.RegularFile, $"{Cifar10.FolderName}/{Cifar10.MetaFileName}",
                    File.ReadAllBytes(Path.Combine(folder, Cifar10.MetaFileName))));
                for (int b = 0; b < Cifar10.TrainFileNames.Count; b++)
                    tar.WriteEntry(Entry(TarEntryType.RegularFile, $"{Cifar10.FolderName}/{Cifar10.TrainFileNames[b]}",
                        Concat(train.AsSpan(b * perBatch, perBatch))));
                tar.WriteEntry(Entry(TarEntryType.RegularFile, $"{Cifar10.FolderName}/{Cifar10.TestFileName}", Concat(test)));
            }
            stream.Position = 0;
            sha = Convert.ToHexStringLower(SHA256.HashData(stream));
        });
        return new Result(target, sha, trainPerClass, testPerClass);
    }

    /// <summary>The first <paramref name="perClass"/> records of each class, in file order; fails naming the class that has fewer.</summary>
    private static List<byte[]> Pick(IEnumerable<string> files, int perClass, string split)
    {
        var picked = new List<byte[]>(perClass * Cifar10.ClassCount);
        var counts = new int[Cifar10.ClassCount];
        foreach (string file in files)
        {
            byte[] bytes = File.ReadAllBytes(file);
            for (int offset = 0; offset + RecordBytes <= bytes.Length; offset += RecordBytes)
            {
                int label = bytes[offset];
                if (counts[label] < perClass)
                {
                    counts[label]++;
                    picked.Add(bytes[offset..(offset + RecordBytes)]);
                }
            }
        }
        int short_ = Array.FindIndex(counts, c => c < perClass);
        if (short_ >= 0)
            throw new InvalidDataException($"the {split} split holds {counts[short_]} images of class {short_}, fewer than the {perClass} per class asked");
        return picked;
    }

    /// <summary>Fisher–Yates with SplitMix64: a fixed generator, so the order is the same on every .NET version and OS.</summary>
    private static byte[][] Shuffle(List<byte[]> records, int seed)
    {
        byte[][] items = [.. records];
        ulong state = (ulong)(uint)seed;
        for (int i = items.Length - 1; i > 0; i--)
        {
            state += 0x9E3779B97F4A7C15UL;
            ulong z = state;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            int j = (int)(z % (ulong)(i + 1));
            (items[i], items[j]) = (items[j], items[i]);
        }
        return items;
    }

    private static byte[] Concat(ReadOnlySpan<byte[]> records)
    {
        var all = new byte[records.Length * RecordBytes];
        for (int i = 0; i < records.Length; i++)
            records[i].CopyTo(all, i * RecordBytes);
        return all;
    }

    /// <summary>A tar entry with fixed owner, mode and time, so that the archive's bytes depend on its contents only.</summary>
    private static UstarTarEntry Entry(TarEntryType type, string name, byte[]? data)
    {
        var entry = new UstarTarEntry(type, name)
        {
            ModificationTime = DateTimeOffset.UnixEpoch,
            Mode = type == TarEntryType.Directory
                ? UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute
                : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
            Uid = 0,
            Gid = 0,
            UserName = "",
            GroupName = "",
        };
        if (data is not null)
            entry.DataStream = new MemoryStream(data, writable: false);
        return entry;
    }
}
