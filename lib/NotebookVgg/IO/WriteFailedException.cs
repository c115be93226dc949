using System.Globalization;

namespace NotebookVgg.IO;

/// <summary>What kept a file from being written.</summary>
public enum WriteProblem
{
    /// <summary>The file system has too little free space (or the user's quota is used up).</summary>
    DiskFull,

    /// <summary>The folder is on a read-only mount.</summary>
    ReadOnly,

    /// <summary>The folder's permissions do not let this user write there.</summary>
    PermissionDenied,

    /// <summary>Another process is writing the same file (it holds the file's lock).</summary>
    InUse,

    /// <summary>Any other input/output error; the message says which.</summary>
    Other,
}

/// <summary>
/// A file could not be written. The message is one line: the file, what happened ("the disk is full: 1.7 GB needed,
/// 0.2 GB free") and what to do. Whatever failed, no temporary file is left behind and a previous file under the same
/// name is untouched.
/// </summary>
public sealed class WriteFailedException : IOException
{
    /// <summary>Creates the exception; <paramref name="message"/> is the whole one-line message.</summary>
    public WriteFailedException(string path, WriteProblem problem, string message, long? bytesNeeded = null, long? bytesFree = null, Exception? inner = null)
        : base(message, inner)
    {
        Path = path;
        Problem = problem;
        BytesNeeded = bytesNeeded;
        BytesFree = bytesFree;
    }

    /// <summary>The file that was to be written (its final name, never a temporary one).</summary>
    public string Path { get; }

    /// <summary>What went wrong.</summary>
    public WriteProblem Problem { get; }

    /// <summary>For <see cref="WriteProblem.DiskFull"/>: how many bytes the file needs, when known.</summary>
    public long? BytesNeeded { get; }

    /// <summary>For <see cref="WriteProblem.DiskFull"/>: how many bytes the file system had free when the write was refused.</summary>
    public long? BytesFree { get; }
}

/// <summary>Turns the operating system's errors on writing into <see cref="WriteFailedException"/>s with one-line messages.</summary>
internal static class WriteFailure
{
    // errno values as .NET reports them in IOException.HResult on Linux and macOS; the Windows HRESULTs for the same.
    private const int Enospc = 28, Erofs = 30, Edquot = 122, EdquotMac = 69, Ewouldblock = 11, EwouldblockMac = 35;
    private const int WindowsDiskFull = unchecked((int)0x80070070), WindowsHandleDiskFull = unchecked((int)0x80070027);
    private const int WindowsSharingViolation = unchecked((int)0x80070020), WindowsLockViolation = unchecked((int)0x80070021);

    // A file opened with a preallocation size (System.Formats.Tar extracts every entry so) that does not fit fails with .NET's
    // generic I/O HResult and no errno, only this text (SR.IO_DiskFull_Path_AllocationSize; .NET ships no translations of it).
    private const int CorEIo = unchecked((int)0x80131620);
    private const string PreallocationDiskFull = "because the disk was full";

    /// <summary>What <paramref name="error"/> says happened, or null when it is no write problem this class knows.</summary>
    public static WriteProblem? Classify(Exception error) => error switch
    {
        WriteFailedException w => w.Problem,
        UnauthorizedAccessException => WriteProblem.PermissionDenied,
        IOException { HResult: Enospc or Edquot or WindowsDiskFull or WindowsHandleDiskFull } => WriteProblem.DiskFull,
        IOException { HResult: EdquotMac } when OperatingSystem.IsMacOS() => WriteProblem.DiskFull,
        IOException { HResult: CorEIo } e when e.Message.Contains(PreallocationDiskFull, StringComparison.Ordinal) => WriteProblem.DiskFull,
        IOException { HResult: Erofs } => WriteProblem.ReadOnly,
        IOException { HResult: Ewouldblock or WindowsSharingViolation or WindowsLockViolation } => WriteProblem.InUse,
        IOException { HResult: EwouldblockMac } when OperatingSystem.IsMacOS() => WriteProblem.InUse,
        IOException => WriteProblem.Other,
        _ => null,
    };

    /// <summary>Whether <paramref name="error"/> is a failure to write (an input/output or permission error), not a bug.</summary>
    public static bool IsWriteError(Exception error) => error is IOException or UnauthorizedAccessException;

