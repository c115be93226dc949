using System.Text;
using TorchSharp;

namespace NotebookVgg.Runtime;

/// <summary>
/// Where TorchSharp's native files are, for <see cref="NativeRuntime"/>: every libLibTorchSharp.so this process might load,
/// the folders libtorch's libraries are in (the app's, then the NuGet cache's), and the system's libstdc++.
/// </summary>
internal static class NativeFiles
{
    /// <summary>TorchSharp's native library's file name.</summary>
    public const string LibTorchSharpFile = "libLibTorchSharp.so";

    /// <summary>Every libLibTorchSharp.so this process might load: next to the app, in its runtimes folder, and in the NuGet package TorchSharp.dll came from.</summary>
    public static IEnumerable<string> LibTorchSharpCandidates()
    {
        var dirs = new List<string> { AppContext.BaseDirectory, Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native") };
        if (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") is string searchDirs)
            dirs.AddRange(searchDirs.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        string? torchSharpDir = Path.GetDirectoryName(typeof(torch).Assembly.Location);
        if (!string.IsNullOrEmpty(torchSharpDir))
        {
            dirs.Add(torchSharpDir);
            // NuGet cache layout: torchsharp/<version>/lib/<tfm>/TorchSharp.dll and .../runtimes/linux-x64/native/
            dirs.Add(Path.GetFullPath(Path.Combine(torchSharpDir, "..", "..", "runtimes", "linux-x64", "native")));
        }
        // The NuGet cache copy is what a notebook kernel's #r "nuget: TorchSharp" loads (read only, never changed).
        dirs.Add(Path.Combine(NuGetPackagesFolder(), "torchsharp", NativeRuntime.TorchSharpVersion, "runtimes", "linux-x64", "native"));
        return dirs
            .Select(d => Path.GetFullPath(Path.Combine(d, LibTorchSharpFile)))
            .Distinct(StringComparer.Ordinal)
            .Where(File.Exists);
    }

    public static IEnumerable<string> LibTorchDirectories(IReadOnlyList<string> libTorchSharpFiles)
    {
        foreach (string f in libTorchSharpFiles)
            yield return Path.GetDirectoryName(f)!;
        // NuGet cache: libtorch-cpu-linux-x64/<version>/runtimes/linux-x64/native next to torchsharp/<version>.
        string? torchSharpDir = Path.GetDirectoryName(typeof(torch).Assembly.Location);
        if (string.IsNullOrEmpty(torchSharpDir))
            yield break;
        var packageRoots = new[] { Path.GetFullPath(Path.Combine(torchSharpDir, "..", "..", "..", "..")), NuGetPackagesFolder() };
        foreach (string packagesRoot in packageRoots.Distinct(StringComparer.Ordinal))
        {
            foreach (string package in NativeRuntime.BuiltForCuda
                ? new[] { "libtorch-cuda-12.8-linux-x64", "libtorch-cpu-linux-x64" }
                : new[] { "libtorch-cpu-linux-x64", "libtorch-cuda-12.8-linux-x64" })
            {
                string root = Path.Combine(packagesRoot, package);
                if (!Directory.Exists(root))
                    continue;
                foreach (string version in Directory.GetDirectories(root).OrderDescending(StringComparer.Ordinal))
                    yield return Path.Combine(version, "runtimes", "linux-x64", "native");
            }
        }
    }

    /// <summary>The NuGet global packages folder: $NUGET_PACKAGES, else ~/.nuget/packages.</summary>
    public static string NuGetPackagesFolder() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } env
            ? env
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    /// <summary>The system's libstdc++.so.6: the one this process has mapped, else the first in the usual places.</summary>
    public static string? SystemLibStdCxx()
    {
        // The one this process has mapped is the one that counts; fall back to the usual places.
        try
        {
            foreach (string line in File.ReadLines("/proc/self/maps"))
            {
                int slash = line.IndexOf('/', StringComparison.Ordinal);
                if (slash >= 0 && line.Contains("libstdc++.so", StringComparison.Ordinal))
                    return line[slash..];
            }
        }
        catch (IOException) { }
        string[] known = ["/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6", "/lib/aarch64-linux-gnu/libstdc++.so.6"];
        return known.FirstOrDefault(File.Exists);
    }

    /// <summary>Whether <paramref name="path"/> holds <paramref name="text"/> as a NUL-terminated string (a version name in an ELF file).</summary>
    public static bool Contains(string path, string text)
    {
        byte[] needle = Encoding.ASCII.GetBytes(text + "\0");
        return File.ReadAllBytes(path).AsSpan().IndexOf(needle) >= 0;
    }
}
