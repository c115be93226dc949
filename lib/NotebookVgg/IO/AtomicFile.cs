namespace NotebookVgg.IO;

/// <summary>
/// Writes files so that nothing half-written is ever seen under the final name: data goes to a
/// temporary file beside the target, which is renamed over the target only when complete.
/// </summary>
internal static class AtomicFile
{
    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes, bool preserveMode = false)
    {
        using var file = Create(path, preserveMode);
        file.Stream.Write(bytes);
        file.Commit();
    }

    /// <summary>Writes text (UTF-8) to <paramref name="path"/> atomically.</summary>
    public static void WriteAllText(string path, string text)
    {
        using var file = Create(path);
        using (var writer = new StreamWriter(file.Stream, new System.Text.UTF8Encoding(false), leaveOpen: true))
            writer.Write(text);
        file.Commit();
    }

    /// <summary>
    /// Opens a temporary file beside <paramref name="path"/>. Call <see cref="PendingFile.Commit"/> to
    /// rename it into place; disposing without committing deletes it.
    /// </summary>
    public static PendingFile Create(string path, bool preserveMode = false)
    {
        string full = Path.GetFullPath(path);
        string? dir = Path.GetDirectoryName(full);
        if (!string.IsNullOrEmpty(dir))
            Directory.CreateDirectory(dir);
        return new PendingFile(full, TempNameFor(full), preserveMode);
    }

    /// <summary>The temporary name used while <paramref name="path"/> is being written.</summary>
    public static string TempNameFor(string path) =>
        $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.partial";

    /// <summary>A file being written under a temporary name.</summary>
    internal sealed class PendingFile : IDisposable
    {
        private readonly bool _preserveMode;
        private bool _committed;

        internal PendingFile(string finalPath, string tempPath, bool preserveMode)
        {
            FinalPath = finalPath;
            TempPath = tempPath;
            _preserveMode = preserveMode;
            Stream = new FileStream(tempPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16);
        }

        /// <summary>The full path the file gets on <see cref="Commit"/>.</summary>
        public string FinalPath { get; }

        /// <summary>The temporary file beside <see cref="FinalPath"/> that <see cref="Stream"/> writes to.</summary>
        public string TempPath { get; }

        /// <summary>Write the contents here; <see cref="Commit"/> flushes and closes it.</summary>
        public FileStream Stream { get; }

        /// <summary>Flushes to disk and renames the temporary file over the final name.</summary>
        public void Commit()
        {
            ObjectDisposedException.ThrowIf(_committed, this);
            Stream.Flush(flushToDisk: true);
            Stream.Dispose();
            if (_preserveMode && !OperatingSystem.IsWindows() && File.Exists(FinalPath))
                File.SetUnixFileMode(TempPath, File.GetUnixFileMode(FinalPath));
            File.Move(TempPath, FinalPath, overwrite: true);
            _committed = true;
        }

        /// <summary>Without a <see cref="Commit"/>, closes the stream and deletes the temporary file; after one, does nothing.</summary>
        public void Dispose()
        {
            if (_committed)
                return;
            Stream.Dispose();
            try { File.Delete(TempPath); }
            catch (IOException) { /* best effort: the name says .partial, nothing mistakes it for complete */ }
            _committed = true;
        }
    }
}