    /// <summary>
    /// The one-line exception for a failed write of <paramref name="path"/> (<paramref name="what"/>: "checkpoint",
    /// "feature cache file"): the problem, the sizes for a full disk, and <paramref name="advice"/> (what to do; a default per problem).
    /// </summary>
    public static WriteFailedException Explain(Exception error, string path, string what, long? bytesNeeded = null, string? advice = null,
        bool neededIsLowerBound = false)
    {
        ArgumentNullException.ThrowIfNull(error);
        if (error is WriteFailedException already)
            return already;
        var problem = Classify(error) ?? WriteProblem.Other;
        string folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path)) ?? path;
        long? free = FreeBytes(folder);
        string happened = problem switch
        {
            WriteProblem.DiskFull => DiskFull(bytesNeeded, free, neededIsLowerBound),
            WriteProblem.ReadOnly => $"{folder} is on a read-only file system",
            WriteProblem.PermissionDenied => $"no permission to write in {folder}",
            WriteProblem.InUse => "another process is writing it",
            _ => FirstLine(error.Message),
        };
        return new WriteFailedException(path, problem, $"{path}: cannot write the {what}: {happened}; {advice ?? DefaultAdvice(problem)}",
            bytesNeeded, problem == WriteProblem.DiskFull ? free : null, error);
    }

    /// <summary>What <paramref name="error"/> means for a folder, in a few words: "it is on a read-only file system", "the disk is full".</summary>
    public static string What(Exception error) => Classify(error) switch
    {
        WriteProblem.DiskFull => "the disk is full",
        WriteProblem.ReadOnly => "it is on a read-only file system",
        WriteProblem.PermissionDenied => "this user may not write there",
        WriteProblem.InUse => "another process is writing there",
        _ => FirstLine(error.Message),
    };

    /// <summary>The exception for too little space, found before anything was written.</summary>
    public static WriteFailedException NotEnoughSpace(string path, string what, long bytesNeeded, long bytesFree, string? advice = null) =>
        new(path, WriteProblem.DiskFull,
            $"{path}: cannot write the {what}: {DiskFull(bytesNeeded, bytesFree)}; {advice ?? DefaultAdvice(WriteProblem.DiskFull)}",
            bytesNeeded, bytesFree);

    /// <summary>
    /// "the disk is full: 1.7 GB needed, 0.2 GB free"; "more than 1.2 GB needed" when only a lower bound is known (what was
    /// written when it filled); "the disk is full: 0.2 GB free" when nothing is known.
    /// </summary>
    public static string DiskFull(long? bytesNeeded, long? bytesFree, bool neededIsLowerBound = false)
    {
        string free = bytesFree is { } f ? $"{Bytes(f)} free" : "free space unknown";
        return bytesNeeded is { } n ? $"the disk is full: {(neededIsLowerBound ? "more than " : "")}{Bytes(n)} needed, {free}" : $"the disk is full: {free}";
    }

    /// <summary>Free bytes for an unprivileged user on the file system holding <paramref name="folder"/> (its nearest existing ancestor); null if unknown.</summary>
    public static long? FreeBytes(string folder)
    {
        try
        {
            string? existing = System.IO.Path.GetFullPath(folder);
            while (existing is not null && !Directory.Exists(existing))
                existing = System.IO.Path.GetDirectoryName(existing);
            return existing is null ? null : new DriveInfo(existing).AvailableFreeSpace;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>A size for people: "512 B", "3.2 MB", "1.7 GB" (decimal units, one decimal).</summary>
    public static string Bytes(long bytes)
    {
        var c = CultureInfo.InvariantCulture;
        return bytes switch
        {
            < 1_000 => string.Create(c, $"{bytes} B"),
            < 1_000_000 => string.Create(c, $"{bytes / 1e3:0.0} kB"),
            < 1_000_000_000 => string.Create(c, $"{bytes / 1e6:0.0} MB"),
            _ => string.Create(c, $"{bytes / 1e9:0.0} GB"),
        };
    }

    private static string DefaultAdvice(WriteProblem problem) => problem switch
    {
        WriteProblem.DiskFull => "free space there or choose a folder on another disk; nothing was changed",
        WriteProblem.ReadOnly or WriteProblem.PermissionDenied => "choose a writable folder; nothing was changed",
        WriteProblem.InUse => "wait for it to finish, or choose another file",
        _ => "nothing was changed",
    };

    private static string FirstLine(string message)
    {
        // .NET ends the operating system's message with " : '<path>'", the temporary file's: the message names the file already.
        string line = System.Text.RegularExpressions.Regex.Replace(message.ReplaceLineEndings(" ").Trim(), @"\s*:\s*'[^']*'$", "");
        return line.Length == 0 ? "an input/output error" : line;
    }
}
