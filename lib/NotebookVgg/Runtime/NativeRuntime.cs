using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using TorchSharp;

namespace NotebookVgg.Runtime;

/// <summary>
/// Makes TorchSharp's native runtime load on systems whose libstdc++ is older than the one it was built
/// against (Debian 12, Ubuntu 22.04), and makes it load libtorch from its own package even when a system
/// libtorch (Debian's python3-torch) is installed. Call <see cref="EnsureReady"/> before the first tensor;
/// the library's module initializer does so, so any use of NotebookVgg first is enough.
/// </summary>
public static class NativeRuntime
{
    /// <summary>The libstdc++ version libLibTorchSharp.so 0.107.0 asks for, only for a marker symbol nothing calls.</summary>
    public const string MarkerVersion = "GLIBCXX_3.4.32";

    private const string LibTorchSharpFile = "libLibTorchSharp.so";
    private static readonly object Gate = new();
    private static NativeRuntimeStatus? _status;

    /// <summary>What <see cref="EnsureReady"/> found and did.</summary>
    public static NativeRuntimeStatus Status => _status ?? EnsureReady();

    /// <summary>
    /// Idempotent. On Linux, if the system libstdc++ lacks <see cref="MarkerVersion"/>, marks that requirement
    /// weak in every copy of libLibTorchSharp.so this process could load (build output, NuGet cache); then
    /// preloads libtorch from the package folder next to it. A no-op elsewhere.
    /// </summary>
    public static NativeRuntimeStatus EnsureReady()
    {
        lock (Gate)
        {
            if (_status is not null)
                return _status;
            if (!OperatingSystem.IsLinux())
                return _status = new NativeRuntimeStatus(false, false, [], [], null);

            string? libstdcxx = FindSystemLibStdCxx();
            bool systemHasMarker = libstdcxx is not null && FileContains(libstdcxx, MarkerVersion);
            var candidates = CandidateLibTorchSharpFiles().ToList();
            var patched = new List<string>();
            if (!systemHasMarker)
            {
                foreach (string file in candidates)
                {
                    if (ElfVersionNeeds.MakeWeak(file, MarkerVersion))
                        patched.Add(file);
                }
            }
            var preloaded = PreloadLibTorch(candidates);
            if (preloaded is not null)
                Nnpack.Disable(Path.Combine(preloaded, "libtorch_cpu.so"));
            return _status = new NativeRuntimeStatus(
                FixNeeded: !systemHasMarker,
                FixActive: !systemHasMarker && candidates.Count > 0 && candidates.All(IsMarkerWeak),
                LibTorchSharpFiles: candidates,
                PatchedNow: patched,
                LibTorchDirectory: preloaded);
        }
    }

    /// <summary>Whether <paramref name="libTorchSharp"/> already carries the weak requirement (or none at all).</summary>
    public static bool IsMarkerWeak(string libTorchSharp) =>
        ElfVersionNeeds.Read(libTorchSharp).Where(r => r.Version == MarkerVersion).All(r => r.IsWeak);

