namespace NotebookVgg.Tests.TestSupport;

/// <summary>A fresh folder under /tmp, deleted with its contents on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory(string prefix = "nvgg-test")
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    /// <summary>Every file below the folder, relative, sorted: to assert that nothing else was written.</summary>
    public IReadOnlyList<string> Files() =>
        [.. Directory.GetFiles(Path, "*", SearchOption.AllDirectories).Select(f => System.IO.Path.GetRelativePath(Path, f)).Order(StringComparer.Ordinal)];

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Locates files of the repository and of ../shared for tests; fails loudly when one is missing.</summary>
public static class RepoFiles
{
    public static string Root { get; } = FindRoot();

    /// <summary>
    /// The real CIFAR-10 sample, found as the library finds it (<c>$NOTEBOOKVGG_SAMPLE</c>, else ../shared/data beside the
    /// checkout). Tests that need it fail (not skip) without it.
    /// </summary>
    public static string SampleArchive =>
        NotebookVgg.IO.ProjectPaths.SampleArchive()
        ?? throw new FileNotFoundException(
            $"the CIFAR-10 sample is required by this test and is missing: {System.IO.Path.GetFullPath(System.IO.Path.Combine(Root, "..", "shared", "data", "cifar-10-sample-binary.tar.gz"))} " +
            $"(or set {NotebookVgg.IO.ProjectPaths.SampleEnvironmentVariable} to the archive's path)");

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    /// <summary>The version Directory.Packages.props pins for <paramref name="packageId"/> (a $(Property) resolved).</summary>
    public static string PinnedVersion(string packageId)
    {
        var props = System.Xml.Linq.XDocument.Load(Path("Directory.Packages.props")).Root!;
        string version = props.Descendants("PackageVersion").FirstOrDefault(e => string.Equals((string?)e.Attribute("Include"), packageId, StringComparison.OrdinalIgnoreCase))
            ?.Attribute("Version")?.Value ?? throw new InvalidOperationException($"Directory.Packages.props pins no version of {packageId}");
        return version.StartsWith("$(", StringComparison.Ordinal)
            ? props.Descendants(version[2..^1]).Single().Value
            : version;
    }

    /// <summary>The host's libtorch package suffix, as Directory.Build.props chooses it: libtorch-cpu-&lt;this&gt;.</summary>
    public static string LibTorchPlatform =>
        OperatingSystem.IsLinux() ? "linux-x64" : OperatingSystem.IsMacOS() ? "osx-arm64" : OperatingSystem.IsWindows() ? "win-x64"
        : throw new PlatformNotSupportedException("libtorch-cpu is built for Linux, macOS and Windows only");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "NotebookVgg.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"NotebookVgg.sln not found above {AppContext.BaseDirectory}");
    }
}
