using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;
using static TorchSharp.torch;

namespace NotebookVgg.Weights;

/// <summary>A Python global named in a pickle (<c>module.name</c>); only allow-listed ones ever get this far.</summary>
internal sealed record PickleGlobal(string Module, string Name)
{
    public override string ToString() => $"{Module}.{Name}";
}

/// <summary>A storage named by a persistent id: <c>('storage', torch.FloatStorage, key, location, numel[, view])</c>.</summary>
internal sealed record StorageRef(string Key, ScalarType DType, long Numel, string? ViewOf, long ViewOffset);

/// <summary>A tensor as <c>_rebuild_tensor[_v2]</c> describes it: a strided view of a storage.</summary>
internal sealed record TensorRef(StorageRef Storage, long Offset, long[] Size, long[] Stride);

/// <summary>A Python dict or OrderedDict, in insertion order, plus attributes set by BUILD (e.g. <c>_metadata</c>).</summary>
internal sealed class PickleDict
{
    private readonly List<KeyValuePair<object, object?>> _items = [];
    private readonly Dictionary<object, int> _index = [];

    public IReadOnlyList<KeyValuePair<object, object?>> Items => _items;
    public int Count => _items.Count;

    public void Set(object key, object? value)
    {
        if (_index.TryGetValue(key, out int i))
            _items[i] = new(key, value);
        else
        {
            _index[key] = _items.Count;
            _items.Add(new(key, value));
        }
    }

    public bool TryGet(object key, out object? value)
    {
        value = null;
        if (!_index.TryGetValue(key, out int i))
            return false;
        value = _items[i].Value;
        return true;
    }
}

/// <summary>
/// Reads the pickles inside PyTorch files (legacy and zip), the way <c>torch.load(weights_only=True)</c> does: only the
/// globals a tensor state dict needs are accepted, nothing is ever called or constructed beyond those.
/// </summary>
/// <remarks>
/// Hand-written because no .NET library reads torch pickles safely: general unpicklers (Razorvine.Pickle, used by
/// TorchSharp.PyBridge) construct whatever the pickle names, and PyBridge rejects the legacy format outright.
/// Every length and index is bounds-checked; any problem is an <see cref="InvalidDataException"/> naming the file.
/// </remarks>
internal sealed class TorchPickle
{
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

    private const int MaxMemo = 10_000_000;
    private readonly byte[] _data;
    private readonly int _end;
    private readonly string _source;
    private readonly Dictionary<long, object?> _memo = [];
    private readonly List<object?> _stack = [];
    private readonly Stack<int> _marks = new();
    private int _pos;

    public TorchPickle(byte[] data, int start, int end, string source)
    {
        _data = data;
        _pos = start;
        _end = end;
        _source = source;
    }

    /// <summary>Where the next pickle (if any) starts.</summary>
    public int Position => _pos;

    /// <summary>Storages met so far, by key (persistent ids).</summary>
    public Dictionary<string, StorageRef> Storages { get; } = [];

