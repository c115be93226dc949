using System.Globalization;
using System.Numerics;
using System.Text;

namespace NotebookVgg.Weights;

/// <summary>
/// The bytes of a pickle as <see cref="TorchPickle"/>'s opcodes read them: every length and position checked against
/// the end, every number and text parsed strictly, each failure an <see cref="InvalidDataException"/> naming the file.
/// </summary>
internal sealed class PickleInput(byte[] data, int start, int end, string source)
{
    private int _pos = start;

    /// <summary>The next byte's index in the data.</summary>
    public int Position => _pos;

    public double ParseFloat(string text, int at) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
            ? value
            : throw Corrupt($"bad float '{text}' at byte {at}");

    public byte ReadByte()
    {
        if (_pos >= end)
            throw Corrupt($"truncated: the pickle ends at byte {_pos} without its STOP opcode");
        return data[_pos++];
    }

    public ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || count > end - _pos)
            throw Corrupt($"truncated: {count} bytes needed at byte {_pos}, {end - _pos} left");
        var span = data.AsSpan(_pos, count);
        _pos += count;
        return span;
    }

    public int Length(long length, int at)
    {
        if (length < 0 || length > end - _pos)
            throw Corrupt($"length {length} at byte {at} runs past the end of the data");
        return (int)length;
    }

    public string ReadLine()
    {
        int nl = Array.IndexOf(data, (byte)'\n', _pos, end - _pos);
        if (nl < 0)
            throw Corrupt($"truncated: unterminated text at byte {_pos}");
        string s = Encoding.ASCII.GetString(data, _pos, nl - _pos);
        _pos = nl + 1;
        return s;
    }

    public static object Long(ReadOnlySpan<byte> bytes)
    {
        var value = new BigInteger(bytes, isUnsigned: false, isBigEndian: false);
        return value >= long.MinValue && value <= long.MaxValue ? (long)value : value;
    }

    public long TextInt(string text, int at) =>
        text switch
        {
            "00" => 0,
            "01" => 1,
            _ => long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v) ? v
                : throw Corrupt($"bad integer '{text}' at byte {at}"),
        };

    public string Utf8(ReadOnlySpan<byte> bytes, int at)
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

    private InvalidDataException Corrupt(string what) => new($"{source}: {what}");
}
