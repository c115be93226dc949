using System.Runtime.InteropServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NotebookVgg.Runtime;

/// <summary>
/// The levers that make VGG faster on a CPU with TorchSharp 0.107 (see shared notes/cpu-speed.md for the
/// measurements): channels-last memory layout for convolutions, bfloat16 for inference, and CPU autocast
/// (fp32 weights, bf16 compute) for training. Each is optional; fp32 NCHW stays the reference path.
/// </summary>
internal static class CpuSpeed
{
    /// <summary>
    /// True when libtorch's kernels compute bfloat16 natively here: the CPU has AVX512_BF16 or AMX, and neither oneDNN
    /// (<c>ONEDNN_MAX_CPU_ISA</c>) nor MKL (<c>MKL_ENABLE_INSTRUCTIONS</c>) is held below it by the environment. Only then
    /// does bf16 pay; held to AVX2 (how an AVX2-only CPU is emulated on a newer one) it is emulated and slower than fp32.
    /// </summary>
    public static bool HasNativeBf16 => Isa.Effective >= CpuIsa.Avx512Bf16;

    /// <summary>The instruction sets libtorch's kernels use in this process (the CPU's, less what the environment holds back).</summary>
    public static CpuIsaReport Isa { get; } = CpuIsaReport.Detect();

    /// <summary>
    /// The same values in channels-last (NHWC) memory order, still shaped N×C×H×W. TorchSharp 0.107 exposes no
    /// working memory_format argument, so the layout is made with strides.
    /// </summary>
    public static Tensor ToChannelsLast(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.dim() != 4)
            return x.alias();
        using var nhwc = x.permute(0, 2, 3, 1).contiguous();
        return nhwc.permute(0, 3, 1, 2);
    }

    /// <summary>True when <paramref name="x"/> (4-D) is laid out channels-last.</summary>
    public static bool IsChannelsLast(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.dim() != 4)
            return false;
        long[] s = x.stride();
        long c = x.shape[1], w = x.shape[3];
        return s[1] == 1 && s[3] == c && s[2] == c * w;
    }

    /// <summary>
    /// A batch for VGG's convolutions in the layout they run fastest in: channels-last for inference and for bf16 (autocast)
    /// training, NCHW for fp32 training. oneDNN's fp32 weight-gradient kernels for channels-last data are slower than the
    /// ones for its blocked layouts, into which it reorders NCHW data: measured on a Zen 4 (processor time, one thread, a
    /// 3×3 convolution 64→128 channels at 112×112, batch 4), held to AVX2 3.2× as slow (64→64 at 224×224: 5.8×; 512→512 at
    /// 28×28: 1.5×), with AVX-512 1.2×, while channels-last forward and input-gradient kernels gain 10 % at most. In bf16
    /// all three kernels are faster channels-last. Inputs that are not 4-D or not on the CPU come back as they are; so does
    /// a batch already in the right layout (the same tensor).
    /// </summary>
    /// <param name="x">The batch, N×C×H×W.</param>
    /// <param name="training">Whether this forward is followed by a backward (the module is in training mode).</param>
    /// <param name="bf16">Whether it runs under CPU autocast.</param>
    public static Tensor ForConvolutions(Tensor x, bool training, bool bf16)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.dim() != 4 || x.device_type != DeviceType.CPU)
            return x;
        if (!training || bf16)
            return IsChannelsLast(x) ? x : ToChannelsLast(x);
        return x.is_contiguous() ? x : x.contiguous();
    }

    /// <summary>
    /// Replaces every Conv2d weight of <paramref name="model"/> by a channels-last copy (same values, same
    /// requires_grad). Do it before creating the optimizer, which holds the parameters it was given.
    /// </summary>
    public static void ConvertToChannelsLast(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var _ = no_grad();
        foreach (var (_, module) in model.named_modules())
        {
            if (module is Conv2d conv && conv.weight is { } weight && !IsChannelsLast(weight))
            {
                bool trainable = weight.requires_grad;
                conv.weight = new Parameter(ToChannelsLast(weight), trainable);
            }
        }
    }

    /// <summary>
    /// Enables CPU autocast (bfloat16 compute, fp32 weights and gradients) on the calling thread until disposed.
    /// TorchSharp 0.107 has no autocast API for the CPU, so libtorch's exported functions are called directly;
    /// <see cref="CpuAutocast.IsAvailable"/> says whether they were found. Use one scope per training step.
    /// </summary>
    public static IDisposable Autocast() => new CpuAutocast();

}

