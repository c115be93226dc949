using NotebookVgg.Runtime;
using TorchSharp;

namespace NotebookVgg.Tests.Runtime;

public class NativeRuntimeTests
{
    [Fact]
    public void TorchSharp_LoadsAndComputes()
    {
        var status = NativeRuntime.EnsureReady();
        using var a = torch.tensor(new float[] { 1, 2, 3, 4 }).reshape(2, 2);
        using var product = a.matmul(a);
        Assert.Equal(new float[] { 7, 10, 15, 22 }, product.data<float>().ToArray());
        Assert.StartsWith("2.10", torch.__version__, StringComparison.Ordinal);
        Assert.False(status.FixNeeded && !status.FixActive, "the native-runtime fix is needed here but not active");
    }

    [Fact]
    public void LibTorch_IsLoadedFromItsPackage_NotFromTheSystem()
    {
        NativeRuntime.EnsureReady();
        using var warm = torch.ones(1);
        var loaded = File.ReadLines("/proc/self/maps")
            .Select(l => l.IndexOf('/', StringComparison.Ordinal) is var i and >= 0 ? l[i..] : "")
            .Where(p => p.EndsWith("/libtorch_cpu.so", StringComparison.Ordinal))
            .Distinct()
            .ToList();
        var single = Assert.Single(loaded);
        Assert.DoesNotContain("/usr/lib", single, StringComparison.Ordinal);
    }

    [Fact]
    public void WriteWeakCopy_MarksOnlyTheNamedVersion_LeavesTheSourceAlone_AndIsIdempotent()
    {
        string original = NativeRuntime.Status.LibTorchSharpFiles[0];
        string copy = Path.Combine(Path.GetTempPath(), $"nvgg-elf-{Guid.NewGuid():N}.so");
        string weak = copy + ".weak.so", again = copy + ".again.so";
        File.Copy(original, copy);
        try
        {
            // Start from the shipped state, the marker requirement strong, whatever this machine did to the original.
            var marker = Assert.Single(ElfVersionNeeds.Read(copy), r => r.Version == NativeRuntime.MarkerVersion);
            Assert.Equal("libstdc++.so.6", marker.File);
            byte[] bytes = File.ReadAllBytes(copy);
            bytes[marker.FlagsOffset] &= unchecked((byte)~0x2);
            File.WriteAllBytes(copy, bytes);
            var before = ElfVersionNeeds.Read(copy);
            Assert.False(Assert.Single(before, r => r.Version == NativeRuntime.MarkerVersion).IsWeak);

            ElfVersionNeeds.WriteWeakCopy(copy, weak, NativeRuntime.MarkerVersion);
            Assert.Equal(bytes, File.ReadAllBytes(copy)); // the source is only read
            var after = ElfVersionNeeds.Read(weak);
            Assert.True(Assert.Single(after, r => r.Version == NativeRuntime.MarkerVersion).IsWeak);
            // Nothing else changed: same requirements, same weak flags, same length.
            Assert.Equal(
                before.Where(r => r.Version != NativeRuntime.MarkerVersion).Select(r => (r.File, r.Version, r.IsWeak)),
                after.Where(r => r.Version != NativeRuntime.MarkerVersion).Select(r => (r.File, r.Version, r.IsWeak)));
            Assert.Equal(bytes.Length, new FileInfo(weak).Length);
            ElfVersionNeeds.WriteWeakCopy(weak, again, NativeRuntime.MarkerVersion);
            Assert.Equal(File.ReadAllBytes(weak), File.ReadAllBytes(again));
        }
        finally
        {
            foreach (string f in new[] { copy, weak, again })
                File.Delete(f);
        }
    }

    [Fact]
    public void Read_RejectsAFileThatIsNotElf_NamingIt()
    {
        string path = Path.Combine(Path.GetTempPath(), $"nvgg-notelf-{Guid.NewGuid():N}.so");
        File.WriteAllText(path, "hello, not an ELF file at all, but long enough to have a header........");
        try
        {
            var ex = Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.Read(path));
            Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
