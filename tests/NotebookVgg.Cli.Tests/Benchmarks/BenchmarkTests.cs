using System.Runtime.InteropServices;
using NotebookVgg.Runtime;
using NotebookVgg.Tests.TestSupport;
using NotebookVgg.Cli.Benchmarks;

namespace NotebookVgg.Cli.Tests.Benchmarks;

// Measures resident memory: this assembly runs its tests one at a time, so nothing allocates beside it.
public class BenchmarkTests
{
    [Fact]
    public void Measure_RunsWarmupPlusRepeats_ReportsOneTimePerRepeat()
    {
        var bench = new Benchmark(repeats: 3, warmup: 2);
        int calls = 0;

        var m = bench.Measure(() => calls++);

        Assert.Equal(5, calls);
        Assert.Equal(3, m.Times.Count);
        Assert.Equal(Benchmark.Median(m.Times.ToArray()), m.MedianSeconds);
    }

    [Fact]
    public void Measure_ReportsTheMedianNotTheMean()
    {
        var bench = new Benchmark(repeats: 3, warmup: 0);
        int call = 0;
        int[] sleeps = [1, 200, 30]; // one slow outlier, as a busy neighbour causes

        var m = bench.Measure(() => Thread.Sleep(sleeps[call++]));

        Assert.InRange(m.MedianSeconds, 0.025, 0.150);
    }

    [Theory]
    [InlineData(new[] { 3.0 }, 3.0)]
    [InlineData(new[] { 5.0, 1.0, 3.0 }, 3.0)]
    [InlineData(new[] { 4.0, 1.0, 3.0, 2.0 }, 2.5)]
    public void Median_OddAndEvenCounts(double[] values, double expected) => Assert.Equal(expected, Benchmark.Median(values));

    [Fact]
    public void Median_OfNothing_Throws() => Assert.Throws<ArgumentException>(() => Benchmark.Median(Array.Empty<double>()));

    [Fact]
    public void Constructor_RejectsZeroRepeats() => Assert.Throws<ArgumentOutOfRangeException>(() => new Benchmark(0));

    [Fact]
    public void ResidentMemory_OnLinux_PeakIsAtLeastCurrentAndSeesANewAllocation()
    {
        Assert.True(OperatingSystem.IsLinux(), "these figures come from /proc/self/status");
        double current = ResidentMemory.CurrentMegabytes()!.Value;
        double peak = ResidentMemory.PeakMegabytes()!.Value;
        Assert.True(current > 1 && peak >= current - 1, $"current {current} MiB, peak {peak} MiB");

        var bench = new Benchmark(1, 0);
        bench.BeginCase();
        double before = ResidentMemory.PeakMegabytes()!.Value, residentBefore = ResidentMemory.CurrentMegabytes()!.Value;
        // Where the kernel refuses the reset (a CI sandbox did), the peak is the process's: the block must then rise
        // above the highest the process has been so far, not just 64 MiB above what is resident now.
        int megabytes = 64 + (bench.PeakIsPerCase ? 0 : (int)Math.Ceiling(Math.Max(0, before - residentBefore)));
        var m = bench.Measure(() => TouchFreshPages((long)megabytes << 20));

        Assert.True(m.PeakResidentMb >= before + 50,
            $"peak {m.PeakResidentMb} MiB after a {megabytes} MiB allocation; {before} MiB before, {residentBefore} MiB resident (reset worked: {bench.PeakIsPerCase})");
        if (bench.PeakIsPerCase)
        {
            // A reset makes the peak the current resident size. (Whether the 64 MiB left the process depends on the GC and
            // on allocator settings other tests may have made, so compare with the current size, not with the old peak.)
            bench.BeginCase();
            double afterReset = ResidentMemory.PeakMegabytes()!.Value, now = ResidentMemory.CurrentMegabytes()!.Value;
            Assert.True(afterReset <= now + 16, $"after resetting through /proc/self/clear_refs the peak is {afterReset} MiB but only {now} MiB are resident");
        }
    }

    // Pages straight from the kernel: a managed array or malloc may reuse memory that is already resident (the GC keeps
    // freed regions committed; our allocator settings keep freed memory), and then the peak does not move (a CI run saw that).
    private static void TouchFreshPages(long bytes)
    {
        const int ReadWrite = 0x1 | 0x2, PrivateAnonymous = 0x02 | 0x20;
        nint block = Mmap(0, (nuint)bytes, ReadWrite, PrivateAnonymous, -1, 0);
        Assert.True(block != -1, $"mmap of {bytes >> 20} MiB failed (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            for (long offset = 0; offset < bytes; offset += 4096)
                Marshal.WriteByte(block + (nint)offset, 1); // touch every page so it becomes resident
        }
        finally
        {
            _ = Munmap(block, (nuint)bytes);
        }
    }

    [DllImport("libc.so.6", EntryPoint = "mmap", SetLastError = true)]
    private static extern nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [DllImport("libc.so.6", EntryPoint = "munmap")]
    private static extern int Munmap(nint address, nuint length);
}
