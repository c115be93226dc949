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
        Assert.True(NativeAllocator.KeepFreedMemory());
        using (var big = TorchSharp.torch.ones(64L << 20)) // 256 MiB through malloc, touched, then freed
            Assert.Equal(64L << 20, big.sum().item<float>());
        double kept = NotebookVgg.Runtime.ResidentMemory.CurrentMegabytes()!.Value;

        Assert.True(NativeAllocator.ReleaseFreeMemory());

        Assert.True(NotebookVgg.Runtime.ResidentMemory.CurrentMegabytes() <= kept + 1);
    }

    [Fact]
    public void GlibcTunables_StateTheSameSettingsForAChildProcess() =>
        Assert.Equal("glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=2147483647", NativeAllocator.GlibcTunables);
}
