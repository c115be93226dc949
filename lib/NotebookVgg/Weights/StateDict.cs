using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using static TorchSharp.torch;

namespace NotebookVgg.Weights;

/// <summary>The kinds of weight file <see cref="StateDict.Read"/> recognizes, from the file's bytes.</summary>
public enum WeightsFormat
{
    /// <summary>PyTorch's legacy <c>torch.save</c> format (before 1.6; torchvision's 2017 VGG files): pickles followed by raw storages.</summary>
    LegacyTorch,

    /// <summary>PyTorch's zip format (<c>torch.save</c> since 1.6): <c>data.pkl</c> plus one entry per storage.</summary>
    ZipTorch,

    /// <summary>safetensors: 8-byte header length, JSON header, raw data.</summary>
    Safetensors,

    /// <summary>TorchSharp's <c>Module.save</c> format: LEB128 counts, names, dtypes, shapes, raw data.</summary>
    TorchSharp,
}

/// <summary>
/// An ordered name → tensor map read from a weights file, with the format detected from the bytes (never the name).
/// Owns its tensors: dispose it when done.
/// </summary>
public sealed class StateDict : IDisposable
{
    private static readonly byte[] LegacyMagic = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
    private readonly List<KeyValuePair<string, Tensor>> _entries;
    private readonly Dictionary<string, Tensor> _byName;

