namespace NotebookVgg.IO;

/// <summary>
/// Where a cache goes when its own folder cannot be written. A read-only data folder (a shared drive, a container's input
/// folder, a cluster's data set directory) is normal: its cache then lives under the user's cache folder
/// (<see cref="ProjectPaths.UserCacheDirectory"/>), and when that cannot be written either the work goes on without a cache.
/// Either way the caller is told in one line.
/// </summary>
internal static class CacheFolder
{
    /// <summary>The stand-in for a cache folder that cannot be written: <c>~/.cache/notebookvgg/NAME</c> (XDG_CACHE_HOME honoured).</summary>
    public static string FallbackFor(string name) => Path.Combine(ProjectPaths.UserCacheDirectory(), name);

    /// <summary>The folders a cached file may be in, in the order to look: <paramref name="preferred"/>, then its stand-in.</summary>
    public static IReadOnlyList<string> Candidates(string preferred, string name)
    {
        string full = Path.GetFullPath(preferred);
        string fallback = Path.GetFullPath(FallbackFor(name));
        return full == fallback ? [full] : [full, fallback];
    }

    /// <summary>
    /// The folder to write the cache to: <paramref name="preferred"/> when it can be written, else its stand-in, else null (no
    /// cache). <paramref name="log"/> hears why when it is not <paramref name="preferred"/>, naming <paramref name="what"/>.
    /// </summary>
    public static string? Writable(string preferred, string name, string what, Action<string>? log)
    {
        var candidates = Candidates(preferred, name);
        if (OutputCheck.CanWrite(candidates[0], out var first))
            return candidates[0];
        string why = Reason(candidates[0], first!);
        Exception? second = null;
        if (candidates.Count > 1 && OutputCheck.CanWrite(candidates[1], out second))
        {
            log?.Invoke($"{what}: {why}; cached in {candidates[1]} instead");
            return candidates[1];
        }
        string also = second is null ? "" : $", and {Reason(candidates[1], second)}";
        log?.Invoke($"{what}: {why}{also}; going on without a cache (set XDG_CACHE_HOME to a writable folder to keep one)");
        return null;
    }

    /// <summary>"/data/features is on a read-only file system" and the like.</summary>
    public static string Reason(string folder, Exception error) => WriteFailure.Classify(error) switch
    {
        WriteProblem.ReadOnly => $"{folder} is on a read-only file system",
        WriteProblem.PermissionDenied => $"{folder} is not writable for this user",
        WriteProblem.DiskFull => $"the disk holding {folder} is full",
        _ => $"{folder} cannot be written ({error.Message.ReplaceLineEndings(" ")})",
    };
}
