using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace NotebookVgg.Cli.Benchmarks;

/// <summary>One line of bench/pytorch_reference.py's output.</summary>
public sealed record PyTorchResult(string Case, string Name, long Images, double? ImagesPerSecond, double GflopsPerSecond, double Seconds, double PeakRssMb);

/// <summary>What bench/pytorch_reference.py printed: the framework, its threads and BLAS, and its figures.</summary>
/// <param name="Layers">The train step layer by layer (the <c>layers</c> case), null when not asked for.</param>
/// <param name="Steps">Whole steps split into zero_grad, forward, backward and optimizer step (the <c>layers</c> case).</param>
/// <param name="BlasCore">OpenBLAS's kernel family ("Haswell" is AVX2, "SkylakeX"/"Cooperlake" AVX-512); null for another BLAS.</param>
/// <param name="OneDnn">PyTorch's oneDNN: version, instruction sets and the fp32 convolution kernel, from oneDNN's verbose lines.</param>
public sealed record PyTorchReport(string Framework, int Threads, IReadOnlyList<string> Blas, IReadOnlyList<PyTorchResult> Results,
    IReadOnlyList<LayerTiming>? Layers = null, IReadOnlyList<StepTiming>? Steps = null, string? BlasCore = null, string? OneDnn = null)
{
    /// <summary>One line: the framework, threads, BLAS (and its kernels) and oneDNN.</summary>
    public string Describe() =>
        $"{Framework}, {Threads} threads, BLAS {string.Join(", ", Blas)}{(BlasCore is null ? "" : $" ({BlasCore} kernels)")}; {OneDnn ?? "oneDNN: not seen"}";
}

/// <summary>
/// Runs bench/pytorch_reference.py (the same shapes in PyTorch) as a subprocess with the same threads, repeats,
/// shapes and cases, and reads its JSON. Peak memory there is the Python process's running peak (ru_maxrss).
/// </summary>
public static class PyTorchReference
{
    /// <summary>Debian's python3 with python3-torch; a pyenv or venv python usually has no torch.</summary>
    public const string DefaultPython = "/usr/bin/python3";

    /// <summary>Where the script lives, relative to the repository root.</summary>
    public static readonly string ScriptRelativePath = Path.Combine("bench", "pytorch_reference.py");

    /// <summary>The cases the script knows; others are not sent to it.</summary>
    public static IReadOnlyList<string> Cases { get; } =
        [BenchmarkSuite.Matmul, BenchmarkSuite.Forward, BenchmarkSuite.Train, BenchmarkSuite.Layers, BenchmarkSuite.Features, BenchmarkSuite.Features112];

    /// <summary>bench/pytorch_reference.py found above the working directory or above this assembly; null where neither has it.</summary>
    public static string? FindScript()
    {
        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, ScriptRelativePath);
                if (File.Exists(candidate))
                    return candidate;
            }
        }
        return null;
    }

    /// <summary>Runs the script and parses its report. Throws with one line naming the script or interpreter when it fails.</summary>
    public static PyTorchReport Run(string script, string python, BenchmarkSettings settings, int threads, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(script);
        ArgumentNullException.ThrowIfNull(python);
        ArgumentNullException.ThrowIfNull(settings);
        if (!File.Exists(script))
            throw new FileNotFoundException($"{script}: PyTorch reference script not found", script);
        var c = CultureInfo.InvariantCulture;
        var start = new ProcessStartInfo(python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(script);
        start.Environment["NVGG_BENCH_THREADS"] = threads.ToString(c);
        start.Environment["NVGG_BENCH_REPEATS"] = settings.Repeats.ToString(c);
        start.Environment["NVGG_BENCH_MATMUL_SIZE"] = settings.MatmulSize.ToString(c);
        start.Environment["NVGG_BENCH_BATCH_224"] = settings.Batch224.ToString(c);
        start.Environment["NVGG_BENCH_BATCH_32"] = settings.Batch32.ToString(c);
        start.Environment["NVGG_BENCH_BATCH_112"] = settings.Batch112.ToString(c);
        if (Runtime.NativeAllocator.IsKeepingFreedMemory)
            start.Environment["GLIBC_TUNABLES"] = Runtime.NativeAllocator.GlibcTunables; // the same allocator behaviour on both sides
        // oneDNN reads ONEDNN_MAX_CPU_ISA in both processes, but OpenBLAS (PyTorch's matmul) ignores it and MKL's variable:
        // where nvgg is held to AVX2 on a newer CPU, PyTorch's OpenBLAS is held to its AVX2 kernels too, unless set otherwise.
        if (Runtime.CpuSpeed.Isa.Effective <= Runtime.CpuIsa.Avx2 && Runtime.CpuSpeed.Isa.Cpu > Runtime.CpuIsa.Avx2
            && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OPENBLAS_CORETYPE")))
        {
            start.Environment["OPENBLAS_CORETYPE"] = "Haswell";
        }
        start.Environment["NVGG_BENCH_CLOCK"] = settings.CpuTime ? "cpu" : "wall";
        start.Environment["NVGG_BENCH_CASES"] = string.Join(',', settings.Cases.Where(Cases.Contains));

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"{python}: could not be started");
        }
        catch (Win32Exception ex)
        {
            throw new InvalidOperationException($"{python}: could not be started to run {script} ({ex.Message}); install python3-torch or pass --python", ex);
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{script}: did not finish within {timeout.TotalSeconds:0} s");
            }
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                string last = stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "(no message)";
                throw new InvalidOperationException($"{script}: exited with code {process.ExitCode}: {last}");
            }
            return Parse(stdout.Result, script);
        }
    }

    /// <summary>One report from the script's runs case by case: the first run's framework, threads and BLAS, every run's figures.</summary>
    public static PyTorchReport? Merge(IReadOnlyList<PyTorchReport> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Count == 0)
            return null;
        return parts[0] with
        {
            Results = [.. parts.SelectMany(p => p.Results)],
            Layers = [.. parts.SelectMany(p => p.Layers ?? [])],
            Steps = [.. parts.SelectMany(p => p.Steps ?? [])],
        };
    }

    /// <summary>Reads the script's JSON; <paramref name="source"/> names it in errors.</summary>
    public static PyTorchReport Parse(string json, string source)
    {
        try
        {
            var report = JsonSerializer.Deserialize<PyTorchReport>(json, new JsonSerializerOptions { PropertyNameCaseInsensitive = true });
            if (report?.Results is null || report.Framework is null)
                throw new InvalidDataException($"{source}: the output has no framework or results");
            return report;
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{source}: the output is not the expected JSON ({ex.Message})", ex);
        }
    }
}
