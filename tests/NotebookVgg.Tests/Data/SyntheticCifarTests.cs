using NotebookVgg.Data;
using NotebookVgg.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Tests.Data;

public sealed class SyntheticCifarTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static byte[][] Bytes(string folder) =>
        [.. Directory.GetFiles(folder).Order(StringComparer.Ordinal).Select(File.ReadAllBytes)];

    [Fact]
    public void Write_UsesTheOfficialLayout_AndSpreadsRecordsOverFiles()
    {
        string root = SyntheticCifar.Write(_dir.Path, trainCount: 123, testCount: 17, seed: 1);
        string folder = Path.Combine(root, Cifar10.FolderName);
        Assert.Equal(
            ["SYNTHETIC.txt", "batches.meta.txt", "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"],
            Directory.GetFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal([25, 25, 25, 24, 24], Cifar10.TrainFileNames.Select(f => new FileInfo(Path.Combine(folder, f)).Length / 3073));
        Assert.Equal(17 * 3073, new FileInfo(Path.Combine(folder, "test_batch.bin")).Length);
        Assert.Equal([folder], Directory.GetDirectories(root)); // no temporary folder left

        using var data = Cifar10.Load(root);
        Assert.True(data.IsSynthetic);
        Assert.Equal("synthetic CIFAR-10-shaped data", data.SourceName);
        Assert.Equal([13, 13, 13, 12, 12, 12, 12, 12, 12, 12], data.Train.CountPerClass());
    }

    [Fact]
    public void Write_IsDeterministicBySeed()
    {
        SyntheticCifar.Write(_dir.Combine("a"), 60, 10, seed: 42);
        SyntheticCifar.Write(_dir.Combine("b"), 60, 10, seed: 42);
        SyntheticCifar.Write(_dir.Combine("c"), 60, 10, seed: 43);
        var a = Bytes(_dir.Combine("a", Cifar10.FolderName));
        Assert.Equal(a, Bytes(_dir.Combine("b", Cifar10.FolderName)));
        Assert.NotEqual(a, Bytes(_dir.Combine("c", Cifar10.FolderName)));
    }

    [Fact]
    public void Write_ReplacesSyntheticData_ButNeverRealData()
    {
        SyntheticCifar.Write(_dir.Path, 10, 10, seed: 1);
        SyntheticCifar.Write(_dir.Path, 20, 10, seed: 1);
        using (var data = Cifar10.Load(_dir.Path))
            Assert.Equal(20, data.Train.Count);

        File.Delete(_dir.Combine(Cifar10.FolderName, Cifar10.SyntheticMarkerFileName)); // now it looks real
        var ex = Assert.Throws<IOException>(() => SyntheticCifar.Write(_dir.Path, 10, 10, seed: 1));
        Assert.Contains("not synthetic", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(4, 10)]
    [InlineData(10, 0)]
    public void Write_TooFewRecords_IsAnError(int train, int test)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SyntheticCifar.Write(_dir.Path, train, test, seed: 0));
        Assert.Empty(Directory.GetFileSystemEntries(_dir.Path));
    }

    [Fact]
    public void Classes_AreTellableApartByALinearClassifier()
    {
        SyntheticCifar.Write(_dir.Path, 1000, 500, seed: 3);
        using var data = Cifar10.Load(_dir.Path);
        using var scope = torch.NewDisposeScope();

        // Nearest class centroid on 8×8 downsampled pixels: a linear classifier fitted in one pass.
        Tensor Features(Cifar10Split s) =>
            nn.functional.avg_pool2d(ImageTransforms.ToFloat(s.Images), 4).flatten(1);
        var trainX = Features(data.Train);
        var centroids = torch.stack(Enumerable.Range(0, 10).Select(c => trainX[data.Train.Labels == c].mean([0])).ToArray());
        var predicted = torch.cdist(Features(data.Test), centroids).argmin(1);
        double accuracy = (predicted == data.Test.Labels).to_type(ScalarType.Float64).mean().item<double>();
        Assert.True(accuracy > 0.9, $"nearest-centroid accuracy {accuracy:P1}");
    }
}
