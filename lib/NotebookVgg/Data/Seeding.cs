using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Data;

/// <summary>
/// The one seeding rule of NotebookVgg's data: every random draw (a balanced subset, an epoch's order, an epoch's
/// augmentation) comes from a <c>torch.Generator</c> seeded with <c>seed × 1,000,003 + epoch</c> (subsets: epoch 0).
/// The same seed gives the same subset and the same orders on any machine, whatever ran before, and the same as a
/// PyTorch script that writes <c>torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))</c>.
/// </summary>
internal static class Seeding
{
    /// <summary>The generator seed of (seed, epoch).</summary>
    public static ulong GeneratorSeed(int seed, int epoch) => unchecked((ulong)(long)seed * 1_000_003UL + (ulong)(long)epoch);

    /// <summary>A generator seeded by the rule: an epoch's permutation is drawn first, then its augmentation.</summary>
    public static torch.Generator Generator(int seed, int epoch) => new(GeneratorSeed(seed, epoch));

    /// <summary><c>randperm(count)</c> from <paramref name="generator"/>, as an array.</summary>
    public static long[] Permutation(long count, torch.Generator generator)
    {
        using var order = randperm(count, generator: generator);
        return order.data<long>().ToArray();
    }

    /// <summary>The order of an epoch of <paramref name="count"/> records under (seed, epoch).</summary>
    public static long[] Permutation(long count, int seed, int epoch)
    {
        using var generator = Generator(seed, epoch);
        return Permutation(count, generator);
    }
}
