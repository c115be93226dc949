using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace NotebookVgg.Tests.TestSupport;

/// <summary>
/// A folder with a real fault of the environment, for tests of what writers do then: a small tmpfs (a disk that fills up) or a
/// read-only bind mount. Mounting needs root, which CI has; without it the test fails, saying so, rather than skipping.
/// Unmounted (lazily if still busy) and removed on dispose, whatever the test did.
/// </summary>
public sealed class FaultyFolder : IDisposable
{
    private readonly string _mountPoint;
    private readonly string? _source;

    private FaultyFolder(string mountPoint, string? source)
    {
        _mountPoint = mountPoint;
        _source = source;
    }

    /// <summary>The mounted folder.</summary>
    public string Path => _mountPoint;

    /// <summary>A path inside the folder.</summary>
    public string Combine(params string[] parts) => System.IO.Path.Combine([_mountPoint, .. parts]);

    /// <summary>A tmpfs of <paramref name="bytes"/> (rounded up to whole pages by the kernel): writes beyond it fail with ENOSPC.</summary>
    public static FaultyFolder FullDisk(long bytes)
    {
        RequireRoot();
        string mountPoint = NewFolder("nvgg-tmpfs");
        try
        {
            Run("mount", "-t", "tmpfs", "-o", string.Create(CultureInfo.InvariantCulture, $"size={bytes},mode=0755"), "tmpfs", mountPoint);
        }
        catch
        {
            Directory.Delete(mountPoint);
            throw;
        }
        return new FaultyFolder(mountPoint, null);
    }

    /// <summary>
    /// A read-only view of a new folder that <paramref name="fill"/> may fill first (through its writable path): a bind mount,
    /// remounted read-only, so writes fail with EROFS even for root (file permissions would not stop root).
    /// </summary>
    public static FaultyFolder ReadOnly(Action<string>? fill = null)
    {
        RequireRoot();
        string source = NewFolder("nvgg-rosrc");
        string mountPoint = NewFolder("nvgg-ro");
        try
        {
            fill?.Invoke(source);
            Run("mount", "--bind", source, mountPoint);
            try
            {
                Run("mount", "-o", "remount,bind,ro", mountPoint);
            }
            catch
            {
                Run("umount", mountPoint);
                throw;
            }
        }
        catch
        {
            Directory.Delete(mountPoint, recursive: true);
            Directory.Delete(source, recursive: true);
            throw;
        }
        return new FaultyFolder(mountPoint, source);
    }

    /// <summary>
    /// Fills the folder's file system to the last page with <c>FILLER</c> (an empty file or folder still fits: they take no pages on
    /// tmpfs), so that the next write of any byte fails with ENOSPC, even of a file too small for a size check to refuse.
    /// </summary>
    public void Fill()
    {
        using var filler = new FileStream(Combine("FILLER"), FileMode.Create, FileAccess.Write, FileShare.None, 1);
        byte[] page = new byte[4096];
        try
        {
            while (true)
                filler.Write(page);
        }
        catch (IOException) when (FreeBytes < page.Length)
        {
        }
    }

    /// <summary>Free bytes left on the folder's file system.</summary>
    public long FreeBytes => new DriveInfo(_mountPoint).AvailableFreeSpace;

    /// <summary>Every entry below the folder (files and folders), relative, sorted: to assert that nothing was left behind.</summary>
    public IReadOnlyList<string> Entries() =>
        [.. Directory.EnumerateFileSystemEntries(_mountPoint, "*", SearchOption.AllDirectories)
            .Select(f => System.IO.Path.GetRelativePath(_mountPoint, f)).Order(StringComparer.Ordinal)];

    public void Dispose()
    {
        if (!TryRun("umount", _mountPoint))
            TryRun("umount", "-l", _mountPoint); // still busy (a killed child's open file): detach now, the kernel finishes later
        try { Directory.Delete(_mountPoint, recursive: true); } catch (IOException) { }
        if (_source is not null)
        {
            try { Directory.Delete(_source, recursive: true); } catch (IOException) { }
        }
    }

    private static string NewFolder(string prefix)
    {
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return path;
    }

    private static void RequireRoot()
    {
        if (!OperatingSystem.IsLinux() || GetEuid() != 0)
            throw new InvalidOperationException(
                "this test mounts a tmpfs or a read-only bind mount to make a real full disk or read-only folder, which needs root on Linux " +
                "(CI runs as root): run the tests as root");
    }

    private static void Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string arg in args)
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start");
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} failed ({process.ExitCode}): {stderr.Trim()}");
    }

    private static bool TryRun(string program, params string[] args)
    {
        try
        {
            Run(program, args);
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    [DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint GetEuid();
}