    /// <summary>Reads one pickle, up to and including its STOP opcode.</summary>
    public object? Load()
    {
        _stack.Clear();
        _marks.Clear();
        _memo.Clear();
        while (true)
        {
            int at = _pos;
            byte op = ReadByte();
            switch (op)
            {
                case 0x80: ReadByte(); break;                               // PROTO
                case 0x95: Take(8); break;                                  // FRAME (length only)
                case (byte)'.': return Pop(at);                             // STOP
                case (byte)'(': _marks.Push(_stack.Count); break;           // MARK
                case (byte)'0': Pop(at); break;                             // POP
                case (byte)'1': PopMark(at); break;                         // POP_MARK
                case (byte)'2': Push(Peek(at)); break;                      // DUP
                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break;                               // NEWTRUE
                case 0x89: Push(false); break;                              // NEWFALSE
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break;
                case (byte)'K': Push((long)ReadByte()); break;
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break;
                case 0x8a: Push(Long(Take(ReadByte()))); break;             // LONG1
                case 0x8b: Push(Long(Take(Length(BinaryPrimitives.ReadInt32LittleEndian(Take(4)), at)))); break; // LONG4
                case (byte)'I': Push(TextInt(ReadLine(), at)); break;        // INT (protocol 0)
                case (byte)'L': Push(TextInt(ReadLine().TrimEnd('L'), at)); break; // LONG (protocol 0)
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break; // BINFLOAT
                case (byte)'F': Push(ParseFloat(ReadLine(), at)); break;   // FLOAT
                case (byte)'X': Push(Utf8(Take(Length(BinaryPrimitives.ReadInt32LittleEndian(Take(4)), at)), at)); break;
                case 0x8c: Push(Utf8(Take(ReadByte()), at)); break;         // SHORT_BINUNICODE
                case 0x8d: Push(Utf8(Take(Length(BinaryPrimitives.ReadInt64LittleEndian(Take(8)), at)), at)); break;
                case (byte)'T': Push(Encoding.Latin1.GetString(Take(Length(BinaryPrimitives.ReadInt32LittleEndian(Take(4)), at)))); break;
                case (byte)'U': Push(Encoding.Latin1.GetString(Take(ReadByte()))); break; // SHORT_BINSTRING (Python 2 str)
                case (byte)'B': Push(Take(Length(BinaryPrimitives.ReadInt32LittleEndian(Take(4)), at)).ToArray()); break;
                case (byte)'C': Push(Take(ReadByte()).ToArray()); break;
                case 0x8e: Push(Take(Length(BinaryPrimitives.ReadInt64LittleEndian(Take(8)), at)).ToArray()); break;
                case (byte)')': Push(Array.Empty<object?>()); break;        // EMPTY_TUPLE
                case (byte)'t': Push(PopMark(at).ToArray()); break;         // TUPLE
                case 0x85: Push(new[] { Pop(at) }); break;
                case 0x86: { var b = Pop(at); var a = Pop(at); Push(new[] { a, b }); break; }
                case 0x87: { var c = Pop(at); var b = Pop(at); var a = Pop(at); Push(new[] { a, b, c }); break; }
                case (byte)']': Push(new List<object?>()); break;            // EMPTY_LIST
                case (byte)'l': Push(PopMark(at)); break;                   // LIST
                case (byte)'a': { var v = Pop(at); AsList(Peek(at), at).Add(v); break; }
                case (byte)'e': { var items = PopMark(at); AsList(Peek(at), at).AddRange(items); break; }
                case (byte)'}': Push(new PickleDict()); break;              // EMPTY_DICT
                case (byte)'d': { var items = PopMark(at); var d = new PickleDict(); SetItems(d, items, at); Push(d); break; }
                case (byte)'s': { var v = Pop(at); var k = Pop(at); AsDict(Peek(at), at).Set(Key(k, at), v); break; }
                case (byte)'u': { var items = PopMark(at); SetItems(AsDict(Peek(at), at), items, at); break; }
                case 0x8f: Push(new List<object?>()); break;                 // EMPTY_SET (kept as a list)
                case 0x90: { var items = PopMark(at); AsList(Peek(at), at).AddRange(items); break; } // ADDITEMS
                case 0x91: Push(PopMark(at)); break;                         // FROZENSET
                case (byte)'q': Memo(ReadByte(), at); break;                 // BINPUT
                case (byte)'r': Memo(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)), at); break;
                case (byte)'p': Memo(TextInt(ReadLine(), at), at); break;    // PUT
                case 0x94: Memo(_memo.Count, at); break;                     // MEMOIZE
                case (byte)'h': Push(Recall(ReadByte(), at)); break;         // BINGET
                case (byte)'j': Push(Recall(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)), at)); break;
                case (byte)'g': Push(Recall(TextInt(ReadLine(), at), at)); break;
                case (byte)'c': Push(Global(ReadLine(), ReadLine(), at)); break; // GLOBAL
                case 0x93: { var name = Pop(at); var module = Pop(at); Push(Global(AsString(module, at), AsString(name, at), at)); break; }
                case (byte)'Q': Push(PersistentLoad(Pop(at), at)); break;   // BINPERSID
                case (byte)'R': { var args = Pop(at); var func = Pop(at); Push(Call(func, args, at)); break; } // REDUCE
                case 0x81: { var args = Pop(at); var cls = Pop(at); Push(Call(cls, args, at)); break; }     // NEWOBJ
                case (byte)'b': { var state = Pop(at); Build(Peek(at), state, at); break; }
                default:
                    throw Corrupt($"unsupported pickle opcode 0x{op:x2} at byte {at}");
            }
        }
    }

    private double ParseFloat(string text, int at) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
            ? value
            : throw Corrupt($"bad float '{text}' at byte {at}");

    private InvalidDataException Corrupt(string what) => new($"{_source}: {what}");

    private byte ReadByte()
    {
        if (_pos >= _end)
            throw Corrupt($"truncated: the pickle ends at byte {_pos} without its STOP opcode");
        return _data[_pos++];
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || count > _end - _pos)
            throw Corrupt($"truncated: {count} bytes needed at byte {_pos}, {_end - _pos} left");
        var span = _data.AsSpan(_pos, count);
        _pos += count;
        return span;
    }

    private int Length(long length, int at)
    {
        if (length < 0 || length > _end - _pos)
            throw Corrupt($"length {length} at byte {at} runs past the end of the data");
        return (int)length;
    }

    private string ReadLine()
    {
        int nl = Array.IndexOf(_data, (byte)'\n', _pos, _end - _pos);
        if (nl < 0)
            throw Corrupt($"truncated: unterminated text at byte {_pos}");
        string s = Encoding.ASCII.GetString(_data, _pos, nl - _pos);
        _pos = nl + 1;
        return s;
    }

    private object Long(ReadOnlySpan<byte> bytes)
    {
        var value = new BigInteger(bytes, isUnsigned: false, isBigEndian: false);
        return value >= long.MinValue && value <= long.MaxValue ? (long)value : value;
    }

    private long TextInt(string text, int at) =>
        text switch
        {
            "00" => 0,
            "01" => 1,
            _ => long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v) ? v
                : throw Corrupt($"bad integer '{text}' at byte {at}"),
        };

    private string Utf8(ReadOnlySpan<byte> bytes, int at)
    {
        try
        {
            return new UTF8Encoding(false, true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw Corrupt($"invalid UTF-8 text at byte {at}");
        }
    }

    private void Push(object? value)
    {
        if (_stack.Count > 10_000_000)
            throw Corrupt("pickle stack grows without bound");
        _stack.Add(value);
    }

    private object? Pop(int at)
    {
        if (_stack.Count == 0 || (_marks.Count > 0 && _marks.Peek() == _stack.Count))
            throw Corrupt($"corrupt pickle: stack underflow at byte {at}");
        var v = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return v;
    }

    private object? Peek(int at) =>
        _stack.Count == 0 ? throw Corrupt($"corrupt pickle: stack underflow at byte {at}") : _stack[^1];

    private List<object?> PopMark(int at)
    {
        if (_marks.Count == 0)
            throw Corrupt($"corrupt pickle: no MARK before byte {at}");
        int mark = _marks.Pop();
        var items = _stack.GetRange(mark, _stack.Count - mark);
        _stack.RemoveRange(mark, _stack.Count - mark);
        return items;
    }

    private void Memo(long index, int at)
    {
        if (_memo.Count >= MaxMemo)
            throw Corrupt("pickle memo grows without bound");
        _memo[index] = Peek(at);
    }

    private object? Recall(long index, int at) =>
        _memo.TryGetValue(index, out var v) ? v : throw Corrupt($"corrupt pickle: memo entry {index} missing at byte {at}");

    private List<object?> AsList(object? o, int at) =>
        o as List<object?> ?? throw Corrupt($"corrupt pickle: append to a {Describe(o)} at byte {at}");

    private PickleDict AsDict(object? o, int at) =>
        o as PickleDict ?? throw Corrupt($"corrupt pickle: set item on a {Describe(o)} at byte {at}");

    private string AsString(object? o, int at) =>
        o as string ?? throw Corrupt($"corrupt pickle: expected text, found a {Describe(o)} at byte {at}");

    private object Key(object? k, int at) =>
        k switch
        {
            string or long or bool or double or BigInteger => k,
            object?[] tuple => string.Join(",", tuple), // tuple keys (rare in optimizer state): kept as text
            _ => throw Corrupt($"unsupported dict key of type {Describe(k)} at byte {at}"),
        };

    private void SetItems(PickleDict d, List<object?> items, int at)
    {
        if (items.Count % 2 != 0)
            throw Corrupt($"corrupt pickle: odd number of dict items at byte {at}");
        for (int i = 0; i < items.Count; i += 2)
            d.Set(Key(items[i], at), items[i + 1]);
    }

    private PickleGlobal Global(string module, string name, int at)
    {
        string full = $"{module}.{name}";
        if (!AllowedCallables.Contains(full) && !StorageTypes.ContainsKey(full))
            throw Corrupt($"refuses the pickle global '{full}' at byte {at}: a weights file holds only tensors, storages and " +
                          "OrderedDicts, and loading this one with Python's pickle could run code");
        return new PickleGlobal(module, name);
    }

    private StorageRef PersistentLoad(object? pid, int at)
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

    private object Call(object? func, object? args, int at)
    {
        if (func is not PickleGlobal g)
            throw Corrupt($"corrupt pickle: call of a {Describe(func)} at byte {at}");
        if (args is not object?[] a)
            throw Corrupt($"corrupt pickle: arguments of {g} are not a tuple at byte {at}");
        switch (g.ToString())
        {
            case "collections.OrderedDict":
                var d = new PickleDict();
                if (a.Length == 1 && a[0] is List<object?> pairs)
                {
                    foreach (var pair in pairs)
                    {
                        if (pair is not object?[] { Length: 2 } kv)
                            throw Corrupt($"OrderedDict items at byte {at} are not pairs");
                        d.Set(Key(kv[0], at), kv[1]);
                    }
                }
                else if (a.Length != 0)
                    throw Corrupt($"unsupported OrderedDict arguments at byte {at}");
                return d;
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

    private void Build(object? target, object? state, int at)
    {
        // OrderedDict state dicts carry `_metadata` (per-module versions): accepted and not needed.
        if (target is PickleDict && state is PickleDict or null)
            return;
        throw Corrupt($"unsupported BUILD of a {Describe(target)} at byte {at}");
    }

    private static string Describe(object? o) => o switch
    {
        null => "None",
        PickleGlobal g => g.ToString(),
        PickleDict => "dict",
        List<object?> => "list",
        object?[] => "tuple",
        TensorRef => "tensor",
        StorageRef => "storage",
        _ => o.GetType().Name,
    };
}
