namespace NotebookVgg.IO;

/// <summary>
/// Folders a write creates on its way to its target, removed again when it fails: a failed download or extraction leaves
/// no empty folder behind that was not there before.
/// </summary>
internal static class CreatedFolders
{
    /// <summary>The outermost folder on the way to <paramref name="folder"/> that does not exist yet, if any.</summary>
    public static string? FirstMissing(string folder)
    {
        string? missing = null;
        for (string? f = folder; f is not null && !Directory.Exists(f); f = Path.GetDirectoryName(f))
            missing = f;
        return missing;
    }

    /// <summary>Removes the folders a failed write created (from <paramref name="firstCreated"/>, what <see cref="FirstMissing"/> said before it), innermost first, as long as they are empty.</summary>
    public static void RemoveEmpty(string folder, string? firstCreated)
    {
        if (firstCreated is null)
            return;
        for (string? f = folder; f is not null && f.Length >= firstCreated.Length; f = Path.GetDirectoryName(f))
        {
            if (!Directory.Exists(f) || Directory.EnumerateFileSystemEntries(f).Any())
                return;
            Directory.Delete(f);
        }
    }
}
