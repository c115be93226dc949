using System.Globalization;
using System.Runtime.InteropServices;

namespace NotebookVgg.Runtime;

/// <summary>
/// glibc malloc settings for libtorch on Linux. libtorch frees and re-allocates activation buffers of tens to hundreds
/// of MB in every layer of every step; glibc serves each such request with a fresh mmap and returns it with munmap, so
/// every step pays page faults to zero the same memory again. Measured on the 2-core Debian 12 VM (VGG19 forward 224,
/// batch 16, fp32 NCHW): 2.2 → 5.7 images/s, system time from about 30 % of the CPU to a few %. Keeping freed memory
/// in the heap instead (no mmap, trim only above 2 GiB) removes that cost; resident memory then stays near its peak.
/// </summary>
internal static partial class NativeAllocator
{
    private const int MTrimThreshold = -1; // glibc malloc.h M_TRIM_THRESHOLD
    private const int MMmapMax = -4;       // glibc malloc.h M_MMAP_MAX
    private static readonly Lock Gate = new();

    /// <summary>Free memory kept at the top of the heap before it is given back to the kernel (mallopt takes an int).</summary>
    public const int TrimThresholdBytes = int.MaxValue;

    /// <summary>Whether <see cref="KeepFreedMemory"/> succeeded in this process.</summary>
    public static bool IsKeepingFreedMemory { get; private set; }

    /// <summary>
    /// The same settings as a GLIBC_TUNABLES value, for a child process (e.g. the PyTorch reference) so that a
    /// comparison runs both sides with the same allocator behaviour.
    /// </summary>
    public static string GlibcTunables { get; } =
        string.Create(CultureInfo.InvariantCulture, $"glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold={TrimThresholdBytes}");

    /// <summary>Set to "default" to leave glibc malloc as it is (slower steps, but freed memory goes back to the system).</summary>
    public const string EnvironmentVariable = "NOTEBOOKVGG_MALLOC";

    /// <summary>
    /// Switches glibc malloc to keep freed memory for reuse (mallopt M_MMAP_MAX = 0, M_TRIM_THRESHOLD = 2 GiB).
    /// Affects allocations made afterwards, in the whole process. Returns false where the C library is not glibc
    /// (other OSes, musl), or where <c>NOTEBOOKVGG_MALLOC=default</c> asks for glibc's defaults, and nothing changed. Idempotent.
    /// </summary>
    public static bool KeepFreedMemory()
    {
        lock (Gate)
        {
            if (IsKeepingFreedMemory)
                return true;
            if (string.Equals(Environment.GetEnvironmentVariable(EnvironmentVariable), "default", StringComparison.OrdinalIgnoreCase))
                return false;
            if (!OperatingSystem.IsLinux() || !NativeLibrary.TryLoad("libc.so.6", out var libc) || !NativeLibrary.TryGetExport(libc, "mallopt", out _))
                return false;
            IsKeepingFreedMemory = Mallopt(MMmapMax, 0) == 1 && Mallopt(MTrimThreshold, TrimThresholdBytes) == 1;
            return IsKeepingFreedMemory;
        }
    }

    /// <summary>
    /// Gives the free memory malloc keeps back to the kernel now (glibc malloc_trim(0)), e.g. between benchmark cases so that
    /// each one's peak is its own. Returns false where the C library is not glibc.
    /// </summary>
    public static bool ReleaseFreeMemory()
    {
        if (!OperatingSystem.IsLinux() || !NativeLibrary.TryLoad("libc.so.6", out var libc) || !NativeLibrary.TryGetExport(libc, "malloc_trim", out _))
            return false;
        MallocTrim(0);
        return true;
    }

    /// <summary>
    /// Growth of malloc's heap between training steps before <see cref="ReleaseFreeIfAbove(long)"/> gives its free memory back:
    /// with mmap off, the holes between a step's differently sized buffers otherwise add up, step after step
    /// (measured, fine-tuning VGG19 at 32×32 with batch 256 on the 2-core VM: 5,000 images grew past 23 GB within three epochs
    /// and were killed; 2,000 images reached 6.8 GB in two epochs without this, and stayed under 3.8 GB over three with it).
    /// </summary>
    public const long FreeBytesKeptBetweenSteps = 512L << 20;

    /// <summary>Bytes in free chunks of malloc's heap (glibc mallinfo2's fordblks), or null where that is not available.</summary>
    public static long? FreeBytesInHeap() => MallInfoIfAvailable() is { } info ? (long)info.FreeBytes : null;

    /// <summary>Bytes malloc's heap holds from the kernel, in use or free (glibc mallinfo2's arena), or null where that is not available.</summary>
    public static long? HeapBytes() => MallInfoIfAvailable() is { } info ? (long)info.HeapBytes : null;

    /// <summary>glibc's mallinfo2, or null where the C library has none (not Linux, or glibc before 2.33).</summary>
    private static MallInfo? MallInfoIfAvailable() =>
        OperatingSystem.IsLinux() && NativeLibrary.TryLoad("libc.so.6", out var libc) && NativeLibrary.TryGetExport(libc, "mallinfo2", out _)
            ? MallInfo2() : null;

    /// <summary>
    /// While freed memory is kept (<see cref="KeepFreedMemory"/>), gives the free part back to the kernel once the heap has
    /// grown by more than <paramref name="bytes"/> past its size at the last trim, measured before that trim
    /// (<see cref="HeapGrowthRule"/>): the steps that follow grow back to that size, and that is reuse. The trainer calls
    /// this after every step. Where glibc cannot say (before 2.33), it trims every 64th call. Returns whether it trimmed.
    /// </summary>
    public static bool ReleaseFreeIfAbove(long bytes) => ReleaseFreeIfAbove(bytes, ProcessHeap);

    /// <summary>As <see cref="ReleaseFreeIfAbove(long)"/>, measured by <paramref name="rule"/>: a test's own, free of the marks earlier trainers in the process left.</summary>
    internal static bool ReleaseFreeIfAbove(long bytes, HeapGrowthRule rule)
    {
        if (!IsKeepingFreedMemory)
            return false;
        lock (Gate)
        {
            if (HeapBytes() is not { } heap)
            {
                if (++_callsWithoutMallinfo % 64 != 0)
                    return false;
            }
            else if (!rule.ShouldTrim(heap, bytes))
                return false;
            return ReleaseFreeMemory();
        }
    }

    /// <summary>The process's heap is one for every trainer in it: one rule, one mark.</summary>
    private static readonly HeapGrowthRule ProcessHeap = new();
    private static long _callsWithoutMallinfo;

    [LibraryImport("libc.so.6", EntryPoint = "mallinfo2")]
    private static partial MallInfo MallInfo2();

    /// <summary>glibc's struct mallinfo2: ten size_t fields.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private readonly struct MallInfo
    {
        private readonly nuint _arena, _ordblks, _smblks, _hblks, _hblkhd, _usmblks, _fsmblks, _uordblks, _fordblks, _keepcost;

        public ulong FreeBytes => _fordblks;

        public ulong HeapBytes => _arena;
    }

    [LibraryImport("libc.so.6", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    // mallopt returns 1 on success, 0 on error.
    [LibraryImport("libc.so.6", EntryPoint = "mallopt")]
    private static partial int Mallopt(int param, int value);
}
