using NotebookVgg.Data;
using NotebookVgg.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Tests.Data;

public sealed class BatchIteratorTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly Cifar10Dataset _data;

    public BatchIteratorTests()
    {
        DataTestFiles.SmallSet(_dir.Path, train: 103, test: 10);
        _data = Cifar10.Load(_dir.Path);
    }

    public void Dispose()
    {
        _data.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public void Epoch_VisitsEveryRecordOnce_WithACorrectLastBatch()
    {
        var iterator = new BatchIterator(_data.Train, batchSize: 25, seed: 1);
        var sizes = new List<int>();
        var seen = new List<long>();
        foreach (var batch in iterator.Epoch(0))
        {
            sizes.Add(batch.Count);
            seen.AddRange(batch.Indices);
            Assert.Equal(batch.Count, batch.Images.shape[0]);
            // Images and labels are those of the split at the batch's indices.
            using var selector = torch.tensor(batch.Indices);
            using var expectedImages = _data.Train.Images.index_select(0, selector);
            using var expectedLabels = _data.Train.Labels.index_select(0, selector);
            Assert.True(DataTestFiles.Same(batch.Images, expectedImages));
            Assert.True(DataTestFiles.Same(batch.Labels, expectedLabels));
        }
        Assert.Equal([25, 25, 25, 25, 3], sizes);
        Assert.Equal(5, iterator.BatchesPerEpoch);
        Assert.Equal(Enumerable.Range(0, 103).Select(i => (long)i), seen.Order());
        Assert.NotEqual(Enumerable.Range(0, 103).Select(i => (long)i), seen); // shuffled
    }

    [Fact]
    public void DropLast_LeavesOutTheShortBatch()
    {
        var iterator = new BatchIterator(_data.Train, batchSize: 25, dropLast: true);
        Assert.Equal([25, 25, 25, 25], iterator.Epoch(0).Select(b => b.Count).ToArray());
        Assert.Equal(4, iterator.BatchesPerEpoch);
    }

    [Fact]
    public void Order_IsSeededPerEpoch_AndIndependentOfHistory()
    {
        var a = new BatchIterator(_data.Train, 10, seed: 5);
        var b = new BatchIterator(_data.Train, 10, seed: 5);
        var other = new BatchIterator(_data.Train, 10, seed: 6);
        Assert.Equal(a.Order(3), b.Order(3));
        Assert.NotEqual(a.Order(3), a.Order(4));
        Assert.NotEqual(a.Order(3), other.Order(3));
        Assert.Equal(Enumerable.Range(0, 103).Select(i => (long)i), new BatchIterator(_data.Train, 10, shuffle: false).Order(7));
    }

    [Fact]
    public void Batches_AreDisposedWhenTheNextIsProduced_AndAtTheEnd()
    {
        var iterator = new BatchIterator(_data.Train, 40);
        var batches = new List<Batch>();
        foreach (var batch in iterator.Epoch(0))
        {
            foreach (var earlier in batches)
                Assert.True(earlier.Images.IsInvalid && earlier.Labels.IsInvalid);
            Assert.False(batch.Images.IsInvalid);
            batches.Add(batch);
        }
        Assert.All(batches, b => Assert.True(b.Images.IsInvalid));

        // Leaving the loop early disposes the current batch too.
        Batch? kept = null;
        foreach (var batch in iterator.Epoch(1))
        {
            kept = batch;
            break;
        }
        Assert.True(kept!.Images.IsInvalid);
    }

    [Fact]
    public void Batches_DoNotJoinTheConsumersDisposeScope_AndLeaveNoTensorsBehind()
    {
        var iterator = new BatchIterator(_data.Train, 16, transform: x => ImageTransforms.Resize(ImageTransforms.ToFloat(x), 48, Interpolation.Bilinear));
        foreach (var _ in iterator.Epoch(0)) { } // warm-up: lazily created tensors, if any
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        using (var scope = torch.NewDisposeScope())
        {
            foreach (var batch in iterator.Epoch(1))
            {
                Assert.Equal(new long[] { batch.Count, 3, 48, 48 }, batch.Images.shape);
                Assert.Equal(0, scope.DisposablesCount);
            }
        }
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Prefetch_GivesTheSameBatches()
    {
        static Tensor Augment(Tensor x, torch.Generator g) => ImageTransforms.RandomCropFlip(x, 4, g);
        var plain = new BatchIterator(_data.Train, 16, seed: 9, transform: Augment);
        var prefetching = new BatchIterator(_data.Train, 16, seed: 9, transform: Augment, prefetch: true);
        var expected = plain.Epoch(2).Select(b => b.Images.clone()).ToList();
        int i = 0;
        foreach (var batch in prefetching.Epoch(2))
        {
            Assert.True(DataTestFiles.Same(batch.Images, expected[i]), $"batch {i}");
            expected[i++].Dispose();
        }
        Assert.Equal(expected.Count, i);
    }

    [Fact]
    public void Augmentation_IsSeededByEpoch()
    {
        static Tensor Augment(Tensor x, torch.Generator g) => ImageTransforms.RandomCropFlip(x, 4, g);
        var iterator = new BatchIterator(_data.Train, 103, shuffle: false, seed: 1, transform: Augment);
        // Clone inside the loop: a batch lives until the iterator moves on.
        using var first = iterator.Epoch(0).Select(b => b.Images.clone()).Single();
        using var again = iterator.Epoch(0).Select(b => b.Images.clone()).Single();
        using var next = iterator.Epoch(1).Select(b => b.Images.clone()).Single();
        Assert.True(DataTestFiles.Same(first, again));
        Assert.False(DataTestFiles.Same(first, next));
    }
}
