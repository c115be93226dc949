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
    private const int MaxMemo = 10_000_000;
    private readonly PickleInput _in;
    private readonly string _source;
    private readonly TorchPickleObjects _objects;
    private readonly Dictionary<long, object?> _memo = [];
    private readonly List<object?> _stack = [];
    private readonly Stack<int> _marks = new();

    public TorchPickle(byte[] data, int start, int end, string source)
    {
        _in = new PickleInput(data, start, end, source);
        _source = source;
        _objects = new TorchPickleObjects(source);
    }

    /// <summary>Where the next pickle (if any) starts.</summary>
    public int Position => _in.Position;

    /// <summary>Storages met so far, by key (persistent ids).</summary>
    public Dictionary<string, StorageRef> Storages => _objects.Storages;

    /// <summary>Reads one pickle, up to and including its STOP opcode.</summary>
    public object? Load()
    {
        _stack.Clear();
        _marks.Clear();
        _memo.Clear();
        while (true)
        {
            int at = _in.Position;
            byte op = _in.ReadByte();
            switch (op)
            {
                case 0x80: _in.ReadByte(); break;                               // PROTO
                case 0x95: _in.Take(8); break;                                  // FRAME (length only)
                case (byte)'.': return Pop(at);                             // STOP
                case (byte)'(': _marks.Push(_stack.Count); break;           // MARK
                case (byte)'0': Pop(at); break;                             // POP
                case (byte)'1': PopMark(at); break;                         // POP_MARK
                case (byte)'2': Push(Peek(at)); break;                      // DUP
                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break;                               // NEWTRUE
                case 0x89: Push(false); break;                              // NEWFALSE
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(_in.Take(4))); break;
                case (byte)'K': Push((long)_in.ReadByte()); break;
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(_in.Take(2))); break;
                case 0x8a: Push(PickleInput.Long(_in.Take(_in.ReadByte()))); break;             // LONG1
                case 0x8b: Push(PickleInput.Long(_in.Take(_in.Length(BinaryPrimitives.ReadInt32LittleEndian(_in.Take(4)), at)))); break; // LONG4
                case (byte)'I': Push(_in.TextInt(_in.ReadLine(), at)); break;        // INT (protocol 0)
                case (byte)'L': Push(_in.TextInt(_in.ReadLine().TrimEnd('L'), at)); break; // LONG (protocol 0)
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(_in.Take(8))); break; // BINFLOAT
                case (byte)'F': Push(_in.ParseFloat(_in.ReadLine(), at)); break;   // FLOAT
                case (byte)'X': Push(_in.Utf8(_in.Take(_in.Length(BinaryPrimitives.ReadInt32LittleEndian(_in.Take(4)), at)), at)); break;
                case 0x8c: Push(_in.Utf8(_in.Take(_in.ReadByte()), at)); break;         // SHORT_BINUNICODE
                case 0x8d: Push(_in.Utf8(_in.Take(_in.Length(BinaryPrimitives.ReadInt64LittleEndian(_in.Take(8)), at)), at)); break;
                case (byte)'T': Push(Encoding.Latin1.GetString(_in.Take(_in.Length(BinaryPrimitives.ReadInt32LittleEndian(_in.Take(4)), at)))); break;
                case (byte)'U': Push(Encoding.Latin1.GetString(_in.Take(_in.ReadByte()))); break; // SHORT_BINSTRING (Python 2 str)
                case (byte)'B': Push(_in.Take(_in.Length(BinaryPrimitives.ReadInt32LittleEndian(_in.Take(4)), at)).ToArray()); break;
                case (byte)'C': Push(_in.Take(_in.ReadByte()).ToArray()); break;
                case 0x8e: Push(_in.Take(_in.Length(BinaryPrimitives.ReadInt64LittleEndian(_in.Take(8)), at)).ToArray()); break;
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
                case (byte)'q': Memo(_in.ReadByte(), at); break;                 // BINPUT
                case (byte)'r': Memo(BinaryPrimitives.ReadUInt32LittleEndian(_in.Take(4)), at); break;
                case (byte)'p': Memo(_in.TextInt(_in.ReadLine(), at), at); break;    // PUT
                case 0x94: Memo(_memo.Count, at); break;                     // MEMOIZE
                case (byte)'h': Push(Recall(_in.ReadByte(), at)); break;         // BINGET
                case (byte)'j': Push(Recall(BinaryPrimitives.ReadUInt32LittleEndian(_in.Take(4)), at)); break;
                case (byte)'g': Push(Recall(_in.TextInt(_in.ReadLine(), at), at)); break;
                case (byte)'c': Push(_objects.Global(_in.ReadLine(), _in.ReadLine(), at)); break; // GLOBAL
                case 0x93: { var name = Pop(at); var module = Pop(at); Push(_objects.Global(AsString(module, at), AsString(name, at), at)); break; }
                case (byte)'Q': Push(_objects.PersistentLoad(Pop(at), at)); break;   // BINPERSID
                case (byte)'R': { var args = Pop(at); var func = Pop(at); Push(Call(func, args, at)); break; } // REDUCE
                case 0x81: { var args = Pop(at); var cls = Pop(at); Push(Call(cls, args, at)); break; }     // NEWOBJ
                case (byte)'b': { var state = Pop(at); Build(Peek(at), state, at); break; }
                default:
                    throw Corrupt($"unsupported pickle opcode 0x{op:x2} at byte {at}");
            }
        }
    }

    private InvalidDataException Corrupt(string what) => new($"{_source}: {what}");

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

    private object Call(object? func, object? args, int at)
    {
        if (func is not PickleGlobal g)
            throw Corrupt($"corrupt pickle: call of a {Describe(func)} at byte {at}");
        if (args is not object?[] a)
            throw Corrupt($"corrupt pickle: arguments of {g} are not a tuple at byte {at}");
        if (g.ToString() != "collections.OrderedDict")
            return _objects.Call(g, a, at);
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
    }

    private void Build(object? target, object? state, int at)
    {
        // OrderedDict state dicts carry `_metadata` (per-module versions): accepted and not needed.
        if (target is PickleDict && state is PickleDict or null)
            return;
        throw Corrupt($"unsupported BUILD of a {Describe(target)} at byte {at}");
    }

    internal static string Describe(object? o) => o switch
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
