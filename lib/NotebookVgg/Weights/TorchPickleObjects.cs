using System.Globalization;
using System.Numerics;
using static TorchSharp.torch;

namespace NotebookVgg.Weights;

/// <summary>
/// The torch objects a weights pickle may name, and nothing else: the allow-list of globals (what
/// <c>torch.load(weights_only=True)</c> accepts for a state dict), the storages its persistent ids name, and the
/// tensors <c>_rebuild_tensor[_v2]</c> makes of them, each checked to lie inside its storage. <see cref="TorchPickle"/>
/// runs the pickle's opcodes and hands these over.
/// </summary>
internal sealed class TorchPickleObjects(string source)
{
    /// <summary>What a weights pickle may call: nothing else is ever called or constructed.</summary>
    private static readonly HashSet<string> AllowedCallables =
    [
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter",
    ];

    /// <summary>Storage classes and the element type each holds.</summary>
    internal static readonly Dictionary<string, ScalarType> StorageTypes = new()
    {
        ["torch.FloatStorage"] = ScalarType.Float32,
        ["torch.DoubleStorage"] = ScalarType.Float64,
        ["torch.HalfStorage"] = ScalarType.Float16,
        ["torch.BFloat16Storage"] = ScalarType.BFloat16,
        ["torch.LongStorage"] = ScalarType.Int64,
        ["torch.IntStorage"] = ScalarType.Int32,
        ["torch.ShortStorage"] = ScalarType.Int16,
        ["torch.CharStorage"] = ScalarType.Int8,
        ["torch.ByteStorage"] = ScalarType.Byte,
        ["torch.BoolStorage"] = ScalarType.Bool,
    };

    /// <summary>Storages met so far, by key (persistent ids).</summary>
    public Dictionary<string, StorageRef> Storages { get; } = [];

    /// <summary>The global <c>module.name</c>, if the allow-list has it; otherwise the error that refuses the file.</summary>
    public PickleGlobal Global(string module, string name, int at)
    {
        string full = $"{module}.{name}";
        if (!AllowedCallables.Contains(full) && !StorageTypes.ContainsKey(full))
            throw Corrupt($"refuses the pickle global '{full}' at byte {at}: a weights file holds only tensors, storages and " +
                          "OrderedDicts, and loading this one with Python's pickle could run code");
        return new PickleGlobal(module, name);
    }

    /// <summary>The storage a persistent id names (the same object each time the pickle names it again).</summary>
    public StorageRef PersistentLoad(object? pid, int at)
    {
        if (pid is not object?[] { Length: 5 or 6 } t || t[0] is not "storage")
            throw Corrupt($"unsupported persistent id at byte {at} (expected a ('storage', type, key, location, size) tuple)");
        if (t[1] is not PickleGlobal type || !StorageTypes.TryGetValue(type.ToString(), out var dtype))
            throw Corrupt($"persistent id at byte {at} names no storage type");
        string key = t[2] switch { string s => s, long l => l.ToString(CultureInfo.InvariantCulture), _ => throw Corrupt($"bad storage key at byte {at}") };
        if (t[4] is not long numel || numel < 0)
            throw Corrupt($"bad storage size for storage {key} at byte {at}");
        if (t.Length == 6 && t[5] is object?[] view)
        {
            // Legacy files: (view_key, offset, view_size) marks a storage that is a slice of storage `key`.
            if (view is not [string vk, long off, long size] || off < 0 || size < 0 || off + size > numel)
                throw Corrupt($"bad storage view for storage {key} at byte {at}");
            if (Storages.TryGetValue(vk, out var known))
                return known;
            var slice = new StorageRef(vk, dtype, size, key, off);
            Storages[vk] = slice;
            if (!Storages.ContainsKey(key))
                Storages[key] = new StorageRef(key, dtype, numel, null, 0);
            return slice;
        }
        if (Storages.TryGetValue(key, out var existing))
        {
            if (existing.DType != dtype || existing.Numel != numel)
                throw Corrupt($"storage {key} is described twice, differently");
            return existing;
        }
        var storage = new StorageRef(key, dtype, numel, null, 0);
        Storages[key] = storage;
        return storage;
    }

    /// <summary>What a call of an allow-listed torch function returns: a tensor (or a parameter's tensor).</summary>
    public object Call(PickleGlobal g, object?[] a, int at)
    {
        switch (g.ToString())
        {
            case "torch._utils._rebuild_tensor":
            case "torch._utils._rebuild_tensor_v2":
                if (a.Length < 4 || a[0] is not StorageRef storage || a[1] is not long offset)
                    throw Corrupt($"bad arguments to {g} at byte {at}");
                return Tensor(storage, offset, Longs(a[2], at), Longs(a[3], at), at);
            case "torch._utils._rebuild_parameter":
                if (a.Length < 1 || a[0] is not TensorRef data)
                    throw Corrupt($"bad arguments to {g} at byte {at}");
                return data;
            default:
                throw Corrupt($"refuses to call '{g}' at byte {at}");
        }
    }

    private long[] Longs(object? o, int at)
    {
        if (o is not object?[] t || t.Length > 64)
            throw Corrupt($"bad tensor shape at byte {at}");
        var result = new long[t.Length];
        for (int i = 0; i < t.Length; i++)
            result[i] = t[i] is long v && v >= 0 ? v : throw Corrupt($"bad tensor shape at byte {at}");
        return result;
    }

    private TensorRef Tensor(StorageRef storage, long offset, long[] size, long[] stride, int at)
    {
        if (size.Length != stride.Length)
            throw Corrupt($"tensor at byte {at}: shape and strides disagree");
        if (offset < 0)
            throw Corrupt($"tensor at byte {at}: negative storage offset {offset}");
        if (size.All(s => s > 0))
        {
            // The furthest element the view touches must lie inside the storage.
            BigInteger last = offset;
            for (int i = 0; i < size.Length; i++)
                last += (BigInteger)(size[i] - 1) * stride[i];
            if (last >= storage.Numel)
                throw Corrupt($"tensor of shape [{string.Join(", ", size)}] at byte {at} reaches element {last} of storage {storage.Key}, which holds {storage.Numel}");
        }
        return new TensorRef(storage, offset, size, stride);
    }

    private InvalidDataException Corrupt(string what) => new($"{source}: {what}");
}
