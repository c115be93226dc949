using Microsoft.Win32.SafeHandles;
using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Data;

/// <summary>
/// Reads the CIFAR-10 binary files: each record is 1 label byte, then 1,024 red, 1,024 green and 1,024 blue
/// bytes of a 32×32 image, row-major (3,073 bytes). Files are validated completely before any tensor is made.
/// </summary>
internal static class Cifar10Reader
{
    public const int ImageBytes = 3 * 32 * 32;
    public const int RecordBytes = 1 + ImageBytes;

    /// <summary>Reads the given batch files into one split; errors name the file (and record).</summary>
    public static Cifar10Split ReadSplit(string name, IReadOnlyList<string> paths)
    {
        var counts = new int[paths.Count];
        long total = 0;
        for (int f = 0; f < paths.Count; f++)
        {
            counts[f] = RecordCount(paths[f]);
            total += counts[f];
        }
        if (total * RecordBytes > int.MaxValue)
            throw new InvalidDataException($"split '{name}' holds {total:N0} records, more than one tensor span can address here");

        var labels = new byte[total];
        var fileOfRecord = new int[total];
        // One uint8 tensor receives the files' bytes as they are (each file read straight into its own
        // region, files in parallel); then labels are picked out and the pixel bytes moved down in place to
        // close the 1-byte gaps. One allocation and one kernel copy per byte: on this machine the first touch
        // of fresh memory dominates, so no intermediate buffer is used.
        var raw = torch.empty(total * RecordBytes, ScalarType.Byte);
        HugePages.Advise(raw);
        try
        {
            long[] starts = new long[paths.Count];
            for (int f = 1; f < paths.Count; f++)
                starts[f] = starts[f - 1] + counts[f - 1];
            var rawBytes = new RawMemory(raw);
            Parallel.For(0, paths.Count, f => ReadExactly(paths[f], rawBytes.Span.Slice((int)starts[f] * RecordBytes, counts[f] * RecordBytes)));

            Span<byte> bytes = raw.bytes;
            for (int f = 0; f < paths.Count; f++)
            {
                for (int r = 0; r < counts[f]; r++)
                {
                    long record = starts[f] + r;
                    byte label = bytes[(int)record * RecordBytes];
                    if (label >= Cifar10.ClassCount)
                        throw new InvalidDataException($"{paths[f]}: record {r} has label byte {label}; CIFAR-10 labels are 0–9");
                    labels[record] = label;
                    fileOfRecord[record] = f;
                }
            }
            for (int record = 0; record < total; record++) // forward order: each move lands at or below its source
                bytes.Slice(record * RecordBytes + 1, ImageBytes).CopyTo(bytes.Slice(record * ImageBytes, ImageBytes));

            using var scope = torch.NewDisposeScope();
            var images = raw.narrow(0, 0, total * ImageBytes).view(total, 3, 32, 32);
            return new Cifar10Split(name, images, labels, fileOfRecord, [.. paths.Select(Path.GetFileName).Select(n => n!)]);
        }
        finally
        {
            raw.Dispose(); // the view keeps the storage alive
        }
    }

    /// <summary>Hands a tensor's bytes to parallel readers (a Span cannot be captured by a lambda).</summary>
    private sealed class RawMemory(Tensor tensor)
    {
        public Span<byte> Span => tensor.bytes;
    }

    /// <summary>The number of records in a batch file, checking that it exists, is non-empty and holds whole records.</summary>
    public static int RecordCount(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
            throw new FileNotFoundException($"{path}: CIFAR-10 batch file is missing", path);
        if (info.Length == 0)
            throw new InvalidDataException($"{path}: empty file; a CIFAR-10 batch file holds records of {RecordBytes:N0} bytes");
        if (info.Length % RecordBytes != 0)
            throw new InvalidDataException(
                $"{path}: {info.Length:N0} bytes is not a whole number of {RecordBytes:N0}-byte CIFAR-10 records ({info.Length / RecordBytes:N0} records and {info.Length % RecordBytes:N0} bytes over)");
        if (info.Length / RecordBytes > int.MaxValue / RecordBytes)
            throw new InvalidDataException($"{path}: {info.Length:N0} bytes is too large for one CIFAR-10 batch file");
        return (int)(info.Length / RecordBytes);
    }

    private static void ReadExactly(string path, Span<byte> destination)
    {
        using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        int done = 0;
        while (done < destination.Length)
        {
            int read = RandomAccess.Read(handle, destination[done..], done);
            if (read == 0)
                throw new InvalidDataException($"{path}: file shrank while being read ({done:N0} of {destination.Length:N0} bytes)");
            done += read;
        }
        if (RandomAccess.GetLength(handle) != destination.Length)
            throw new InvalidDataException($"{path}: file changed size while being read");
    }

    /// <summary>Class names from batches.meta.txt: the first ten non-empty lines, in label order.</summary>
    public static string[] ReadClassNames(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: CIFAR-10 class-name file is missing", path);
        string[] names = [.. File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0)];
        if (names.Length != Cifar10.ClassCount)
            throw new InvalidDataException($"{path}: {names.Length} class names, expected {Cifar10.ClassCount} (one per line)");
        return names;
    }
}
