using System.Formats.Tar;
using System.IO.Compression;

namespace NotebookVgg.Data;

/// <summary>
/// Extracts .tar.gz archives with the BCL's tar and gzip readers, refusing hostile archives before anything
/// is written: every entry is checked in a first pass over the archive, and only then is it extracted
/// (in a second pass) into a folder that did not exist before, which is removed again if extraction fails.
/// The first pass also adds up the entries' sizes: a disk with less free space fails before anything is written, and one that
/// fills anyway (another writer) fails with the same one-line <see cref="IO.WriteFailedException"/>.
/// </summary>
internal static class SafeTarExtraction
{
    /// <summary>
    /// Checks every entry of <paramref name="archive"/>, then extracts it into <paramref name="destination"/>,
    /// which must not exist yet (it is created). Rejected, naming the archive and the entry: absolute paths,
    /// paths with a ".." segment, links whose target is absolute or contains "..", and entry types other than
    /// files, folders and links. Link targets with ".." are refused even when they would stay inside: whether
    /// they do depends on other links, and data archives need none. A full disk or read-only folder is reported for
    /// <paramref name="reportAs"/> where given: the folder the user named, when <paramref name="destination"/> is a temporary one.
    /// </summary>
    /// <exception cref="InvalidDataException">A hostile or unreadable entry, or not a gzip-compressed tar file.</exception>
    public static async Task ExtractAsync(string archive, string destination, CancellationToken cancellationToken = default, string? reportAs = null)
    {
        string root = Path.GetFullPath(destination);
        string named = reportAs ?? root;
        if (Directory.Exists(root) || File.Exists(root))
            throw new IOException($"{root}: already exists; extraction needs a new folder");

        int entries = 0;
        long bytes = 0;
        await ForEachEntryAsync(archive, entry =>
        {
            Check(entry, archive, root);
            entries++;
            bytes += entry.EntryType is TarEntryType.Directory ? 0 : entry.Length;
        }, cancellationToken);
        if (entries == 0)
            throw new InvalidDataException($"{archive}: the archive holds no entries");

        const string What = "extracted archive";
        string advice = $"free space there or extract {Path.GetFileName(archive)} into a folder on another disk; nothing was left behind";
        try
        {
            Directory.CreateDirectory(root);
        }
        catch (Exception ex) when (IO.WriteFailure.IsWriteError(ex))
        {
            throw IO.WriteFailure.Explain(ex, named, What, bytes, "extract into a writable folder; nothing was changed");
        }
        if (IO.WriteFailure.FreeBytes(root) is { } free && free < bytes)
        {
            Directory.Delete(root);
            throw IO.WriteFailure.NotEnoughSpace(named, What, bytes, free, advice);
        }
        try
        {
            await using var file = OpenRead(archive);
            await using var gzip = new GZipStream(file, CompressionMode.Decompress);
            await TarFile.ExtractToDirectoryAsync(gzip, root, overwriteFiles: false, cancellationToken);
            await VerifyToTheEndAsync(gzip, archive, cancellationToken);
        }
        catch (Exception ex)
        {
            Directory.Delete(root, recursive: true); // nothing half-extracted stays behind
            if (IO.WriteFailure.Classify(ex) is IO.WriteProblem.DiskFull or IO.WriteProblem.ReadOnly or IO.WriteProblem.PermissionDenied)
                throw IO.WriteFailure.Explain(ex, named, What, bytes, advice);
            if (ex is InvalidDataException && ex.Message.StartsWith(archive + ":", StringComparison.Ordinal))
                throw;
            if (ex is InvalidDataException or EndOfStreamException)
                throw new InvalidDataException($"{archive}: not a readable .tar.gz archive ({ex.Message})", ex);
            throw;
        }
    }

    /// <summary>
    /// Reads the gzip stream to its end. The tar reader stops at the archive's end marker, before gzip's trailer, so
    /// without this the CRC-32 and length that gzip stores there — what tells a flipped bit — would never be checked.
    /// </summary>
    private static async Task VerifyToTheEndAsync(GZipStream gzip, string archive, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[1 << 16];
        try
        {
            while (await gzip.ReadAsync(buffer, cancellationToken) > 0)
            {
            }
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"{archive}: corrupt archive: gzip's checksum or length does not match ({ex.Message})", ex);
        }
    }

    private static async Task ForEachEntryAsync(string archive, Action<TarEntry> visit, CancellationToken cancellationToken)
    {
        await using var file = OpenRead(archive);
        await using var gzip = new GZipStream(file, CompressionMode.Decompress);
        await using var reader = new TarReader(gzip);
        try
        {
            while (await reader.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
                visit(entry);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"{archive}: not a readable .tar.gz archive ({ex.Message})", ex);
        }
        catch (EndOfStreamException ex)
        {
            throw new InvalidDataException($"{archive}: archive is truncated ({ex.Message})", ex);
        }
    }

    private static FileStream OpenRead(string archive)
    {
        if (!File.Exists(archive))
            throw new FileNotFoundException($"{archive}: archive not found", archive);
        IO.RegularFile.EnsureReadable(archive, "a .tar.gz archive");
        return new FileStream(archive, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
    }

    private static void Check(TarEntry entry, string archive, string root)
    {
        string name = entry.Name;
        switch (entry.EntryType)
        {
            case TarEntryType.GlobalExtendedAttributes:
                return; // metadata only; writes nothing
            case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile or TarEntryType.Directory:
                CheckPath(name, archive, root);
                return;
            case TarEntryType.SymbolicLink or TarEntryType.HardLink:
                CheckPath(name, archive, root);
                CheckLinkTarget(entry, archive);
                return;
            default:
                throw new InvalidDataException($"{archive}: entry '{name}' is a {entry.EntryType}; only files, folders and links are extracted");
        }
    }

    private static void CheckPath(string name, string archive, string root)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('\0', StringComparison.Ordinal))
            throw new InvalidDataException($"{archive}: an entry has an empty or invalid name");
        if (IsAbsolute(name))
            throw new InvalidDataException($"{archive}: entry '{name}' has an absolute path");
        if (Climbs(name))
            throw new InvalidDataException($"{archive}: entry '{name}' climbs out of the target folder with '..'");
        string full = Path.GetFullPath(Path.Combine(root, name));
        if (!full.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal) && full != root)
            throw new InvalidDataException($"{archive}: entry '{name}' would be written outside the target folder");
    }

    private static void CheckLinkTarget(TarEntry entry, string archive)
    {
        string target = entry.LinkName;
        if (string.IsNullOrEmpty(target))
            throw new InvalidDataException($"{archive}: link '{entry.Name}' has no target");
        if (IsAbsolute(target))
            throw new InvalidDataException($"{archive}: link '{entry.Name}' points outside the target folder (to the absolute path '{target}')");
        if (Climbs(target))
            throw new InvalidDataException($"{archive}: link '{entry.Name}' points to '{target}', which climbs with '..' (possibly outside the target folder)");
    }

    private static bool IsAbsolute(string path) =>
        path.StartsWith('/') || path.StartsWith('\\') || Path.IsPathRooted(path) || (path.Length >= 2 && path[1] == ':');

    private static bool Climbs(string path) => path.Split('/', '\\').Any(segment => segment == "..");
}
