using System.Diagnostics;
using NotebookVgg.Runtime;

namespace NotebookVgg.Cli.Benchmarks;

/// <summary>The timings of one benchmark case.</summary>
/// <param name="MedianSeconds">Median wall time of one iteration over the timed repeats.</param>
/// <param name="Times">Every timed repeat, in seconds, in the order run (warm-up excluded).</param>
/// <param name="PeakResidentMb">Peak resident memory during the case (setup, warm-up and repeats), MiB; null where unknown.</param>
public sealed record Measurement(double MedianSeconds, IReadOnlyList<double> Times, double? PeakResidentMb)
{
    /// <summary>
    /// Every timed repeat's processor time, in seconds: the process's user and system time over the iteration, all threads.
    /// On a machine shared with other work it counts only the time this process ran, so it moves far less than the wall time.
    /// </summary>
    public IReadOnlyList<double> CpuTimes { get; init; } = [];

    /// <summary>Median of <see cref="CpuTimes"/>; null when none was taken.</summary>
    public double? MedianCpuSeconds => CpuTimes.Count == 0 ? null : Benchmark.Median(CpuTimes);

    /// <summary>The median by the chosen clock: wall seconds, or processor seconds over <paramref name="threads"/> (see <see cref="BenchmarkSettings.CpuTime"/>).</summary>
    public double Seconds(bool cpuTime, int threads) => cpuTime && MedianCpuSeconds is { } cpu ? cpu / Math.Max(1, threads) : MedianSeconds;
}

/// <summary>
/// Times benchmark cases the same way every time: <see cref="Warmup"/> untimed iterations, then
/// <see cref="Repeats"/> timed ones, reporting the median (robust to a busy neighbour on a shared machine).
/// Peak resident memory is per case where the kernel lets the peak be reset (<see cref="PeakIsPerCase"/>),
/// otherwise the process's peak so far.
/// </summary>
public sealed class Benchmark
{
    public Benchmark(int repeats, int warmup = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(repeats, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(warmup);
        Repeats = repeats;
        Warmup = warmup;
        PeakIsPerCase = ResidentMemory.TryResetPeak();
    }

    public int Repeats { get; }
    public int Warmup { get; }

    /// <summary>True when /proc/self/clear_refs reset the peak, so each case's peak is its own; false: process peak.</summary>
    public bool PeakIsPerCase { get; private set; }

    /// <summary>
    /// Starts a case: collects garbage left by the previous one (finalizers free undisposed native tensors), hands the
    /// free memory malloc keeps back to the kernel, and resets the resident-memory peak. Call it before the case's setup, so the peak covers its model and data.
    /// </summary>
    public void BeginCase()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Runtime.NativeAllocator.ReleaseFreeMemory();
        PeakIsPerCase = ResidentMemory.TryResetPeak() && PeakIsPerCase;
    }

    /// <summary>Runs <paramref name="iteration"/> Warmup + Repeats times and returns the median of the timed runs.</summary>
    public Measurement Measure(Action iteration)
    {
        ArgumentNullException.ThrowIfNull(iteration);
        for (int i = 0; i < Warmup; i++)
            iteration();
        var times = new double[Repeats];
        var cpu = new double[Repeats];
        for (int i = 0; i < Repeats; i++)
            (times[i], cpu[i]) = Time(iteration);
        return new Measurement(Median(times), times, ResidentMemory.PeakMegabytes()) { CpuTimes = cpu };
    }

    /// <summary>Wall and processor seconds of one call.</summary>
    public static (double Wall, double Cpu) Time(Action iteration)
    {
        ArgumentNullException.ThrowIfNull(iteration);
        var cpu = ProcessorTime();
        long start = Stopwatch.GetTimestamp();
        iteration();
        double wall = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return (wall, (ProcessorTime() - cpu).TotalSeconds);
    }

    private static TimeSpan ProcessorTime()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }

    /// <summary>
    /// Measures several configurations of one case paired in time, for a machine whose speed drifts (shared cores): each
    /// one's warm-up first, alone, with the resident-memory peak reset before it (its peak is its own after the warm-up),
    /// then the timed repeats in turn, A B C A B C …, so that a busy minute slows every configuration alike.
    /// </summary>
    public IReadOnlyList<Measurement> MeasureInterleaved(IReadOnlyList<Action> iterations)
    {
        ArgumentNullException.ThrowIfNull(iterations);
        var peaks = new double?[iterations.Count];
        for (int k = 0; k < iterations.Count; k++)
        {
            bool reset = ResidentMemory.TryResetPeak();
            for (int i = 0; i < Math.Max(1, Warmup); i++)
                iterations[k]();
            PeakIsPerCase = reset && PeakIsPerCase;
            peaks[k] = ResidentMemory.PeakMegabytes();
        }
        var times = new double[iterations.Count][];
        var cpu = new double[iterations.Count][];
        for (int k = 0; k < iterations.Count; k++)
        {
            times[k] = new double[Repeats];
            cpu[k] = new double[Repeats];
        }
        for (int i = 0; i < Repeats; i++)
        {
            for (int k = 0; k < iterations.Count; k++)
                (times[k][i], cpu[k][i]) = Time(iterations[k]);
        }
        return [.. Enumerable.Range(0, iterations.Count).Select(k => new Measurement(Median(times[k]), times[k], peaks[k]) { CpuTimes = cpu[k] })];
    }

    /// <summary>The median (mean of the middle two for an even count).</summary>
    public static double Median(IReadOnlyCollection<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
            throw new ArgumentException("the median of no values is undefined", nameof(values));
        double[] sorted = [.. values.Order()];
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
