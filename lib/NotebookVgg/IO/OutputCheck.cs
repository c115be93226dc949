namespace NotebookVgg.IO;

/// <summary>
/// Checks, before long work, that an output can be written where it is to go: its folder exists or can be created, takes a
/// new file (tried with a probe file, since permissions, read-only mounts and ACLs all decide it and only trying tells), and
/// has the free space a file of known size needs. Then a run fails in its first second rather than after an hour of training.
/// </summary>
internal static class OutputCheck
{
    /// <summary>
    /// Throws a <see cref="WriteFailedException"/> (one line: the file, the problem, <paramref name="advice"/>) unless a file of
    /// <paramref name="bytesNeeded"/> bytes can be written at <paramref name="path"/> now. A missing folder is created.
    /// </summary>
    public static void EnsureCanWrite(string path, string what, long bytesNeeded = 0, string? advice = null)
    {
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full)!;
        if (!CanWrite(folder, out var error))
            throw WriteFailure.Explain(error!, full, what, bytesNeeded > 0 ? bytesNeeded : null, advice);
        if (bytesNeeded > 0 && WriteFailure.FreeBytes(folder) is { } free && free < bytesNeeded)
            throw WriteFailure.NotEnoughSpace(full, what, bytesNeeded, free, advice);
    }

    /// <summary>Whether <paramref name="folder"/> (created if missing) takes a new file; <paramref name="error"/> says why not.</summary>
    public static bool CanWrite(string folder, out Exception? error)
    {
        error = null;
        try
        {
            string full = Path.GetFullPath(folder);
            Directory.CreateDirectory(full);
            string probe = Path.Combine(full, $".nvgg-probe.{Environment.ProcessId}.{Guid.NewGuid():N}");
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose))
            {
            }
            return true;
        }
        catch (Exception ex) when (WriteFailure.IsWriteError(ex))
        {
            error = ex;
            return false;
        }
    }
}