    internal StateDict(string source, WeightsFormat format, IEnumerable<KeyValuePair<string, Tensor>> entries, string? checkpointKey = null)
    {
        Source = source;
        Format = format;
        CheckpointKey = checkpointKey;
        _entries = entries.ToList();
        _byName = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, tensor) in _entries)
        {
            if (!_byName.TryAdd(name, tensor))
                throw new InvalidDataException($"{source}: tensor '{name}' appears twice");
        }
    }

    /// <summary>The file read.</summary>
    public string Source { get; }

    /// <summary>The format detected from its bytes.</summary>
    public WeightsFormat Format { get; }

    /// <summary>For a checkpoint dict, the entry the state dict came from (<c>state_dict</c>, <c>model</c>, …); null for a bare state dict.</summary>
    public string? CheckpointKey { get; }

    /// <summary>Names in file order.</summary>
    public IReadOnlyList<string> Keys => _entries.Select(e => e.Key).ToList();

    /// <summary>Entries in file order.</summary>
    public IReadOnlyList<KeyValuePair<string, Tensor>> Entries => _entries;

    /// <summary>Number of tensors.</summary>
    public int Count => _entries.Count;

    /// <summary>The tensor named <paramref name="name"/> (exact, case-sensitive); still owned by this dict.</summary>
    /// <exception cref="KeyNotFoundException">No such tensor; the message names the file.</exception>
    public Tensor this[string name] =>
        _byName.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"{Source}: no tensor '{name}'");

    /// <summary>The tensor named <paramref name="name"/>, if there is one; still owned by this dict.</summary>
    public bool TryGetValue(string name, out Tensor tensor) => _byName.TryGetValue(name, out tensor!);

    /// <summary>Whether a tensor is named <paramref name="name"/> (exact, case-sensitive).</summary>
    public bool ContainsKey(string name) => _byName.ContainsKey(name);

    /// <summary>Elements in all tensors.</summary>
    public long ElementCount => _entries.Sum(e => e.Value.numel());

    /// <summary>
    /// Elements in tensors that are parameters by name: everything except batch-norm buffers
    /// (<c>running_mean</c>, <c>running_var</c>, <c>num_batches_tracked</c>). Equals torchvision's parameter count.
    /// </summary>
    public long ParameterCount => _entries.Where(e => !IsBuffer(e.Key)).Sum(e => e.Value.numel());

    internal static bool IsBuffer(string name) =>
        name.EndsWith(".running_mean", StringComparison.Ordinal) || name.EndsWith(".running_var", StringComparison.Ordinal)
        || name.EndsWith(".num_batches_tracked", StringComparison.Ordinal);

    /// <summary>
    /// Reads every tensor of a weights file in any <see cref="WeightsFormat"/>, detected from its bytes. A checkpoint dict
    /// (state dict under <c>state_dict</c>, <c>model</c>, <c>model_state_dict</c> or <c>state_dict_ema</c>) is unwrapped.
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Unknown format, truncated or corrupt data, or a pickle naming a disallowed global; the message names the file.</exception>
    public static StateDict Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string full = Path.GetFullPath(path);
        if (!File.Exists(full))
            throw new FileNotFoundException($"{full}: no such file", full);
        IO.RegularFile.EnsureReadable(full, "a weights file");
        var format = DetectFormat(full);
        return format switch
        {
            WeightsFormat.ZipTorch => ReadZip(full),
            WeightsFormat.LegacyTorch => ReadLegacy(full),
            WeightsFormat.Safetensors => SafetensorsFile.Read(full),
            _ => ReadTorchSharp(full, ReadAll(full)),
        };
    }

    /// <summary>Detects the format from the first bytes (and, for TorchSharp's format, which has no signature, a full parse).</summary>
    /// <exception cref="InvalidDataException">None of the four formats.</exception>
    public static WeightsFormat DetectFormat(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] head = new byte[16];
        long length;
        using (var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            length = f.Length;
            f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        if (length == 0)
            throw new InvalidDataException($"{path}: empty file, not weights");
        if (head is [(byte)'P', (byte)'K', 3, 4, ..] or [(byte)'P', (byte)'K', 5, 6, ..])
            return WeightsFormat.ZipTorch;
        if (head.AsSpan().StartsWith(LegacyMagic))
            return WeightsFormat.LegacyTorch;
        if (length >= 10)
        {
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(head);
            if (headerLength >= 2 && headerLength <= (ulong)(length - 8) && head[8] == (byte)'{')
                return WeightsFormat.Safetensors;
        }
        if (TorchSharpFormat.Looks(path))
            return WeightsFormat.TorchSharp;
        throw new InvalidDataException($"{path}: not a weights file this reader knows (PyTorch legacy or zip, safetensors, TorchSharp); it starts with {Convert.ToHexString(head.AsSpan(0, (int)Math.Min(8, length)))}");
    }

    internal static byte[] ReadAll(string path)
    {
        var info = new FileInfo(path);
        if (info.Length > Array.MaxLength)
            throw new InvalidDataException($"{path}: {info.Length:N0} bytes, larger than this reader handles");
        return File.ReadAllBytes(path);
    }

    // ---------------------------------------------------------------- PyTorch legacy format

    private static StateDict ReadLegacy(string path)
    {
        byte[] data = ReadAll(path);
        var pickle = new TorchPickle(data, 0, data.Length, path);
        if (pickle.Load() is not System.Numerics.BigInteger magic || magic != System.Numerics.BigInteger.Parse("119547037146038801333356", System.Globalization.CultureInfo.InvariantCulture))
            throw new InvalidDataException($"{path}: bad legacy magic number");
        if (pickle.Load() is not long protocol || protocol != 1001)
            throw new InvalidDataException($"{path}: unsupported legacy protocol version");
        if (pickle.Load() is PickleDict sysInfo && sysInfo.TryGet("little_endian", out var little) && little is false)
            throw new InvalidDataException($"{path}: written on a big-endian machine, not supported");
        object? root = pickle.Load();
        if (pickle.Load() is not List<object?> keys)
            throw new InvalidDataException($"{path}: corrupt legacy file: storage key list missing");

        // Storage bytes follow, in key order: 8-byte little-endian element count, then the elements.
        var bytesOf = new Dictionary<string, (int Offset, long Numel)>();
        int pos = pickle.Position;
        foreach (var k in keys)
        {
            string key = k as string ?? throw new InvalidDataException($"{path}: corrupt legacy file: bad storage key");
            if (!pickle.Storages.TryGetValue(key, out var storage))
                throw new InvalidDataException($"{path}: corrupt legacy file: storage {key} is listed but never used");
            if (data.Length - pos < 8)
                throw new InvalidDataException($"{path}: truncated: storage {key} missing (file ends at byte {data.Length:N0})");
            long numel = BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(pos, 8));
            pos += 8;
            long size = storage.DType.ElementSize() * numel;
            if (numel != storage.Numel)
                throw new InvalidDataException($"{path}: corrupt legacy file: storage {key} holds {numel} elements, expected {storage.Numel}");
            if (size > data.Length - pos)
                throw new InvalidDataException($"{path}: truncated: storage {key} needs {size:N0} bytes at byte {pos:N0}, {data.Length - pos:N0} left");
            bytesOf[key] = (pos, numel);
            pos += (int)size;
        }
        if (pos != data.Length)
            throw new InvalidDataException($"{path}: corrupt legacy file: {data.Length - pos:N0} unexplained bytes after the storages");

        ReadOnlySpan<byte> Bytes(StorageRef s)
        {
            var root = s.ViewOf is null ? s : pickle.Storages[s.ViewOf];
            if (!bytesOf.TryGetValue(root.Key, out var at))
                throw new InvalidDataException($"{path}: corrupt legacy file: storage {root.Key} has no data");
            int elem = s.DType.ElementSize();
            return data.AsSpan(at.Offset + (int)(s.ViewOffset * elem), (int)(s.Numel * elem));
        }
        return Materialize(path, WeightsFormat.LegacyTorch, root, Bytes);
    }

    // ---------------------------------------------------------------- PyTorch zip format

    private static StateDict ReadZip(string path)
    {
        try
        {
            using var zip = ZipFile.OpenRead(path);
            var pkl = zip.Entries.Where(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.Count(c => c == '/') == 1).ToList();
            if (pkl.Count != 1)
                throw new InvalidDataException($"{path}: a zip file but not a PyTorch one (no single <folder>/data.pkl entry)");
            string prefix = pkl[0].FullName[..^"data.pkl".Length];
            var byteorder = zip.GetEntry(prefix + "byteorder");
            if (byteorder is not null && ReadEntry(byteorder, path, 16) is var bo && Encoding.ASCII.GetString(bo).Trim() != "little")
                throw new InvalidDataException($"{path}: written with big-endian byte order, not supported");
            byte[] pickleBytes = ReadEntry(pkl[0], path, 1L << 30);
            var pickle = new TorchPickle(pickleBytes, 0, pickleBytes.Length, path);
            object? root = pickle.Load();
            var storageBytes = new Dictionary<string, byte[]>();
            ReadOnlySpan<byte> Bytes(StorageRef s)
            {
                if (!storageBytes.TryGetValue(s.Key, out var bytes))
                {
                    var entry = zip.GetEntry(prefix + "data/" + s.Key)
                        ?? throw new InvalidDataException($"{path}: storage {s.Key} missing (no entry {prefix}data/{s.Key})");
                    long expected = s.Numel * s.DType.ElementSize();
                    if (entry.Length != expected)
                        throw new InvalidDataException($"{path}: storage {s.Key} has {entry.Length:N0} bytes, expected {expected:N0}");
                    bytes = ReadEntry(entry, path, expected);
                    storageBytes[s.Key] = bytes;
                }
                return bytes;
            }
            return Materialize(path, WeightsFormat.ZipTorch, root, Bytes);
        }
        catch (InvalidDataException ex) when (!ex.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: corrupt zip archive: {ex.Message}", ex);
        }
    }

    /// <summary>A zip entry's bytes, refusing one that claims more than <paramref name="limit"/> (or any array can hold) by name.</summary>
    internal static byte[] ReadEntry(ZipArchiveEntry entry, string path, long limit)
    {
        if (entry.Length > limit || entry.Length > Array.MaxLength)
            throw new InvalidDataException($"{path}: zip entry {entry.FullName} is implausibly large ({entry.Length:N0} bytes)");
        byte[] bytes = new byte[entry.Length];
        using var s = entry.Open();
        int read = s.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
        if (read != bytes.Length)
            throw new InvalidDataException($"{path}: truncated: zip entry {entry.FullName} has {read:N0} of {bytes.Length:N0} bytes");
        return bytes;
    }

    // ---------------------------------------------------------------- shared: pickled object → tensors

    internal delegate ReadOnlySpan<byte> StorageBytes(StorageRef storage);

    private static readonly string[] CheckpointKeys = ["state_dict", "model", "model_state_dict", "state_dict_ema", "model_ema"];

    private static StateDict Materialize(string path, WeightsFormat format, object? root, StorageBytes bytes)
    {
        if (root is not PickleDict dict)
            throw new InvalidDataException($"{path}: holds a {(root is null ? "None" : "non-dict object")}, not a state dict");
        string? checkpointKey = null;
        if (!dict.Items.Any(kv => kv.Value is TensorRef))
        {
            foreach (string key in CheckpointKeys)
            {
                if (dict.TryGet(key, out var inner) && inner is PickleDict d && d.Items.Any(kv => kv.Value is TensorRef))
                {
                    dict = d;
                    checkpointKey = key;
                    break;
                }
            }
            if (checkpointKey is null)
                throw new InvalidDataException($"{path}: a dict without tensors and without a state dict under any of {string.Join(", ", CheckpointKeys)} (keys: {string.Join(", ", dict.Items.Take(20).Select(kv => kv.Key))})");
        }
        var entries = new List<KeyValuePair<string, Tensor>>();
        try
        {
            foreach (var (key, value) in dict.Items)
            {
                if (value is not TensorRef t)
                    throw new InvalidDataException($"{path}: entry '{key}' of the state dict is not a tensor");
                entries.Add(new(key.ToString()!, Create(t, bytes(t.Storage))));
            }
            return new StateDict(path, format, entries, checkpointKey);
        }
        catch
        {
            foreach (var e in entries)
                e.Value.Dispose();
            throw;
        }
    }

    /// <summary>A contiguous tensor holding the strided view that <paramref name="t"/> describes over its storage's bytes.</summary>
    private static Tensor Create(TensorRef t, ReadOnlySpan<byte> storageBytes)
    {
        long numel = t.Size.Aggregate(1L, (a, b) => a * b);
        if (t.Offset == 0 && numel == t.Storage.Numel && IsContiguous(t.Size, t.Stride))
            return FromBytes(storageBytes, t.Storage.DType, t.Size); // the common case: one tensor per storage, one copy
        using var storage = FromBytes(storageBytes, t.Storage.DType, [t.Storage.Numel]);
        using var view = storage.as_strided(t.Size, t.Stride, t.Offset);
        return view.contiguous().clone();
    }

    private static bool IsContiguous(long[] size, long[] stride)
    {
        long expected = 1;
        for (int i = size.Length - 1; i >= 0; i--)
        {
            if (size[i] != 1 && stride[i] != expected)
                return false;
            expected *= size[i];
        }
        return true;
    }

    /// <summary>A new tensor of <paramref name="shape"/> filled from little-endian raw bytes.</summary>
    internal static Tensor FromBytes(ReadOnlySpan<byte> bytes, ScalarType dtype, long[] shape)
    {
        var tensor = empty(shape, dtype);
        if (bytes.Length > 0)
            bytes.CopyTo(tensor.bytes);
        return tensor;
    }

    // ---------------------------------------------------------------- TorchSharp format

    /// <summary>Parses bytes in TorchSharp's Module.save layout; <paramref name="path"/> names the source in errors.</summary>
    internal static StateDict ReadTorchSharp(string path, byte[] data)
    {
        var entries = new List<KeyValuePair<string, Tensor>>();
        try
        {
            foreach (var (name, dtype, shape, offset, length) in TorchSharpFormat.Parse(data, path))
                entries.Add(new(name, FromBytes(data.AsSpan(offset, length), dtype, shape)));
            return new StateDict(path, WeightsFormat.TorchSharp, entries);
        }
        catch
        {
            foreach (var e in entries)
                e.Value.Dispose();
            throw;
        }
    }

    /// <summary>Disposes every tensor and empties the dict.</summary>
    public void Dispose()
    {
        foreach (var e in _entries)
            e.Value.Dispose();
        _entries.Clear();
        _byName.Clear();
    }
}

/// <summary>Bytes per element of the dtypes weight files use.</summary>
internal static class ScalarTypeSizes
{
    public static int ElementSize(this ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        ScalarType.Int8 or ScalarType.Byte or ScalarType.Bool => 1,
        _ => throw new NotSupportedException($"dtype {dtype} is not used in weight files"),
    };

    public static bool IsFloating(this ScalarType dtype) =>
        dtype is ScalarType.Float64 or ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16;

    public static string Describe(long[] shape) => "[" + string.Join(", ", shape) + "]";

    public static ReadOnlySpan<byte> AsBytes(float[] values) => MemoryMarshal.AsBytes(values.AsSpan());
}