/// <summary>Instruction-set levels that change which kernels libtorch runs (oneDNN's convolutions, MKL's matmul).</summary>
internal enum CpuIsa
{
    /// <summary>Below AVX2, or not x86-64.</summary>
    Older,

    /// <summary>AVX2 with FMA: most laptops, and servers before AVX-512.</summary>
    Avx2,

    /// <summary>AVX-512 (F, BW, VL, DQ: oneDNN's avx512_core) without bf16.</summary>
    Avx512,

    /// <summary>AVX-512 with native bfloat16 (AVX512_BF16 or AMX).</summary>
    Avx512Bf16,
}

/// <summary>
/// The CPU's instruction-set level, the caps the environment puts on libtorch's libraries, and the level in effect.
/// oneDNN reads <c>ONEDNN_MAX_CPU_ISA</c> (or <c>DNNL_MAX_CPU_ISA</c>) and MKL <c>MKL_ENABLE_INSTRUCTIONS</c> at start-up;
/// both are how an AVX2-only CPU is emulated on an AVX-512 one, so nvgg's own choices (bf16, layouts) follow them too.
/// </summary>
/// <param name="Cpu">What /proc/cpuinfo's flags offer.</param>
/// <param name="OneDnnCap">The cap ONEDNN_MAX_CPU_ISA sets, or null.</param>
/// <param name="MklCap">The cap MKL_ENABLE_INSTRUCTIONS sets, or null.</param>
/// <param name="Caps">The cap variables as set ("ONEDNN_MAX_CPU_ISA=AVX2"), for messages.</param>
internal sealed record CpuIsaReport(CpuIsa Cpu, CpuIsa? OneDnnCap, CpuIsa? MklCap, IReadOnlyList<string> Caps)
{
    /// <summary>What oneDNN's kernels (convolutions, pooling) use: the CPU's level or its cap, whichever is lower.</summary>
    public CpuIsa OneDnn => OneDnnCap is { } cap && cap < Cpu ? cap : Cpu;

    /// <summary>The lower of oneDNN's and MKL's levels: bf16 is native only where both have it.</summary>
    public CpuIsa Effective => MklCap is { } cap && cap < OneDnn ? cap : OneDnn;

    /// <summary>e.g. "AVX-512 with BF16" or "AVX2 (ONEDNN_MAX_CPU_ISA=AVX2, MKL_ENABLE_INSTRUCTIONS=AVX2; the CPU has AVX-512 with BF16)".</summary>
    public override string ToString() =>
        Caps.Count == 0 || Effective == Cpu ? Name(Effective) : $"{Name(Effective)} ({string.Join(", ", Caps)}; the CPU has {Name(Cpu)})";

    public static string Name(CpuIsa isa) => isa switch
    {
        CpuIsa.Avx512Bf16 => "AVX-512 with BF16",
        CpuIsa.Avx512 => "AVX-512",
        CpuIsa.Avx2 => "AVX2",
        _ => "below AVX2",
    };

    /// <summary>Reads /proc/cpuinfo and the environment of this process.</summary>
    public static CpuIsaReport Detect() => FromFlagsAndEnvironment(CpuFlags(), Environment.GetEnvironmentVariable);

    /// <summary>The report for a CPU with <paramref name="flags"/> (/proc/cpuinfo's words) under the variables <paramref name="variable"/> returns.</summary>
    public static CpuIsaReport FromFlagsAndEnvironment(IReadOnlySet<string> flags, Func<string, string?> variable)
    {
        ArgumentNullException.ThrowIfNull(flags);
        ArgumentNullException.ThrowIfNull(variable);
        CpuIsa cpu = flags.Contains("avx512f") && flags.Contains("avx512bw") && flags.Contains("avx512vl") && flags.Contains("avx512dq")
            ? flags.Contains("avx512_bf16") || flags.Contains("amx_bf16") ? CpuIsa.Avx512Bf16 : CpuIsa.Avx512
            : flags.Contains("avx2") && flags.Contains("fma") ? CpuIsa.Avx2 : CpuIsa.Older;
        var caps = new List<string>();
        CpuIsa? oneDnn = null, mkl = null;
        foreach (string name in new[] { "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA" })
        {
            if (variable(name) is { Length: > 0 } value)
            {
                oneDnn = OneDnnLevel(value);
                caps.Add($"{name}={value}");
                break; // oneDNN reads the ONEDNN_ name first
            }
        }
        if (variable("MKL_ENABLE_INSTRUCTIONS") is { Length: > 0 } mklValue)
        {
            mkl = MklLevel(mklValue);
            caps.Add($"MKL_ENABLE_INSTRUCTIONS={mklValue}");
        }
        return new CpuIsaReport(cpu, oneDnn, mkl, caps);
    }

