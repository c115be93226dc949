using System.Diagnostics;
using NotebookVgg.Runtime;

namespace NotebookVgg.Cli.Benchmarks;

/// <summary>The timings of one benchmark case.</summary>
/// <param name="MedianSeconds">Median wall time of one iteration over the timed repeats.</param>
/// <param name="Times">Every timed repeat, in seconds, in the order run (warm-up excluded).</param>
/// <param name="PeakResidentMb">Peak resident memory during the case (setup, warm-up and repeats), MiB; null where unknown.</param>
public sealed record Measurement(double MedianSeconds, IReadOnlyList<double> Times, double? PeakResidentMb);

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
        for (int i = 0; i < Repeats; i++)
        {
            long start = Stopwatch.GetTimestamp();
            iteration();
            times[i] = Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        return new Measurement(Median(times), times, ResidentMemory.PeakMegabytes());
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
