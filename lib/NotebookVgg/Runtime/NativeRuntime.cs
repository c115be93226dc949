using System.Reflection;
using System.Runtime.InteropServices;
using TorchSharp;

namespace NotebookVgg.Runtime;

/// <summary>
/// Makes TorchSharp's native runtime load on systems whose libstdc++ is older than the one it was built
/// against (Debian 12, Ubuntu 22.04), and makes it load libtorch from its own package even when a system
/// libtorch (Debian's python3-torch) is installed.
/// </summary>
/// <remarks>
/// Two steps, so that nothing changes behind the user's back. <see cref="ApplyFix"/> (<c>nvgg doctor --fix</c>, run by
/// <c>tools/setup.sh</c>) writes a patched copy of libLibTorchSharp.so into a folder this project owns
/// (<see cref="FixDirectory"/>); the package in the NuGet cache is only read. <see cref="EnsureReady"/> (the library's
/// module initializer calls it) writes nothing: it points TorchSharp at that copy and preloads libtorch by full path.
/// </remarks>
internal static class NativeRuntime
{
    /// <summary>The libstdc++ version libLibTorchSharp.so 0.107.0 asks for, only for a marker symbol nothing calls.</summary>
    public const string MarkerVersion = "GLIBCXX_3.4.32";

    /// <summary>Environment variable that overrides <see cref="FixDirectory"/>.</summary>
    public const string FixDirectoryEnvironmentVariable = "NOTEBOOKVGG_NATIVE";

    private static readonly object Gate = new();
    private static NativeRuntimeStatus? _status;

    /// <summary>What <see cref="EnsureReady"/> found and did.</summary>
    public static NativeRuntimeStatus Status => _status ?? EnsureReady();

    /// <summary>
    /// Where <see cref="ApplyFix"/> puts its patched copy: <c>$NOTEBOOKVGG_NATIVE</c>, else
    /// <c>~/.cache/notebookvgg/native/torchsharp-VERSION</c> (<c>$XDG_CACHE_HOME</c> respected).
    /// </summary>
    public static string FixDirectory =>
        Environment.GetEnvironmentVariable(FixDirectoryEnvironmentVariable) is { Length: > 0 } dir
            ? Path.GetFullPath(dir)
            : Path.Combine(IO.ProjectPaths.UserCacheDirectory(), "native", "torchsharp-" + TorchSharpVersion);

    /// <summary>The patched copy's path (present or not).</summary>
    public static string FixedCopy => Path.Combine(FixDirectory, NativeFiles.LibTorchSharpFile);

    /// <summary>
    /// Idempotent, and writes no file. On Linux: if the system libstdc++ lacks <see cref="MarkerVersion"/> and the
    /// patched copy exists, TorchSharp loads libLibTorchSharp.so from it; libtorch is preloaded from its package folder.
    /// A no-op elsewhere. When the fix is needed and absent, <see cref="NativeRuntimeStatus.FixActive"/> is false and
    /// <see cref="ThrowIfNotReady"/> says what to run.
    /// </summary>
    public static NativeRuntimeStatus EnsureReady()
    {
        lock (Gate)
        {
            if (_status is not null)
                return _status;
            if (!OperatingSystem.IsLinux())
                return _status = new NativeRuntimeStatus(false, false, [], null, null);

            string? libstdcxx = NativeFiles.SystemLibStdCxx();
            bool needed = libstdcxx is null || !NativeFiles.Contains(libstdcxx, MarkerVersion);
            var candidates = NativeFiles.LibTorchSharpCandidates().ToList();
            string? usedCopy = null;
            if (needed && File.Exists(FixedCopy) && IsMarkerWeak(FixedCopy))
                usedCopy = LoadLibTorchSharpFrom(FixedCopy) ? FixedCopy : null;
            var preloaded = PreloadLibTorch(candidates);
            if (preloaded is not null)
                Nnpack.Disable(Path.Combine(preloaded, "libtorch_cpu.so"));
            // A copy patched in place by an earlier NotebookVgg (which changed the NuGet cache) also loads.
            bool active = !needed || usedCopy is not null || (candidates.Count > 0 && candidates.All(IsMarkerWeak));
            return _status = new NativeRuntimeStatus(needed, active, candidates, usedCopy, preloaded);
        }
    }

    /// <summary>Throws, saying what to run, when TorchSharp cannot load here until <c>nvgg doctor --fix</c> has run.</summary>
    public static void ThrowIfNotReady()
    {
        var status = EnsureReady();
        if (status.FixNeeded && !status.FixActive)
            throw new InvalidOperationException(
                $"TorchSharp's native library asks for {MarkerVersion}, which this system's libstdc++ lacks: run ./nvgg doctor --fix " +
                $"once (tools/setup.sh does it); it writes a patched copy to {FixDirectory} and changes nothing else");
    }