    // oneDNN's names (dnnl_cpu_isa_t): DEFAULT/ALL or an unknown name leave it uncapped.
    private static CpuIsa? OneDnnLevel(string value) => value.Trim().ToUpperInvariant() switch
    {
        "SSE41" or "AVX" => CpuIsa.Older,
        "AVX2" or "AVX2_VNNI" or "AVX2_VNNI_2" => CpuIsa.Avx2,
        "AVX512_CORE" or "AVX512_CORE_VNNI" => CpuIsa.Avx512,
        var v when v.StartsWith("AVX512_CORE_", StringComparison.Ordinal) || v.StartsWith("AVX10", StringComparison.Ordinal) => CpuIsa.Avx512Bf16,
        _ => null,
    };

    // MKL's names: AVX512_E3 (Cooper Lake) and later have bf16; unknown names leave it uncapped.
    private static CpuIsa? MklLevel(string value) => value.Trim().ToUpperInvariant() switch
    {
        "SSE4_2" or "AVX" => CpuIsa.Older,
        var v when v.StartsWith("AVX2", StringComparison.Ordinal) => CpuIsa.Avx2,
        "AVX512" or "AVX512_E1" or "AVX512_E2" => CpuIsa.Avx512,
        var v when v.StartsWith("AVX512_E", StringComparison.Ordinal) || v.StartsWith("AVX10", StringComparison.Ordinal) => CpuIsa.Avx512Bf16,
        _ => null,
    };

    private static HashSet<string> CpuFlags()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return [];
        try
        {
            string flags = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal)) ?? "";
            return flags[(flags.IndexOf(':', StringComparison.Ordinal) + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        }
        catch (IOException)
        {
            return [];
        }
    }
}

/// <summary>Calls at::autocast::set_autocast_enabled(DeviceType::CPU, bool) and at::autocast::clear_cache() in libtorch_cpu.</summary>
public sealed unsafe class CpuAutocast : IDisposable
{
    private const sbyte CpuDeviceType = 0; // c10::DeviceType::CPU
    private static readonly delegate* unmanaged<sbyte, byte, void> SetEnabled;
    private static readonly delegate* unmanaged<sbyte, byte> IsEnabled;
    private static readonly delegate* unmanaged<void> ClearCache;
    private bool _disposed;

#pragma warning disable CA1810 // the exports must be looked up once, after the native runtime is ready
    static CpuAutocast()
#pragma warning restore CA1810
    {
        NativeRuntime.EnsureReady();
        using var warm = torch.zeros(1); // makes sure libtorch_cpu is loaded
        string? dir = NativeRuntime.Status.LibTorchDirectory;
        string library = dir is null ? "libtorch_cpu.so" : Path.Combine(dir, "libtorch_cpu.so");
        if (!OperatingSystem.IsLinux() || !NativeLibrary.TryLoad(library, out var handle))
            return;
        if (NativeLibrary.TryGetExport(handle, "_ZN2at8autocast20set_autocast_enabledEN3c1010DeviceTypeEb", out var set)
            && NativeLibrary.TryGetExport(handle, "_ZN2at8autocast19is_autocast_enabledEN3c1010DeviceTypeE", out var get)
            && NativeLibrary.TryGetExport(handle, "_ZN2at8autocast11clear_cacheEv", out var clear))
        {
            SetEnabled = (delegate* unmanaged<sbyte, byte, void>)set;
            IsEnabled = (delegate* unmanaged<sbyte, byte>)get;
            ClearCache = (delegate* unmanaged<void>)clear;
        }
    }

    /// <summary>Enables autocast on this thread; throws <see cref="NotSupportedException"/> where libtorch's exports were not found.</summary>
    public CpuAutocast()
    {
        if (!IsAvailable)
            throw new NotSupportedException("CPU autocast is not available: libtorch_cpu's at::autocast exports were not found (use fp32)");
        SetEnabled(CpuDeviceType, 1);
    }

    /// <summary>Whether libtorch's autocast entry points were found (Linux x64 libtorch 2.x).</summary>
    public static bool IsAvailable => SetEnabled != null;

    /// <summary>Whether autocast is on for the CPU on this thread.</summary>
    public static bool IsEnabledOnThisThread => IsAvailable && IsEnabled(CpuDeviceType) != 0;

    /// <summary>
    /// Turns autocast off on the calling thread (off, not back to its earlier state, so scopes do not nest) and clears
    /// autocast's cache of bf16 weight copies.
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        SetEnabled(CpuDeviceType, 0);
        ClearCache();
    }
}
