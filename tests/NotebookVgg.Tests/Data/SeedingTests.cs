using NotebookVgg.Data;
using NotebookVgg.Tests.TestSupport;
using NotebookVgg.Training;
using NotebookVgg.Transfer;

namespace NotebookVgg.Tests.Data;

/// <summary>Issue 14: one seeding rule for every batching path, and it is PyTorch's.</summary>
public sealed class SeedingTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly Cifar10Dataset _data;

    public SeedingTests()
    {
        DataTestFiles.SmallSet(_dir.Path, train: 103, test: 10);
        _data = Cifar10.Load(_dir.Path);
    }

    public void Dispose()
    {
        _data.Dispose();
        _dir.Dispose();
    }

    [Trait("Category", "PyTorch")]
    [Fact]
    public void AnEpochsOrder_IsTheOnePyTorchDrawsFromTheSameGeneratorSeed()
    {
        const int seed = 7, epoch = 3;
        long[] pytorch = PyTorchPermutation(103, Seeding.GeneratorSeed(seed, epoch));

        Assert.Equal(pytorch, Seeding.Permutation(103, seed, epoch));
        Assert.Equal(pytorch, new BatchIterator(_data.Train, 10, seed: seed).Order(epoch));
    }

    [Fact]
    public void ImagesAndCachedFeatures_AreShuffledByTheSameRule()
    {
        using var features = new CachedFeatures(TorchSharp.torch.arange(103, dtype: TorchSharp.torch.ScalarType.Float32).unsqueeze(1),
            TorchSharp.torch.zeros(103, dtype: TorchSharp.torch.ScalarType.Int64), key: "test", fromCache: false, path: "(memory)");
        var source = features.Batches(batchSize: 10, shuffle: true, seed: 5, "features");
        long[] featureOrder = [.. source.Batches(2).SelectMany(b => b.Inputs.data<float>().ToArray()).Select(v => (long)v)];

        Assert.Equal(new BatchIterator(_data.Train, 10, seed: 5).Order(2), featureOrder);
    }

    private static long[] PyTorchPermutation(long count, ulong generatorSeed)
    {
        string output = DebianPython.Run("-c",
            $"import torch; print(' '.join(map(str, torch.randperm({count}, generator=torch.Generator().manual_seed({generatorSeed})).tolist())))");
        return [.. output.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(long.Parse)];
    }
}
