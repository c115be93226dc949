namespace NotebookVgg.IO;

/// <summary>A file being written under a temporary name (<see cref="AtomicFile.Create"/>): committed by a rename, or deleted.</summary>
internal sealed class PendingFile : IDisposable
{
    private readonly bool _preserveMode;
    private readonly string _what;
    private readonly long? _expectedBytes;
    private readonly string? _advice;
    private bool _done;

    internal PendingFile(string finalPath, string tempPath, bool preserveMode, string what, long? expectedBytes, string? advice)
    {
        FinalPath = finalPath;
        TempPath = tempPath;
        _preserveMode = preserveMode;
        _what = what;
        _expectedBytes = expectedBytes;
        _advice = advice;
        try
        {
            // FileShare.None locks it (flock on Linux): RemoveStaleTemporaries of another process leaves it alone while this one lives.
            Stream = new FileStream(tempPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16);
        }
        catch (Exception ex) when (WriteFailure.IsWriteError(ex))
        {
            AtomicFile.TryDelete(tempPath);
            throw WriteFailure.Explain(ex, finalPath, what, expectedBytes, advice);
        }
    }

    /// <summary>The full path the file gets on <see cref="Commit"/>.</summary>
    public string FinalPath { get; }

    /// <summary>The temporary file beside <see cref="FinalPath"/> that <see cref="Stream"/> writes to.</summary>
    public string TempPath { get; }

    /// <summary>Write the contents here; <see cref="Commit"/> flushes and closes it.</summary>
    public FileStream Stream { get; }

    /// <summary>Flushes to disk and renames the temporary file over the final name.</summary>
    /// <exception cref="WriteFailedException">Flushing or renaming failed; the temporary file is deleted, the final name untouched.</exception>
    public void Commit()
    {
        ObjectDisposedException.ThrowIf(_done, this);
        try
        {
            Stream.Flush(flushToDisk: true);
            Stream.Dispose();
            if (_preserveMode && !OperatingSystem.IsWindows() && File.Exists(FinalPath))
                File.SetUnixFileMode(TempPath, File.GetUnixFileMode(FinalPath));
            File.Move(TempPath, FinalPath, overwrite: true);
            _done = true;
        }
        catch (Exception ex) when (WriteFailure.IsWriteError(ex))
        {
            throw Fail(ex);
        }
    }

    /// <summary>Deletes the temporary file and returns the one-line exception for <paramref name="error"/>, to throw.</summary>
    public WriteFailedException Fail(Exception error)
    {
        long written = 0;
        try { written = Stream.Length; } catch (Exception ex) when (ex is IOException or ObjectDisposedException) { }
        Dispose();
        // Without a known size, what was written when the disk filled is the least the file needs.
        return WriteFailure.Explain(error, FinalPath, _what, _expectedBytes ?? (written > 0 ? written : null), _advice,
            neededIsLowerBound: _expectedBytes is null);
    }

    /// <summary>Without a <see cref="Commit"/>, closes the stream and deletes the temporary file; after one, does nothing.</summary>
    public void Dispose()
    {
        if (_done)
            return;
        _done = true;
        try
        {
            Stream.Dispose(); // flushes what is buffered: on a full disk that fails, and the file goes all the same
        }
        catch (Exception ex) when (WriteFailure.IsWriteError(ex))
        {
        }
        AtomicFile.TryDelete(TempPath);
    }
}