    /// <summary>
    /// <c>nvgg doctor --fix</c>: where the system needs it, writes a copy of the package's libLibTorchSharp.so with the
    /// <see cref="MarkerVersion"/> requirement marked weak into <see cref="FixDirectory"/>, and nothing else. Returns what
    /// it did, one line each (empty: nothing to do).
    /// </summary>
    public static IReadOnlyList<string> ApplyFix()
    {
        var status = EnsureReady();
        if (!status.FixNeeded)
            return [];
        if (File.Exists(FixedCopy) && IsMarkerWeak(FixedCopy))
            return [];
        string source = PackageLibTorchSharp()
            ?? throw new FileNotFoundException($"no {NativeFiles.LibTorchSharpFile} of TorchSharp {TorchSharpVersion} found to copy (restore the packages: dotnet build NotebookVgg.sln)");
        // A folder that cannot be written (a read-only home in a container) or a full disk: one line saying where else to put it.
        string advice = $"set {FixDirectoryEnvironmentVariable} (or XDG_CACHE_HOME) to a writable folder and run nvgg doctor --fix again";
        try
        {
            Directory.CreateDirectory(FixDirectory);
        }
        catch (Exception ex) when (IO.WriteFailure.IsWriteError(ex))
        {
            throw IO.WriteFailure.Explain(ex, FixedCopy, "patched copy of " + NativeFiles.LibTorchSharpFile, null, advice);
        }
        ElfVersionNeeds.WriteWeakCopy(source, FixedCopy, MarkerVersion, advice);
        return
        [
            $"wrote {FixedCopy}: a copy of {source} whose {MarkerVersion} requirement is weak (the one symbol that needs it is never called)",
            $"TorchSharp loads it from the next process on; nothing else was changed. To undo: rm -r {FixDirectory}",
        ];
    }

    /// <summary>The package's own libLibTorchSharp.so (not a copy patched in place), to copy from.</summary>
    private static string? PackageLibTorchSharp()
    {
        var files = NativeFiles.LibTorchSharpCandidates().ToList();
        return files.FirstOrDefault(f => !IsMarkerWeak(f)) ?? files.FirstOrDefault();
    }

    /// <summary>TorchSharp's DllImport("LibTorchSharp") and its own loader resolve to <paramref name="file"/>.</summary>
    private static bool LoadLibTorchSharpFrom(string file)
    {
        var torchSharp = typeof(torch).Assembly;
        static bool IsLibTorchSharp(string name) => name is "LibTorchSharp" or "libLibTorchSharp" or NativeFiles.LibTorchSharpFile;
        // TorchSharp first calls NativeLibrary.TryLoad("LibTorchSharp", its assembly): that skips DllImport resolvers
        // but ends, when the package's own copy fails to load, with its load context's ResolvingUnmanagedDll event.
        var context = System.Runtime.Loader.AssemblyLoadContext.GetLoadContext(torchSharp);
        if (context is null)
            return false;
        context.ResolvingUnmanagedDll += (assembly, name) =>
            assembly == torchSharp && IsLibTorchSharp(name) ? NativeLibrary.Load(file) : IntPtr.Zero;
        try
        {
            // Its DllImports then go straight to the copy, without trying the package's first.
            NativeLibrary.SetDllImportResolver(torchSharp, (name, _, _) => IsLibTorchSharp(name) ? NativeLibrary.Load(file) : IntPtr.Zero);
        }
        catch (InvalidOperationException)
        {
            // Someone else set TorchSharp's resolver first: leave theirs; the event above still serves.
        }
        return true;
    }

    /// <summary>Whether <paramref name="libTorchSharp"/> already carries the weak requirement (or none at all).</summary>
    public static bool IsMarkerWeak(string libTorchSharp) =>
        ElfVersionNeeds.Read(libTorchSharp).Where(r => r.Version == MarkerVersion).All(r => r.IsWeak);

    /// <summary>
    /// Loads libtorch's libraries by full path before TorchSharp loads them by name, so that a system libtorch
    /// (e.g. /usr/lib/x86_64-linux-gnu/libtorch_cpu.so from python3-torch) can never be picked instead.
    /// Returns the folder they were loaded from, or null if none was found.
    /// </summary>
    private static string? PreloadLibTorch(IReadOnlyList<string> libTorchSharpFiles)
    {
        foreach (string dir in NativeFiles.LibTorchDirectories(libTorchSharpFiles))
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

    /// <summary>
    /// Whether this library was built with <c>-p:TorchBackend=cuda</c> (recorded in its assembly metadata): then a kernel
    /// that loads TorchSharp from NuGet gets the CUDA libtorch — the one switch a notebook needs for a GPU.
    /// </summary>
    public static bool BuiltForCuda { get; } = string.Equals(
        typeof(NativeRuntime).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "TorchBackend")?.Value,
        "cuda", StringComparison.OrdinalIgnoreCase);

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
/// <param name="FixActive">TorchSharp can load here: the fix is not needed, or the patched copy is in use.</param>
/// <param name="LibTorchSharpFiles">The package's copies found (build output, NuGet cache); only read.</param>
/// <param name="FixedCopy">The patched copy TorchSharp loads (<see cref="NativeRuntime.ApplyFix"/>); null when not used.</param>
/// <param name="LibTorchDirectory">Where libtorch was preloaded from.</param>
public sealed record NativeRuntimeStatus(
    bool FixNeeded,
    bool FixActive,
    IReadOnlyList<string> LibTorchSharpFiles,
    string? FixedCopy,
    string? LibTorchDirectory);
