using System.Diagnostics;
using NotebookVgg.Data;
using NotebookVgg.Tests.TestSupport;
using NotebookVgg.Weights;

namespace NotebookVgg.Tests.Weights;

/// <summary>
/// Issue 13: truncations and bit flips of real weight files and of CIFAR-10 batch files, for a bounded time. A mutated
/// file either reads (a flipped bit in tensor data is still a valid file) or fails with one line naming the file —
/// never another exception type (an overflow, a libtorch backtrace), never a hang.
/// </summary>
public sealed class FuzzTests : IDisposable
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(12);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> WeightFiles() =>
        ["vgg19_r32.legacy.pth", "vgg19_r32.zip.pth", "vgg19_r32.safetensors", "vgg19_r32.torchsharp.dat", "vgg19_r32.checkpoint.legacy.pth"];

    [Theory]
    [MemberData(nameof(WeightFiles))]
    public void MutatedWeightFiles_ReadOrFailInOneLineNamingTheFile(string name)
    {
        byte[] original = File.ReadAllBytes(RepoFiles.Path("tests", "fixtures", "weights", name));
        var random = new Random(name.Length * 7919);
        string path = _dir.Combine("mutated-" + name);
        var clock = Stopwatch.StartNew();
        int tries = 0;
        while (clock.Elapsed < Budget / WeightFiles().Count)
        {
            File.WriteAllBytes(path, Mutate(original, random));
            tries++;
            var error = Record.Exception(() => StateDict.Read(path).Dispose());
            if (error is null)
                continue;
            Assert.True(error is InvalidDataException, $"try {tries}: {error.GetType().Name}: {error.Message}");
            Assert.StartsWith(path, error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', error.Message);
        }
        Assert.True(tries > 5, $"only {tries} tries in the time budget");
    }

    [Fact]
    public void MutatedCifarBatchFiles_LoadOrFailInOneLineNamingTheFile()
    {
        string data = SyntheticCifar.Write(_dir.Combine("data"), 50, 20, seed: 1);
        string folder = Cifar10.ResolveFolder(data);
        string batch = Path.Combine(folder, "data_batch_1.bin");
        byte[] original = File.ReadAllBytes(batch);
        var random = new Random(13);
        var clock = Stopwatch.StartNew();
        int tries = 0;
        while (clock.Elapsed < Budget)
        {
            File.WriteAllBytes(batch, Mutate(original, random));
            tries++;
            var error = Record.Exception(() => Cifar10.Load(data).Dispose());
            if (error is null)
                continue;
            Assert.True(error is InvalidDataException, $"try {tries}: {error.GetType().Name}: {error.Message}");
            Assert.Contains(batch, error.Message, StringComparison.Ordinal);
        }
        Assert.True(tries > 5, $"only {tries} tries in the time budget");
    }

    /// <summary>A truncation (half of the tries) or one to three flipped bits.</summary>
    private static byte[] Mutate(byte[] original, Random random)
    {
        if (random.Next(2) == 0)
            return original[..random.Next(original.Length)];
        byte[] copy = (byte[])original.Clone();
        for (int i = random.Next(1, 4); i > 0; i--)
            copy[random.Next(copy.Length)] ^= (byte)(1 << random.Next(8));
        return copy;
    }
}
