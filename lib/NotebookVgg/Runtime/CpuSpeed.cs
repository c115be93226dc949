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
    /// <summary>True when the CPU has native bfloat16 instructions (AVX512_BF16 or AMX): only then does bf16 pay.</summary>
    public static bool HasNativeBf16 { get; } = DetectBf16();

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

    private static bool DetectBf16()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return false;
        try
        {
            string flags = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal)) ?? "";
            var set = flags.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
            return set.Contains("avx512_bf16") || set.Contains("amx_bf16");
        }
        catch (IOException)
        {
            return false;
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
