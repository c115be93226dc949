using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace NotebookVgg.IO;

/// <summary>
/// An exclusive lock between processes on a file's name: <c>NAME.lock</c> beside it, held with the operating system's file
/// locking (.NET's <see cref="FileShare.None"/>, which is <c>flock(LOCK_EX)</c> on Linux and macOS). The kernel releases it
/// when the holder exits, however it exits (kill -9 included), so a lock is never stuck. The holder removes the lock file
/// when it lets go; one left by a killed process is taken over and removed by the next holder. Within one process a lock is held
/// once: a second <see cref="TryAcquire"/> of the same name finds it held (and <see cref="Acquire"/> waits), unless both ask for a
/// re-entrant lock (a run that checks its checkpoint early and again when it starts training).
/// </summary>
internal sealed partial class FileLock : IDisposable
{
    private static readonly Dictionary<string, Held> HeldHere = new(StringComparer.Ordinal);
    private readonly Held _held;
    private bool _released;

    private FileLock(Held held) => _held = held;

    /// <summary>The lock file's full path.</summary>
    public string LockPath => _held.Path;

    /// <summary>The lock file that guards <paramref name="file"/>: <c>file.lock</c>.</summary>
    public static string PathFor(string file) => Path.GetFullPath(file) + ".lock";

    /// <summary>
    /// Takes the lock on <paramref name="lockPath"/> (creating the file; its folder must exist), or returns null at once when
    /// another process holds it. <paramref name="purpose"/> is stored in the file for <see cref="Holder"/> ("training
    /// into data/checkpoints/cpu.ckpt"). <paramref name="reentrant"/>: when this process holds it already, re-entrantly, return another
    /// handle on it rather than null.
    /// </summary>
    /// <exception cref="IOException">The lock file cannot be created (a read-only folder, a full disk).</exception>
    public static FileLock? TryAcquire(string lockPath, string purpose, bool reentrant = false)
    {
        string full = Path.GetFullPath(lockPath);
        lock (HeldHere)
        {
            if (HeldHere.TryGetValue(full, out var mine))
            {
                if (!reentrant || !mine.Reentrant)
                    return null;
                mine.Count++;
                return new FileLock(mine);
            }
            // A holder that lets go between our open and our lock leaves us holding a removed file: check and try again.
            for (int attempt = 0; attempt < 20; attempt++)
            {
                FileStream stream;
                try
                {
                    stream = new FileStream(full, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1,
                        OperatingSystem.IsWindows() ? FileOptions.DeleteOnClose : FileOptions.None);
                }
                catch (IOException ex) when (WriteFailure.Classify(ex) == WriteProblem.InUse)
                {
                    return null;
                }
                string token = $"pid {Environment.ProcessId} ({ProcessDescription()}) since {DateTime.Now.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)}: {purpose}\n{Guid.NewGuid():N}\n";
                try
                {
                    stream.SetLength(0);
                    stream.Write(Encoding.UTF8.GetBytes(token));
                    stream.Flush();
                }
                catch (IOException)
                {
                    // A full disk cannot take even the lock file's line: leave nothing behind.
                    if (!OperatingSystem.IsWindows())
                        AtomicFile.TryDelete(full);
                    try { stream.Dispose(); } catch (IOException) { }
                    throw;
                }
                if (OperatingSystem.IsWindows() || ReadUnlocked(full) == token)
                {
                    var held = new Held(full, stream) { Count = 1, Reentrant = reentrant };
                    HeldHere[full] = held;
                    return new FileLock(held);
                }
                stream.Dispose();
            }
            throw new IOException($"{full}: could not take the lock: its file keeps being replaced by other processes");
        }
    }

    /// <summary>
    /// Takes the lock on <paramref name="lockPath"/>, waiting while another process holds it: <paramref name="waiting"/> is told
    /// once who holds it, then the lock is tried every half second until it is free or <paramref name="cancellationToken"/> fires.
    /// </summary>
    public static FileLock Acquire(string lockPath, string purpose, Action<string>? waiting = null, CancellationToken cancellationToken = default)
    {
        bool told = false;
        while (true)
        {
            if (TryAcquire(lockPath, purpose) is { } taken)
                return taken;
            if (!told)
            {
                waiting?.Invoke(WaitingFor(lockPath));
                told = true;
            }
            cancellationToken.WaitHandle.WaitOne(PollInterval);
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary><see cref="Acquire"/> without blocking a thread while it waits.</summary>
    public static async Task<FileLock> AcquireAsync(string lockPath, string purpose, Action<string>? waiting = null, CancellationToken cancellationToken = default)
    {
        bool told = false;
        while (true)
        {
            if (TryAcquire(lockPath, purpose) is { } taken)
                return taken;
            if (!told)
            {
                waiting?.Invoke(WaitingFor(lockPath));
                told = true;
            }
            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(500);

    private static string WaitingFor(string lockPath) =>
        $"waiting for another process ({Holder(lockPath) ?? "it holds " + Path.GetFullPath(lockPath)})";

    /// <summary>Who holds <paramref name="lockPath"/>, as its holder wrote it ("pid 123 (nvgg train …) since …: …"), or null if unknown.</summary>
    public static string? Holder(string lockPath)
    {
        if (OperatingSystem.IsWindows())
            return null;
        string? text = ReadUnlocked(Path.GetFullPath(lockPath));
        return text?.Split('\n')[0] is { Length: > 0 } line ? line : null;
    }

    /// <summary>Lets go of this handle; the last handle in the process removes the lock file and releases the lock.</summary>
    public void Dispose()
    {
        if (_released)
            return;
        _released = true;
        lock (HeldHere)
        {
            if (--_held.Count > 0)
                return;
            HeldHere.Remove(_held.Path);
            // Removed while still locked, then closed: whoever opens the name next creates a fresh lock file.
            if (!OperatingSystem.IsWindows())
            {
                try { File.Delete(_held.Path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
            _held.Stream.Dispose();
        }
    }

    /// <summary>"nvgg train --checkpoint x.ckpt", or the process name.</summary>
    private static string ProcessDescription()
    {
        string[] args = Environment.GetCommandLineArgs();
        string name = args.Length > 0 ? Path.GetFileNameWithoutExtension(args[0]) : "process";
        string text = string.Join(' ', [name, .. args.Skip(1)]);
        return text.Length > 120 ? text[..117] + "..." : text;
    }

    /// <summary>
    /// The file's text read without taking a lock (a .NET open would conflict with the holder's lock): through libc's open and
    /// read. Null when it does not exist or cannot be read.
    /// </summary>
    private static unsafe string? ReadUnlocked(string path)
    {
        int fd = Open(path, 0 /* O_RDONLY */);
        if (fd < 0)
            return null;
        try
        {
            byte[] buffer = new byte[4096];
            int total = 0;
            fixed (byte* p = buffer)
            {
                while (total < buffer.Length)
                {
                    nint n = Read(fd, p + total, buffer.Length - total);
                    if (n <= 0)
                        break;
                    total += (int)n;
                }
            }
            return Encoding.UTF8.GetString(buffer, 0, total);
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "read")]
    private static unsafe partial nint Read(int fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    private sealed class Held(string path, FileStream stream)
    {
        public string Path { get; } = path;
        public FileStream Stream { get; } = stream;
        public int Count { get; set; }
        public bool Reentrant { get; init; }
    }
}
