using System.Buffers.Binary;
using System.Text.Json;
using NotebookVgg.IO;
using static TorchSharp.torch;

namespace NotebookVgg.Weights;

/// <summary>
/// Reads and writes safetensors files: 8-byte little-endian header length, a JSON header mapping each name to
/// <c>{dtype, shape, data_offsets}</c> (plus optional <c>__metadata__</c>), then raw little-endian data.
/// Hand-written: no maintained .NET safetensors package exists, and the format is a dozen lines of JSON and offsets.
/// </summary>
internal static class SafetensorsFile
{
    private static readonly Dictionary<string, ScalarType> DTypes = new()
    {
        ["F64"] = ScalarType.Float64, ["F32"] = ScalarType.Float32, ["F16"] = ScalarType.Float16, ["BF16"] = ScalarType.BFloat16,
        ["I64"] = ScalarType.Int64, ["I32"] = ScalarType.Int32, ["I16"] = ScalarType.Int16, ["I8"] = ScalarType.Int8,
        ["U8"] = ScalarType.Byte, ["BOOL"] = ScalarType.Bool,
    };

    private const long MaxHeader = 100_000_000;

    /// <summary>Reads every tensor of a safetensors file (in header order).</summary>
    public static StateDict Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] data = StateDict.ReadAll(path);
        if (data.Length < 8)
            throw new InvalidDataException($"{path}: truncated safetensors file ({data.Length} bytes)");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(data);
        if (headerLength > (ulong)(data.Length - 8) || headerLength > MaxHeader)
            throw new InvalidDataException($"{path}: truncated safetensors file (header of {headerLength:N0} bytes, file has {data.Length:N0})");
        int dataStart = 8 + (int)headerLength;
        long dataLength = data.Length - dataStart;
        JsonDocument header;
        try
        {
            header = JsonDocument.Parse(data.AsMemory(8, (int)headerLength));
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path}: corrupt safetensors header: {ex.Message}");
        }
        var entries = new List<KeyValuePair<string, Tensor>>();
        try
        {
            using (header)
            {
                if (header.RootElement.ValueKind != JsonValueKind.Object)
                    throw new InvalidDataException($"{path}: corrupt safetensors header (not a JSON object)");
                foreach (var prop in header.RootElement.EnumerateObject())
                {
                    if (prop.Name == "__metadata__")
                        continue;
                    var (dtype, shape, begin, end) = Describe(prop, path);
                    if (begin < 0 || end < begin || end > dataLength)
                        throw new InvalidDataException($"{path}: truncated or corrupt: '{prop.Name}' claims bytes {begin:N0}–{end:N0}, the data holds {dataLength:N0}");
                    if (end - begin != ByteSize(shape, dtype, prop.Name, path))
                        throw new InvalidDataException($"{path}: corrupt: '{prop.Name}' of shape {ScalarTypeSizes.Describe(shape)} has {end - begin:N0} bytes");
                    entries.Add(new(prop.Name, StateDict.FromBytes(data.AsSpan(dataStart + (int)begin, (int)(end - begin)), dtype, shape)));
                }
            }
            return new StateDict(path, WeightsFormat.Safetensors, entries);
        }
        catch (Exception ex) when (ex is OverflowException or InvalidOperationException or FormatException)
        {
            foreach (var e in entries)
                e.Value.Dispose();
            throw new InvalidDataException($"{path}: corrupt safetensors header: {ex.Message}", ex);
        }
        catch
        {
            foreach (var e in entries)
                e.Value.Dispose();
            throw;
        }
    }

    /// <summary>The bytes a tensor's shape needs; a shape whose size overflows (it cannot fit in memory) names the tensor.</summary>
    private static long ByteSize(long[] shape, ScalarType dtype, string name, string path)
    {
        try
        {
            return checked(shape.Aggregate(1L, (a, b) => checked(a * b)) * dtype.ElementSize()); // checked: no wrap to a small size
        }
        catch (OverflowException)
        {
            throw new InvalidDataException(
                $"{path}: corrupt: '{name}' of shape {ScalarTypeSizes.Describe(shape)} would need more than 2^63 bytes");
        }
    }

    private static (ScalarType, long[], long, long) Describe(JsonProperty prop, string path)
    {
        var v = prop.Value;
        if (v.ValueKind != JsonValueKind.Object
            || !v.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String
            || !v.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array
            || !v.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw new InvalidDataException($"{path}: corrupt safetensors header entry '{prop.Name}'");
        if (!DTypes.TryGetValue(dt.GetString()!, out var dtype))
            throw new InvalidDataException($"{path}: '{prop.Name}' has unsupported dtype {dt.GetString()}");
        if (sh.EnumerateArray().Concat(off.EnumerateArray()).Any(d => d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out _)))
            throw new InvalidDataException($"{path}: '{prop.Name}' has a shape or data_offsets that is no whole number up to 2^63");
        var shape = sh.EnumerateArray().Select(d => d.GetInt64()).ToArray();
        if (shape.Any(d => d < 0) || shape.Length > 16)
            throw new InvalidDataException($"{path}: '{prop.Name}' has a bad shape");
        return (dtype, shape, off[0].GetInt64(), off[1].GetInt64());
    }

    /// <summary>
    /// Writes tensors (moved to CPU, made contiguous) as a safetensors file, atomically (<see cref="AtomicFile"/>): the file's exact
    /// size is checked against the free space first, and any failure is a one-line <see cref="WriteFailedException"/> naming
    /// <paramref name="what"/> the file is.
    /// </summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null,
        string what = "safetensors file")
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        var header = new Dictionary<string, object>();
        long offset = 0;
        foreach (var (name, t) in list)
        {
            string dtype = DTypes.FirstOrDefault(kv => kv.Value == t.dtype).Key
                ?? throw new ArgumentException($"tensor '{name}': dtype {t.dtype} cannot be written to safetensors");
            long bytes = t.numel() * t.dtype.ElementSize();
            header[name] = new { dtype, shape = t.shape, data_offsets = new[] { offset, offset + bytes } };
            offset += bytes;
        }
        if (metadata is { Count: > 0 })
            header["__metadata__"] = metadata;
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(header);
        int padded = (json.Length + 7) / 8 * 8;
        AtomicFile.Write(path, what, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)padded);
            stream.Write(length);
            stream.Write(json);
            for (int i = json.Length; i < padded; i++)
                stream.WriteByte((byte)' ');
            foreach (var (_, t) in list)
            {
                using var cpu = t.detach().cpu().contiguous();
                stream.Write(cpu.bytes);
            }
        }, expectedBytes: 8 + padded + offset);
    }

    /// <summary>Writes one tensor under <paramref name="name"/>.</summary>
    public static void Write(string path, string name, Tensor tensor) => Write(path, [new(name, tensor)]);
}
