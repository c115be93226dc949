using System.Text;
using static TorchSharp.torch;

namespace NotebookVgg.Weights;

/// <summary>
/// TorchSharp's <c>Module.save</c> layout: LEB128 entry count; per entry LEB128 name length, UTF-8 name, LEB128 dtype code,
/// LEB128 rank, LEB128 dimensions, raw little-endian data. Parsed here with bounds checks (TorchSharp's own
/// <c>Module.load</c> needs a model of the right shape first and gives no per-key report).
/// </summary>
internal static class TorchSharpFormat
{
    private static readonly HashSet<ScalarType> Known =
    [
        ScalarType.Byte, ScalarType.Int8, ScalarType.Int16, ScalarType.Int32, ScalarType.Int64,
        ScalarType.Float16, ScalarType.Float32, ScalarType.Float64, ScalarType.Bool, ScalarType.BFloat16,
    ];

    /// <summary>True if the whole file parses as this format (it has no signature to check instead).</summary>
    public static bool Looks(string path)
    {
        try
        {
            Parse(StateDict.ReadAll(path), path);
            return true;
        }
        catch (InvalidDataException)
        {
            return false;
        }
    }

    public static List<(string Name, ScalarType DType, long[] Shape, int Offset, int Length)> Parse(byte[] data, string path)
    {
        int pos = 0;
        long count = Leb128(data, ref pos, path);
        if (count > data.Length)
            throw new InvalidDataException($"{path}: not TorchSharp format (entry count {count})");
        var result = new List<(string, ScalarType, long[], int, int)>();
        for (long i = 0; i < count; i++)
        {
            long nameLength = Leb128(data, ref pos, path);
            if (nameLength <= 0 || nameLength > 4096 || nameLength > data.Length - pos)
                throw new InvalidDataException($"{path}: truncated or corrupt TorchSharp file (entry {i}: name length {nameLength})");
            string name;
            try
            {
                name = new UTF8Encoding(false, true).GetString(data, pos, (int)nameLength);
            }
            catch (DecoderFallbackException)
            {
                throw new InvalidDataException($"{path}: corrupt TorchSharp file (entry {i}: name is not UTF-8)");
            }
            pos += (int)nameLength;
            var dtype = (ScalarType)Leb128(data, ref pos, path);
            if (!Known.Contains(dtype))
                throw new InvalidDataException($"{path}: corrupt TorchSharp file ('{name}': unknown dtype code {(long)dtype})");
            long rank = Leb128(data, ref pos, path);
            if (rank > 16)
                throw new InvalidDataException($"{path}: corrupt TorchSharp file ('{name}': rank {rank})");
            var shape = new long[rank];
            long numel = 1;
            for (int d = 0; d < rank; d++)
            {
                shape[d] = Leb128(data, ref pos, path);
                numel = shape[d] == 0 || numel == 0 ? 0 : (numel > data.Length / shape[d] ? long.MaxValue : numel * shape[d]);
            }
            long bytes = numel == long.MaxValue ? long.MaxValue : numel * dtype.ElementSize();
            if (bytes > data.Length - pos)
                throw new InvalidDataException($"{path}: truncated TorchSharp file ('{name}' needs {bytes:N0} bytes at byte {pos:N0}, {data.Length - pos:N0} left)");
            result.Add((name, dtype, shape, pos, (int)bytes));
            pos += (int)bytes;
        }
        if (pos != data.Length)
            throw new InvalidDataException($"{path}: not TorchSharp format ({data.Length - pos:N0} bytes after the last entry)");
        return result;
    }

    private static long Leb128(byte[] data, ref int pos, string path)
    {
        long value = 0;
        for (int shift = 0; shift < 63; shift += 7)
        {
            if (pos >= data.Length)
                throw new InvalidDataException($"{path}: truncated TorchSharp file (at byte {pos:N0})");
            byte b = data[pos++];
            value |= (long)(b & 0x7f) << shift;
            if ((b & 0x80) == 0)
                return value;
        }
        throw new InvalidDataException($"{path}: corrupt TorchSharp file (overlong number at byte {pos:N0})");
    }
}