    /// <summary>Every libLibTorchSharp.so this process might load: next to the app, in its runtimes folder, and in the NuGet package TorchSharp.dll came from.</summary>
    internal static IEnumerable<string> CandidateLibTorchSharpFiles()
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
        // The NuGet cache copy is what a notebook kernel's #r "nuget: TorchSharp" loads: fix it too, even
        // when this process runs from a build output.
        dirs.Add(Path.Combine(NuGetPackagesFolder(), "torchsharp", TorchSharpVersion, "runtimes", "linux-x64", "native"));
        return dirs
            .Select(d => Path.GetFullPath(Path.Combine(d, LibTorchSharpFile)))
            .Distinct(StringComparer.Ordinal)
            .Where(File.Exists);
    }

    /// <summary>
    /// Loads libtorch's libraries by full path before TorchSharp loads them by name, so that a system libtorch
    /// (e.g. /usr/lib/x86_64-linux-gnu/libtorch_cpu.so from python3-torch) can never be picked instead.
    /// Returns the folder they were loaded from, or null if none was found.
    /// </summary>
    private static string? PreloadLibTorch(IReadOnlyList<string> libTorchSharpFiles)
    {
        foreach (string dir in LibTorchDirectories(libTorchSharpFiles))
        {
            string cpu = Path.Combine(dir, "libtorch_cpu.so");
            if (!File.Exists(cpu))
                continue;
            // Order matters: each library's dependencies must already be loaded by soname.
            foreach (string name in new[] { "libgomp-98b21ff3.so.1", "libc10.so", "libtorch_cpu.so", "libc10_cuda.so", "libtorch_cuda.so", "libtorch.so" })
            {
                string file = Path.Combine(dir, name);
                if (File.Exists(file))
                    NativeLibrary.Load(file);
            }
            return dir;
        }
        return null;
    }

    private static IEnumerable<string> LibTorchDirectories(IReadOnlyList<string> libTorchSharpFiles)
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
            foreach (string package in BuiltForCuda
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

    /// <summary>
    /// Whether this library was built with <c>-p:TorchBackend=cuda</c> (recorded in its assembly metadata): then a kernel
    /// that loads TorchSharp from NuGet gets the CUDA libtorch — the one switch a notebook needs for a GPU.
    /// </summary>
    public static bool BuiltForCuda { get; } = string.Equals(
        typeof(NativeRuntime).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "TorchBackend")?.Value,
        "cuda", StringComparison.OrdinalIgnoreCase);

    /// <summary>The NuGet global packages folder: $NUGET_PACKAGES, else ~/.nuget/packages.</summary>
    internal static string NuGetPackagesFolder() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } env
            ? env
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    private static string? FindSystemLibStdCxx()
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

    private static bool FileContains(string path, string text)
    {
        byte[] needle = Encoding.ASCII.GetBytes(text + "\0");
        return File.ReadAllBytes(path).AsSpan().IndexOf(needle) >= 0;
    }

    /// <summary>The version of the TorchSharp managed assembly.</summary>
    public static string TorchSharpVersion =>
        typeof(torch).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? typeof(torch).Assembly.GetName().Version?.ToString() ?? "unknown";
}

/// <summary>
/// Turns libtorch's NNPACK convolutions off (<c>torch.backends.nnpack.set_flags(False)</c> in PyTorch). On CPUs NNPACK does
/// not support, libtorch logs "Could not initialize NNPACK! Reason: Unsupported hardware." for every small convolution
/// (batch 1, tiny images) that oneDNN does not take — dozens of lines in a notebook's output. oneDNN runs those
/// convolutions either way. TorchSharp 0.107 has no API for the flag, so libtorch's export is called directly.
/// </summary>
internal static unsafe class Nnpack
{
    public static bool Disable(string libtorchCpu)
    {
        if (!NativeLibrary.TryLoad(libtorchCpu, out var handle)
            || !NativeLibrary.TryGetExport(handle, "_ZN2at13globalContextEv", out var context)
            || !NativeLibrary.TryGetExport(handle, "_ZN2at7Context20setUserEnabledNNPACKEb", out var set))
            return false;
        nint globalContext = ((delegate* unmanaged<nint>)context)();
        ((delegate* unmanaged<nint, byte, void>)set)(globalContext, 0); // at::Context::setUserEnabledNNPACK(false)
        return true;
    }
}

/// <summary>What <see cref="NativeRuntime.EnsureReady"/> found and did.</summary>
/// <param name="FixNeeded">The system libstdc++ lacks <see cref="NativeRuntime.MarkerVersion"/>.</param>
/// <param name="FixActive">Every libLibTorchSharp.so found carries the weak requirement.</param>
/// <param name="LibTorchSharpFiles">The copies found.</param>
/// <param name="PatchedNow">The copies this call changed.</param>
/// <param name="LibTorchDirectory">Where libtorch was preloaded from.</param>
public sealed record NativeRuntimeStatus(
    bool FixNeeded,
    bool FixActive,
    IReadOnlyList<string> LibTorchSharpFiles,
    IReadOnlyList<string> PatchedNow,
    string? LibTorchDirectory);
