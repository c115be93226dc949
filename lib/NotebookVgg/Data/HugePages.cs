using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace NotebookVgg.Data;

/// <summary>
/// Asks Linux for transparent huge pages on a large, freshly allocated tensor before it is first written.
/// Hand-written because libtorch's CPU allocator does not ask (unless THP_MEM_ALLOC_ENABLE is set before the
/// process starts), and where THP is in "madvise" mode the first touch of fresh memory in 4 KiB pages
/// dominates loading CIFAR-10 (184 MB). Advisory only: any failure leaves normal pages.
/// </summary>
internal static partial class HugePages
{
    private const int MadviseHugePage = 14; // MADV_HUGEPAGE
    private const long HugePageBytes = 2 << 20;

    public static void Advise(Tensor tensor)
    {
        if (!OperatingSystem.IsLinux() || tensor.NumberOfElements * tensor.ElementSize < 2 * HugePageBytes)
            return;
        long address = tensor.storage<byte>().data_ptr();
        long start = (address + HugePageBytes - 1) & ~(HugePageBytes - 1);
        long end = (address + tensor.NumberOfElements * tensor.ElementSize) & ~(HugePageBytes - 1);
        try
        {
            _ = Madvise((nint)start, (nuint)(end - start), MadviseHugePage);
        }
        catch (EntryPointNotFoundException) { /* not glibc/musl: keep normal pages */ }
        catch (DllNotFoundException) { }
    }

    [DllImport("libc", EntryPoint = "madvise")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Madvise(nint address, nuint length, int advice);
}
