using System.Globalization;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Runtime;

/// <summary>One oneDNN convolution kernel seen by <see cref="KernelProbe"/>.</summary>
/// <param name="Path">Which of nvgg's paths ran it: "inference (channels-last)" or "training (fp32 NCHW)".</param>
/// <param name="Pass">oneDNN's propagation kind: forward_inference, forward_training, backward_data, backward_weights.</param>
/// <param name="Implementation">oneDNN's implementation name, e.g. brg_conv_fwd:avx2 or jit:avx2.</param>
/// <param name="DataLayout">The source data's memory layout as oneDNN names it: acdb (channels-last), abcd (NCHW), aBcd8b (blocked by 8 channels) …</param>
internal sealed record KernelUse(string Path, string Pass, string Implementation, string DataLayout);

/// <summary>What <see cref="KernelProbe.Run"/> learned: oneDNN's version and ISA line, and the kernels each path used.</summary>
internal sealed record KernelReport(string? OneDnnVersion, string? OneDnnIsa, IReadOnlyList<KernelUse> Kernels, string? Error);

/// <summary>
/// Asks oneDNN which convolution kernels nvgg's paths run on this machine: switches oneDNN's verbose mode on for one small
/// 3×3 convolution per path (inference channels-last; a training step in the trainer's layout, forward and backward) and
/// reads the lines oneDNN prints, with stdout sent to a temporary file meanwhile. libtorch exports the switch as
/// torch::verbose::_mkldnn_set_verbose(int); where it or the C library's dup2 is missing, the report says so.
/// </summary>
internal static partial class KernelProbe
{
    private const string SetVerboseExport = "_ZN5torch7verbose19_mkldnn_set_verboseEi";

