using System.Buffers.Binary;
using System.Text;

using NotebookVgg.IO;

namespace NotebookVgg.Runtime;

/// <summary>
/// Reads and edits the symbol-version requirements (<c>.gnu.version_r</c>, SHT_GNU_verneed) of a
/// 64-bit little-endian ELF shared library. Written by hand because no maintained .NET ELF library
/// offers in-place editing of a Vernaux entry's flags, and the edit is two bytes.
/// </summary>
internal static class ElfVersionNeeds
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    /// <summary>One required version (a Vernaux entry): the library it comes from, its name, and whether it is weak.</summary>
    internal sealed record Requirement(string File, string Version, bool IsWeak, long FlagsOffset);

    /// <summary>Lists every version requirement in the file.</summary>
    /// <exception cref="InvalidDataException">The file is not a 64-bit little-endian ELF file or its tables are malformed.</exception>
    public static IReadOnlyList<Requirement> Read(string path)
    {
        byte[] elf = File.ReadAllBytes(path);
        return Read(elf, path);
    }

    /// <summary>
    /// Writes a copy of <paramref name="source"/> to <paramref name="destination"/> (atomically) with the requirement of
    /// <paramref name="version"/> weak, so the dynamic loader accepts the copy on systems whose provider lacks that
    /// version; <paramref name="source"/> is only read.
    /// </summary>
    public static void WriteWeakCopy(string source, string destination, string version, string? advice = null)
    {
        byte[] elf = File.ReadAllBytes(source);
        MarkWeak(elf, source, version);
        AtomicFile.WriteAllBytes(destination, elf, what: "patched copy of " + Path.GetFileName(source), advice: advice);
    }

    private static bool MarkWeak(byte[] elf, string path, string version)
    {
        var targets = Read(elf, path).Where(r => r.Version == version && !r.IsWeak).ToList();
        foreach (var r in targets)
        {
            ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan((int)r.FlagsOffset));
            BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan((int)r.FlagsOffset), (ushort)(flags | VerFlgWeak));
        }
        return targets.Count > 0;
    }

    private static List<Requirement> Read(byte[] elf, string path)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException($"{path}: not an ELF file");
        if (elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException($"{path}: only 64-bit little-endian ELF files are supported");

        var span = elf.AsSpan();
        ulong shoff = BinaryPrimitives.ReadUInt64LittleEndian(span[0x28..]);
        ushort shentsize = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3A..]);
        ushort shnum = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3C..]);
        var result = new List<Requirement>();
        for (int i = 0; i < shnum; i++)
        {
            var sh = Slice(elf, shoff + (ulong)(i * shentsize), 64, path, "section header");
            if (BinaryPrimitives.ReadUInt32LittleEndian(sh[4..]) != ShtGnuVerneed)
                continue;
            ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(sh[0x18..]);
            uint link = BinaryPrimitives.ReadUInt32LittleEndian(sh[0x28..]);
            uint count = BinaryPrimitives.ReadUInt32LittleEndian(sh[0x2C..]);
            var strtabHeader = Slice(elf, shoff + (ulong)(link * shentsize), 64, path, "string table header");
            ulong strtab = BinaryPrimitives.ReadUInt64LittleEndian(strtabHeader[0x18..]);

            ulong vn = offset;
            for (uint n = 0; n < count; n++)
            {
                var verneed = Slice(elf, vn, 16, path, "Verneed entry");
                ushort auxCount = BinaryPrimitives.ReadUInt16LittleEndian(verneed[2..]);
                string file = CString(elf, strtab + BinaryPrimitives.ReadUInt32LittleEndian(verneed[4..]), path);
                ulong aux = vn + BinaryPrimitives.ReadUInt32LittleEndian(verneed[8..]);
                for (int a = 0; a < auxCount; a++)
                {
                    var vernaux = Slice(elf, aux, 16, path, "Vernaux entry");
                    ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(vernaux[4..]);
                    string name = CString(elf, strtab + BinaryPrimitives.ReadUInt32LittleEndian(vernaux[8..]), path);
                    result.Add(new Requirement(file, name, (flags & VerFlgWeak) != 0, (long)aux + 4));
                    aux += BinaryPrimitives.ReadUInt32LittleEndian(vernaux[12..]);
                }
                vn += BinaryPrimitives.ReadUInt32LittleEndian(verneed[12..]);
            }
        }
        return result;
    }

    private static Span<byte> Slice(byte[] elf, ulong offset, int length, string path, string what)
    {
        if (offset > (ulong)elf.Length || (ulong)elf.Length - offset < (ulong)length)
            throw new InvalidDataException($"{path}: {what} at offset {offset} lies outside the file ({elf.Length} bytes)");
        return elf.AsSpan((int)offset, length);
    }

    private static string CString(byte[] elf, ulong offset, string path)
    {
        if (offset >= (ulong)elf.Length)
            throw new InvalidDataException($"{path}: string at offset {offset} lies outside the file");
        int start = (int)offset;
        int end = Array.IndexOf(elf, (byte)0, start);
        if (end < 0)
            throw new InvalidDataException($"{path}: unterminated string at offset {offset}");
        return Encoding.ASCII.GetString(elf, start, end - start);
    }
}
