using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace NotebookVgg.IO;

/// <summary>
/// Writes files so that nothing half-written is ever seen under the final name, and nothing is left behind when a write fails:
/// <list type="bullet">
/// <item>the data go to a temporary file beside the target, <c>NAME.PID.GUID.partial</c> (unique, so two processes writing the
/// same file never share one), renamed over the target only when complete and flushed to disk: the previous file stays whole until then;</item>
/// <item>a write that fails (a full disk, a read-only folder) deletes its temporary file and throws a
/// <see cref="WriteFailedException"/> whose one-line message names the file, what happened and what to do; with a known size,
/// too little free space is found before anything is written;</item>
/// <item>a writer killed mid-write (kill -9) cannot clean up: its temporary file stays locked (<see cref="FileShare.None"/>) until the
/// kernel releases it at the process's end, and the next write of the same file removes it (see <see cref="RemoveStaleTemporaries"/>).</item>
/// </list>
/// Two processes writing the same file at once each rename a complete file into place; the last rename wins.
/// </summary>
internal static partial class AtomicFile
{
    /// <summary>A temporary file younger than this is never removed as stale: its writer may be between creating and locking it.</summary>
    private static readonly TimeSpan StaleAfter = TimeSpan.FromSeconds(1);

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes, bool preserveMode = false, string what = "file", string? advice = null)
    {
        using var file = Create(path, preserveMode, what, bytes.Length, advice);
        try
        {
            file.Stream.Write(bytes);
        }
        catch (Exception ex) when (WriteFailure.IsWriteError(ex))
        {
            throw file.Fail(ex);
        }
        file.Commit();
    }

    /// <summary>Writes text (UTF-8) to <paramref name="path"/> atomically.</summary>
    public static void WriteAllText(string path, string text, string what = "file", string? advice = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var encoding = new System.Text.UTF8Encoding(false);
        WriteAllBytes(path, encoding.GetBytes(text), what: what, advice: advice);
    }

    /// <summary>
    /// Writes <paramref name="path"/> atomically with <paramref name="write"/>, which gets the temporary file's stream. Any
    /// input/output error (in <paramref name="write"/> too) becomes a <see cref="WriteFailedException"/>; the temporary file is
    /// gone either way. <paramref name="expectedBytes"/>, when known, is checked against the free space first.
    /// </summary>
    public static void Write(string path, string what, Action<Stream> write, long? expectedBytes = null, string? advice = null, bool preserveMode = false)
    {
        ArgumentNullException.ThrowIfNull(write);
        using var file = Create(path, preserveMode, what, expectedBytes, advice);
        try
        {
            write(file.Stream);
        }
        catch (Exception ex) when (WriteFailure.IsWriteError(ex))
        {
            throw file.Fail(ex);
        }
        file.Commit();
    }

    /// <summary>
    /// Opens a temporary file beside <paramref name="path"/> (creating the folder if needed). Call <see cref="PendingFile.Commit"/>
    /// to rename it into place; disposing without committing deletes it.
    /// </summary>
    /// <exception cref="WriteFailedException">The folder cannot be written, or has less than <paramref name="expectedBytes"/> free.</exception>
    public static PendingFile Create(string path, bool preserveMode = false, string what = "file", long? expectedBytes = null, string? advice = null)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        try
        {
            Directory.CreateDirectory(dir);
        }
        catch (Exception ex) when (WriteFailure.IsWriteError(ex))
        {
            throw WriteFailure.Explain(ex, full, what, expectedBytes, advice);
        }
        RemoveStaleTemporaries(full);
        if (expectedBytes is { } needed && WriteFailure.FreeBytes(dir) is { } free && free < needed)
            throw WriteFailure.NotEnoughSpace(full, what, needed, free, advice);
        return new PendingFile(full, TempNameFor(full), preserveMode, what, expectedBytes, advice);
    }

    /// <summary>
    /// Gives <paramref name="destination"/> the contents of the finished file <paramref name="source"/> atomically: as a hard link
    /// where the file system has them (no copy, no extra space, instant), else as a copy. Later replacing
    /// <paramref name="source"/> by rename leaves <paramref name="destination"/> as it was.
    /// </summary>
    public static void LinkOrCopy(string source, string destination, string what = "file", string? advice = null)
    {
        string target = Path.GetFullPath(destination);
        if (!OperatingSystem.IsWindows())
        {
            RemoveStaleTemporaries(target);
            string temporary = TempNameFor(target);
            if (Link(Path.GetFullPath(source), temporary) == 0)
            {
                try
                {
                    File.Move(temporary, target, overwrite: true);
                    return;
                }
                catch (Exception ex) when (WriteFailure.IsWriteError(ex))
                {
                    TryDelete(temporary);
                    throw WriteFailure.Explain(ex, target, what, null, advice);
                }
            }
        }
        long length = new FileInfo(source).Length;
        Write(target, what, stream =>
        {
            using var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
            input.CopyTo(stream, 1 << 20);
        }, length, advice);
    }

    /// <summary>The temporary name used while <paramref name="path"/> is being written: unique to this process and this write.</summary>
    public static string TempNameFor(string path) =>
        $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.partial";

    /// <summary>
    /// Removes the temporary files of <paramref name="path"/> whose writers are gone (killed mid-write): those no process holds
    /// locked, older than a second. Returns how many it removed. A temporary file another process is writing is left alone.
    /// </summary>
    public static int RemoveStaleTemporaries(string path)
    {
        string full = Path.GetFullPath(path);
        string? dir = Path.GetDirectoryName(full);
        if (dir is null || !Directory.Exists(dir))
            return 0;
        string name = Path.GetFileName(full);
        int removed = 0;
        try
        {
            foreach (string candidate in Directory.EnumerateFiles(dir, name + ".*.partial"))
            {
                if (!TemporaryName().IsMatch(Path.GetFileName(candidate)[name.Length..]))
                    continue;
                if (DateTime.UtcNow - File.GetLastWriteTimeUtc(candidate) < StaleAfter)
                    continue;
                try
                {
                    // Opening it exclusively succeeds only when no writer holds it: its writer is gone.
                    using (new FileStream(candidate, FileMode.Open, FileAccess.ReadWrite, FileShare.None, 1))
                        File.Delete(candidate);
                    removed++;
                }
                catch (Exception ex) when (WriteFailure.IsWriteError(ex))
                {
                    // In use by a live writer, or not ours to remove (a read-only folder): leave it.
                }
            }
        }
        catch (Exception ex) when (WriteFailure.IsWriteError(ex))
        {
            // The folder cannot be listed: nothing to clean.
        }
        return removed;
    }

    internal static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>What follows the target's name in a temporary file's name: ".PID.GUID.partial".</summary>
    [GeneratedRegex(@"^\.\d+\.[0-9a-f]{32}\.partial$")]
    private static partial Regex TemporaryName();

    [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string existing, string newName);
}
