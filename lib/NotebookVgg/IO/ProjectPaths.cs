namespace NotebookVgg.IO;

/// <summary>
/// Where downloads and caches live. Order: an explicit path, then the environment variable, then the
/// repository's <c>data/</c> folder (found by walking up to <c>NotebookVgg.sln</c>), then a per-user cache.
/// </summary>
public static class ProjectPaths
{
    /// <summary>Environment variable that overrides the data folder.</summary>
    public const string DataEnvironmentVariable = "NOTEBOOKVGG_DATA";

    /// <summary>Environment variable that overrides the weights cache folder (default: <c>&lt;data&gt;/weights</c>).</summary>
    public const string WeightsEnvironmentVariable = "NOTEBOOKVGG_WEIGHTS";

    /// <summary>Environment variable that points at the CIFAR-10 sample archive (default: <c>../shared/data/...</c> beside the repository).</summary>
    public const string SampleEnvironmentVariable = "NOTEBOOKVGG_SAMPLE";

    /// <summary>The repository root (holding NotebookVgg.sln), searched upwards from the current directory and from the program's folder; null outside a checkout.</summary>
    public static string? RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>The data folder: <paramref name="explicitPath"/>, else <c>$NOTEBOOKVGG_DATA</c>, else <c>&lt;repo&gt;/data</c>, else <c>~/.cache/notebookvgg</c>.</summary>
    public static string DataDirectory(string? explicitPath = null) =>
        Path.GetFullPath(FirstNonEmpty(explicitPath, Environment.GetEnvironmentVariable(DataEnvironmentVariable))
            ?? (RepositoryRoot is { } root ? Path.Combine(root, "data") : UserCacheDirectory()));

    /// <summary>The weights cache: <paramref name="explicitPath"/>, else <c>$NOTEBOOKVGG_WEIGHTS</c>, else <c>&lt;data&gt;/weights</c>.</summary>
    public static string WeightsDirectory(string? explicitPath = null) =>
        Path.GetFullPath(FirstNonEmpty(explicitPath, Environment.GetEnvironmentVariable(WeightsEnvironmentVariable))
            ?? Path.Combine(DataDirectory(), "weights"));

    /// <summary>The real CIFAR-10 sample archive that ships beside the repository (see shared/data/README.md), if present.</summary>
    public static string? SampleArchive()
    {
        string? env = FirstNonEmpty(Environment.GetEnvironmentVariable(SampleEnvironmentVariable));
        if (env is not null)
            return File.Exists(env) ? Path.GetFullPath(env) : null;
        if (RepositoryRoot is null)
            return null;
        string path = Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared", "data", "cifar-10-sample-binary.tar.gz"));
        return File.Exists(path) ? path : null;
    }

    /// <summary>The per-user cache folder of this project: <c>$XDG_CACHE_HOME/notebookvgg</c>, else <c>~/.cache/notebookvgg</c>.</summary>
    public static string UserCacheDirectory()
    {
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string baseDir = !string.IsNullOrEmpty(xdg) ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(baseDir, "notebookvgg");
    }

    private static string? FirstNonEmpty(params string?[] values) => values.FirstOrDefault(v => !string.IsNullOrWhiteSpace(v));

    private static string? FindRepositoryRoot()
    {
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "NotebookVgg.sln")))
                    return dir.FullName;
            }
        }
        return null;
    }
}
