using System.Runtime.InteropServices;
using NotebookVgg.IO;
using TorchSharp;

namespace NotebookVgg.Runtime;

/// <summary>What <c>nvgg doctor</c> and the notebooks' setup cell report about this machine.</summary>
public sealed record EnvironmentReport(
    string TorchSharpVersion,
    string LibTorchVersion,
    string[] Devices,
    bool CudaAvailable,
    int CudaDeviceCount,
    int Threads,
    bool TorchWorks,
    string? TorchError,
    NativeRuntimeStatus NativeRuntime,
    string DataDirectory,
    string WeightsDirectory,
    string? SampleArchive,
    bool Cifar10Downloaded,
    string OperatingSystem,
    string DotNetVersion,
    int ProcessorCount)
{
    /// <summary>Gathers the report; never throws for a broken torch, it says so instead.</summary>
    public static EnvironmentReport Collect()
    {
        var status = Runtime.NativeRuntime.EnsureReady();
        string libtorch = "unavailable";
        bool cuda = false;
        int cudaCount = 0, threads = 0;
        bool works = false;
        string? error = null;
        try
        {
            libtorch = torch.__version__;
            cuda = torch.cuda.is_available();
            cudaCount = cuda ? torch.cuda.device_count() : 0;
            threads = torch.get_num_threads();
            using var a = torch.arange(6, dtype: torch.float32).reshape(2, 3);
            using var b = a.matmul(a.t());
            works = b[1, 1].item<float>() == 50f; // [3,4,5]·[3,4,5]
            if (!works)
                error = "a 2×3 matmul gave a wrong result";
        }
        catch (Exception ex) when (ex is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException or ExternalException)
        {
            error = (ex.InnerException ?? ex).Message.ReplaceLineEndings(" ");
        }
        var devices = new List<string> { "cpu" };
        for (int i = 0; i < cudaCount; i++)
            devices.Add($"cuda:{i}");
        string data = ProjectPaths.DataDirectory();
        return new EnvironmentReport(
            Runtime.NativeRuntime.TorchSharpVersion, libtorch, [.. devices], cuda, cudaCount, threads, works, error, status,
            data, ProjectPaths.WeightsDirectory(), ProjectPaths.SampleArchive(),
            Cifar10Downloaded: File.Exists(Path.Combine(data, "cifar-10-batches-bin", "test_batch.bin")),
            RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription, Environment.ProcessorCount);
    }

    /// <summary>
    /// The report in one line, for a notebook's setup cell: what runs where, and a problem first when there is one
    /// ("TorchSharp 0.107.0 / libtorch 2.10.0.0 works: cpu, 2 threads, bf16 native; .NET 10.0.12 on Debian …, 2 cores").
    /// The data and weights a run uses are the run's to say (notebooks print them when they resolve their parameters);
    /// the full table is <see cref="ToDataFrame"/>.
    /// </summary>
    public string Summary()
    {
        string problem = !TorchWorks ? $"libtorch does NOT compute ({TorchError}); run ./nvgg doctor. "
            : NativeRuntime.FixNeeded && !NativeRuntime.FixActive && NativeRuntime.FixedCopy is null
                ? "the native-runtime fix is NEEDED, not applied: run ./nvgg doctor --fix. " : "";
        string bf16 = CpuSpeed.HasNativeBf16 ? "bf16 native" : "no native bf16";
        return $"{problem}TorchSharp {TorchSharpVersion} / libtorch {LibTorchVersion} {(TorchWorks ? "works" : "fails")}: " +
            $"{string.Join(", ", Devices)}, {Threads} threads, {bf16}; {DotNetVersion} on {OperatingSystem}, {ProcessorCount} cores " +
            "(the full table: NotebookSetup.Run().ToDataFrame(), or ./nvgg doctor)";
    }

    /// <summary>The report as a two-column table, for notebooks.</summary>
    public Microsoft.Data.Analysis.DataFrame ToDataFrame()
    {
        var rows = Lines().ToList();
        return new Microsoft.Data.Analysis.DataFrame(
            new Microsoft.Data.Analysis.StringDataFrameColumn("check", rows.Select(r => r.Name)),
            new Microsoft.Data.Analysis.StringDataFrameColumn("value", rows.Select(r => r.Value)));
    }

    /// <summary>The report as (check, value) rows for a table.</summary>
    public IEnumerable<(string Name, string Value)> Lines()
    {
        yield return ("TorchSharp", TorchSharpVersion);
        yield return ("libtorch", LibTorchVersion);
        yield return ("computes", TorchWorks ? "yes" : $"NO: {TorchError}");
        yield return ("devices", string.Join(", ", Devices));
        yield return ("CUDA", CudaAvailable ? $"yes ({CudaDeviceCount} device(s))" : "no");
        yield return ("torch threads", Threads.ToString(System.Globalization.CultureInfo.InvariantCulture));
        yield return ("native-runtime fix", !NativeRuntime.FixNeeded ? "not needed (system libstdc++ is new enough)"
            : NativeRuntime.FixedCopy is { } copy ? $"active: libLibTorchSharp.so loaded from {copy}"
            : NativeRuntime.FixActive ? "active: the package's copies were patched in place by an earlier NotebookVgg"
            : "NEEDED, not applied: run ./nvgg doctor --fix");
        yield return ("libtorch loaded from", NativeRuntime.LibTorchDirectory ?? "(by name)");
        yield return ("instruction sets", $"{CpuSpeed.Isa} (what libtorch's oneDNN and MKL kernels use here)");
        yield return ("bfloat16", CpuSpeed.HasNativeBf16
            ? "native on this CPU: precision auto may use it (each run checks it against fp32 first)"
            : CpuSpeed.Isa.Cpu >= CpuIsa.Avx512Bf16
                ? $"native on this CPU but held back by {string.Join(", ", CpuSpeed.Isa.Caps)}: precision auto uses fp32"
                : "not native on this CPU: precision auto uses fp32");
        yield return ("default data folder", DataDirectory);
        yield return ("weights cache", WeightsDirectory);
        yield return ("CIFAR-10 downloaded there", Cifar10Downloaded ? "yes" : "no");
        yield return ("CIFAR-10 sample (shared/data)", SampleArchive ?? "not found");
        yield return ("OS / .NET", $"{OperatingSystem} / {DotNetVersion}, {ProcessorCount} cores");
    }
}
