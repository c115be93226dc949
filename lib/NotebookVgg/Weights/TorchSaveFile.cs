using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using static TorchSharp.torch;

namespace NotebookVgg.Weights;

/// <summary>
/// Reads the two formats of PyTorch's <c>torch.save</c> (the legacy one of torchvision's 2017 VGG files, and zip since
/// PyTorch 1.6) into a <see cref="StateDict"/>: the pickle (through <see cref="TorchPickle"/>) names the tensors and
/// their storages, the storages' raw bytes follow it (legacy) or are entries of their own (zip).
/// </summary>
internal static class TorchSaveFile
{
    /// <summary>The first bytes of a legacy file: a pickled protocol-2 long, PyTorch's magic number.</summary>
    public static ReadOnlySpan<byte> LegacyMagic => [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

    // ---------------------------------------------------------------- PyTorch legacy format

    public static StateDict ReadLegacy(string path)
    {
        byte[] data = StateDict.ReadAll(path);
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

    public static StateDict ReadZip(string path)
    {
        try
        {
            using var zip = ZipFile.OpenRead(path);
            var pkl = zip.Entries.Where(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.Count(c => c == '/') == 1).ToList();
            if (pkl.Count != 1)
                throw new InvalidDataException($"{path}: a zip file but not a PyTorch one (no single <folder>/data.pkl entry)");
            string prefix = pkl[0].FullName[..^"data.pkl".Length];
            var byteorder = zip.GetEntry(prefix + "byteorder");
            if (byteorder is not null && StateDict.ReadEntry(byteorder, path, 16) is var bo && Encoding.ASCII.GetString(bo).Trim() != "little")
                throw new InvalidDataException($"{path}: written with big-endian byte order, not supported");
            byte[] pickleBytes = StateDict.ReadEntry(pkl[0], path, 1L << 30);
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
                    bytes = StateDict.ReadEntry(entry, path, expected);
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
            return StateDict.FromBytes(storageBytes, t.Storage.DType, t.Size); // the common case: one tensor per storage, one copy
        using var storage = StateDict.FromBytes(storageBytes, t.Storage.DType, [t.Storage.Numel]);
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
}
