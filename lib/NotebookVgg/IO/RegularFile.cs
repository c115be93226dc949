namespace NotebookVgg.IO;

/// <summary>
/// Checks an input before it is opened. Opening a named pipe (FIFO) for reading blocks until some other process writes
/// to it — forever, for a user who passed one by mistake — and .NET cannot tell a pipe from a file before opening it;
/// but a pipe or a device reports a length of 0, and no input this project reads is empty.
/// </summary>
internal static class RegularFile
{
    /// <summary>Throws, naming <paramref name="path"/> and <paramref name="what"/> it should be, unless it is a non-empty file.</summary>
    public static void EnsureReadable(string path, string what)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
            throw new InvalidDataException($"{path}: a folder, not {what}");
        var info = new FileInfo(path);
        if (!info.Exists)
            throw new FileNotFoundException($"{path}: no such {what}", path);
        // A link is judged by what it points to: /dev/fd/N from a shell's <(…) points to "pipe:[…]", which is no file.
        var target = info.LinkTarget is null ? info : info.ResolveLinkTarget(returnFinalTarget: true) as FileInfo;
        if (target is null || !target.Exists || target.Length == 0)
            throw new InvalidDataException($"{path}: empty, or not a regular file (a pipe or a device); not {what}");
    }
}
