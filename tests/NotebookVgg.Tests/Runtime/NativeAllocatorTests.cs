using NotebookVgg.Runtime;

namespace NotebookVgg.Tests.Runtime;

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
    public void GlibcTunables_StateTheSameSettingsForAChildProcess() =>
        Assert.Equal("glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=2147483647", NativeAllocator.GlibcTunables);
}
