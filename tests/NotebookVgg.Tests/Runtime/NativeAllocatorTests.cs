using NotebookVgg.Tests.TestSupport;
using NotebookVgg.Runtime;

namespace NotebookVgg.Tests.Runtime;

// Measures resident memory: runs apart from tests that allocate in parallel.
[Collection(GlobalRandomState.Name)]
public class NativeAllocatorTests
{
    [Fact]
    public void KeepFreedMemory_OnGlibcLinux_SucceedsAndIsIdempotent()
    {
        Assert.True(OperatingSystem.IsLinux(), "this project's machines run glibc Linux");

        Assert.True(NativeAllocator.KeepFreedMemory());
        Assert.True(NativeAllocator.KeepFreedMemory());
        Assert.True(NativeAllocator.IsKeepingFreedMemory);
    }

    [Fact]
    public void ReleaseFreeMemory_OnGlibc_TrimsAndNeverGrowsResidentMemory()
    {
        FinalizeEarlierTestsTensors();
        Assert.True(NativeAllocator.KeepFreedMemory());
        using (var big = TorchSharp.torch.ones(64L << 20)) // 256 MiB through malloc, touched, then freed
            Assert.Equal(64L << 20, big.sum().item<float>());
        double kept = NotebookVgg.Runtime.ResidentMemory.CurrentMegabytes()!.Value;

        Assert.True(NativeAllocator.ReleaseFreeMemory());

        Assert.True(NotebookVgg.Runtime.ResidentMemory.CurrentMegabytes() <= kept + 1);
    }

    [Fact]
    public void ReleaseFreeIfAbove_TrimsOnlyWhenFreeMemoryGrewPastTheThreshold()
    {
        // The trainer calls it after every step; the effect on a real fine-tune (23 GB → 4 GB) is in the closing note of
        // issue 15's stop, measured with nvgg train, since a memory target belongs in a benchmark, not a unit test.
        FinalizeEarlierTestsTensors();
        Assert.True(NativeAllocator.KeepFreedMemory());
        using (var big = TorchSharp.torch.ones(64L << 20)) // 256 MiB through malloc, touched, then freed
            Assert.Equal(64L << 20, big.sum().item<float>());
        long free = NativeAllocator.FreeBytesInHeap() ?? throw new InvalidOperationException("glibc without mallinfo2 (before 2.33)");
        Assert.True(free >= 0);
        double before = ResidentMemory.CurrentMegabytes()!.Value;

        Assert.False(NativeAllocator.ReleaseFreeIfAbove(long.MaxValue)); // below the threshold: kept for reuse
        Assert.True(NativeAllocator.ReleaseFreeIfAbove(-1));
        // Trimmed chunks still count as free: without new growth there is nothing to give back, so no second trim.
        Assert.False(NativeAllocator.ReleaseFreeIfAbove(NativeAllocator.FreeBytesKeptBetweenSteps));

        Assert.True(ResidentMemory.CurrentMegabytes() <= before + 1);
    }

    /// <summary>
    /// Tensors an earlier test left to the garbage collector are freed by the finalizer thread at any moment: freed between
    /// two of this test's calls, they would look like the growth the test is about.
    /// </summary>
    private static void FinalizeEarlierTestsTensors()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    [Fact]
    public void GlibcTunables_StateTheSameSettingsForAChildProcess() =>
        Assert.Equal("glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=2147483647", NativeAllocator.GlibcTunables);
}
