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
            WeightsFormat.ZipTorch => TorchSaveFile.ReadZip(full),
            WeightsFormat.LegacyTorch => TorchSaveFile.ReadLegacy(full),
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
        if (head.AsSpan().StartsWith(TorchSaveFile.LegacyMagic))
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
