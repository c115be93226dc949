using NotebookVgg.Data;
using NotebookVgg.Tests.TestSupport;

namespace NotebookVgg.Tests.Data;

public sealed class Cifar10SplitTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly Cifar10Dataset _data;

    public Cifar10SplitTests()
    {
        DataTestFiles.SmallSet(_dir.Path, train: 500, test: 40);  // 100 records per batch file, 50 per class
        _data = Cifar10.Load(_dir.Path);
    }

    public void Dispose()
    {
        _data.Dispose();
        _dir.Dispose();
    }

    private static long[] Labels(Cifar10Split split) => split.Labels.data<long>().ToArray();

    [Fact]
    public void CountPerClass_MatchesTheLabels()
    {
        int[] counts = _data.Train.CountPerClass();
        Assert.All(counts, c => Assert.Equal(50, c));
        long[] labels = Labels(_data.Train);
        for (int c = 0; c < 10; c++)
            Assert.Equal(labels.Count(l => l == c), counts[c]);
    }

    [Fact]
    public void Subset_CopiesTheChosenRecordsInOrder()
    {
        long[] indices = [499, 0, 250, 250];
        using var subset = _data.Train.Subset(indices, "picked");
        Assert.Equal("picked", subset.Name);
        Assert.Equal(4, subset.Count);
        for (int i = 0; i < indices.Length; i++)
        {
            Assert.True(DataTestFiles.Same(subset.Images[i], _data.Train.Images[indices[i]]));
            Assert.Equal(_data.Train.Labels[indices[i]].item<long>(), subset.Labels[i].item<long>());
        }
    }

    [Fact]
    public void Subset_IndexOutOfRange_IsAnErrorNamingIt()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => _data.Train.Subset([3, 500], "bad"));
        Assert.Contains("index 500 (position 1)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BalancedSubset_IsBalancedSeededAndOrdered()
    {
        using var a = _data.Train.BalancedSubset(12, seed: 3);
        using var b = _data.Train.BalancedSubset(12, seed: 3);
        using var c = _data.Train.BalancedSubset(12, seed: 4);
        Assert.All(a.CountPerClass(), n => Assert.Equal(12, n));
        Assert.Equal(120, a.Count);
        Assert.True(DataTestFiles.Same(a.Images, b.Images));
        Assert.False(DataTestFiles.Same(a.Images, c.Images));
        Assert.Equal("train (12 per class, seed 3)", a.Name);
    }

    [Fact]
    public void BalancedSubset_TooManyPerClass_IsAnError()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => _data.Test.BalancedSubset(5, seed: 0));
        Assert.Contains("has 4 records of class", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SplitValidation_TakesTheLastTenthOfEachBatchFile()
    {
        var (train, validation) = _data.Train.SplitValidation(0.1);
        using (train)
        using (validation)
        {
            Assert.Equal(450, train.Count);
            Assert.Equal(50, validation.Count);
            Assert.Equal("train", train.Name);
            Assert.Equal("validation", validation.Name);
            // Files hold records 0–99, 100–199, …: validation is 90–99, 190–199, … in order.
            long[] expected = [.. Enumerable.Range(0, 5).SelectMany(f => Enumerable.Range(f * 100 + 90, 10)).Select(i => (long)i)];
            using var reference = _data.Train.Subset(expected, "expected");
            Assert.True(DataTestFiles.Same(validation.Images, reference.Images));
            Assert.Equal(Labels(reference), Labels(validation));
        }
    }

    [Fact]
    public void SplitValidation_OfASubset_UsesEachFilesShare()
    {
        using var subset = _data.Train.BalancedSubset(20, seed: 1);
        var (train, validation) = subset.SplitValidation(0.25);
        using (train)
        using (validation)
        {
            Assert.Equal(subset.Count, train.Count + validation.Count);
            Assert.InRange(validation.Count, 45, 55); // a quarter of each file's share, rounded per file
        }
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(double.NaN)]
    public void SplitValidation_FractionOutsideZeroOne_IsAnError(double fraction)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _data.Train.SplitValidation(fraction));
    }
}