    public static KernelReport Run()
    {
        if (!OperatingSystem.IsLinux())
            return new KernelReport(null, null, [], "oneDNN's verbose lines are read on Linux only");
        string? dir = NativeRuntime.Status.LibTorchDirectory;
        string library = dir is null ? "libtorch_cpu.so" : System.IO.Path.Combine(dir, "libtorch_cpu.so");
        if (!NativeLibrary.TryLoad(library, out var handle) || !NativeLibrary.TryGetExport(handle, SetVerboseExport, out var export))
            return new KernelReport(null, null, [], $"libtorch_cpu exports no {SetVerboseExport}: kernels unknown");
        string file = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"nvgg-onednn-{Environment.ProcessId}.txt");
        var sections = new List<(string Path, int FirstLine)>();
        string text;
        Console.Out.Flush();
        int saved = Dup(1);
        int target = Open(file, 0x241 /* O_WRONLY | O_CREAT | O_TRUNC */, 0x180 /* 0600 */);
        if (saved < 0 || target < 0)
            return new KernelReport(null, null, [], "could not redirect stdout to read oneDNN's lines");
        try
        {
            Dup2(target, 1);
            SetVerbose(export, 2);
            try
            {
                Probe(path => { FFlush(0); sections.Add((path, File.ReadAllLines(file).Length)); });
            }
            finally
            {
                SetVerbose(export, 0);
                FFlush(0);
                Dup2(saved, 1);
            }
            text = File.ReadAllText(file);
        }
        finally
        {
            Close(target);
            Close(saved);
            File.Delete(file);
        }
        return Parse(text.Split('\n'), sections);
    }

    /// <summary>Reads oneDNN's verbose lines: <paramref name="sections"/> says from which line on each path ran.</summary>
    public static KernelReport Parse(IReadOnlyList<string> lines, IReadOnlyList<(string Path, int FirstLine)> sections)
    {
        ArgumentNullException.ThrowIfNull(lines);
        ArgumentNullException.ThrowIfNull(sections);
        string? version = null, isa = null;
        var kernels = new List<KernelUse>();
        for (int i = 0; i < lines.Count; i++)
        {
            string[] f = lines[i].Trim().Split(',');
            if (f.Length < 3 || f[0] != "onednn_verbose")
                continue;
            if (Array.IndexOf(f, "info") is >= 0 and var info)
            {
                // The ISA's own text may hold commas ("Intel AVX-512 with AVX512BW, AVX512VL, and AVX512DQ extensions").
                int isaField = Array.FindIndex(f, x => x.StartsWith("isa:", StringComparison.Ordinal));
                if (isaField >= 0)
                    isa = string.Join(',', f[isaField..])["isa:".Length..];
                else if (f[^1].StartsWith("oneDNN v", StringComparison.Ordinal))
                    version = f[^1];
                continue;
            }
            int exec = Array.IndexOf(f, "exec");
            if (exec < 0 || f.Length < exec + 6 || f[exec + 2] != "convolution")
                continue;
            string path = sections.LastOrDefault(s => s.FirstLine <= i).Path ?? "";
            string layout = f[exec + 5].Split(' ').FirstOrDefault(m => m.StartsWith("src", StringComparison.Ordinal) || m.StartsWith("diff_src", StringComparison.Ordinal)) is { } src
                ? src.Split(':').Where(p => p.Length > 0).Skip(2).FirstOrDefault(p => p != "blocked" && p != "a") ?? "" : "";
            var use = new KernelUse(path, f[exec + 4], f[exec + 3], layout);
            if (!kernels.Contains(use))
                kernels.Add(use);
        }
        return new KernelReport(version, isa, kernels, kernels.Count == 0 ? "oneDNN printed no convolution lines (is libtorch built without oneDNN?)" : null);
    }

    /// <summary>
    /// The paths, on one 3×3 convolution of 128 channels at 28×28 (batch 2), each in the layout
    /// <see cref="CpuSpeed.ForConvolutions"/> gives it: inference (as feature extraction runs it), an fp32 training step,
    /// and where bf16 is native a bf16 (autocast) training step.
    /// </summary>
    private static void Probe(Action<string> begin)
    {
        using var scope = NewDisposeScope();
        using var g = new torch.Generator(7);
        var x = torch.randn([2, 128, 28, 28], generator: g);
        var w = torch.randn([128, 128, 3, 3], generator: g);
        begin("inference (channels-last)");
        using (torch.no_grad())
            nn.functional.conv2d(CpuSpeed.ForConvolutions(x, training: false, bf16: false), CpuSpeed.ToChannelsLast(w), padding: [1, 1]);
        begin("fp32 training (NCHW)");
        Step(bf16: false);
        if (CpuSpeed.HasNativeBf16 && CpuAutocast.IsAvailable)
        {
            begin("bf16 training (autocast, channels-last)");
            Step(bf16: true);
        }

        void Step(bool bf16)
        {
            var weight = w.clone().requires_grad_(true);
            var input = CpuSpeed.ForConvolutions(x, training: true, bf16).detach().requires_grad_(true);
            Tensor y;
            using (bf16 ? CpuSpeed.Autocast() : null)
                y = nn.functional.conv2d(input, weight, padding: [1, 1]);
            y.to_type(ScalarType.Float32).sum().backward();
        }
    }

    private static int SetVerbose(IntPtr export, int level)
    {
        unsafe
        {
            return ((delegate* unmanaged<int, int>)export)(level);
        }
    }

    [LibraryImport("libc.so.6", EntryPoint = "dup")]
    private static partial int Dup(int fd);

    [LibraryImport("libc.so.6", EntryPoint = "dup2")]
    private static partial int Dup2(int from, int to);

    [LibraryImport("libc.so.6", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc.so.6", EntryPoint = "close")]
    private static partial int Close(int fd);

    [LibraryImport("libc.so.6", EntryPoint = "fflush")]
    private static partial int FFlush(nint stream);

    /// <summary>"brg_conv_fwd:avx2 (acdb)" lines for a report.</summary>
    public static IEnumerable<string> Describe(KernelReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        foreach (var group in report.Kernels.GroupBy(k => k.Path))
            yield return string.Create(CultureInfo.InvariantCulture, $"{group.Key}: {string.Join("; ", group.Select(k => $"{k.Pass} {k.Implementation} ({k.DataLayout})"))}");
    }
}
