using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Data;

/// <summary>
/// One batch: transformed images, int64 labels, and which records of the split they are. Owned by the
/// <see cref="BatchIterator"/> that produced it (see there); disposing it yourself as well is harmless.
/// </summary>
internal sealed class Batch : IDisposable
{
    /// <summary>Takes ownership of <paramref name="images"/> and <paramref name="labels"/>: <see cref="Dispose"/> frees them.</summary>
    /// <param name="images">The batch's images, first dimension one per record.</param>
    /// <param name="labels">int64, one class index per record.</param>
    /// <param name="indices">Positions of these records in the split, in batch order.</param>
    public Batch(Tensor images, Tensor labels, long[] indices)
    {
        Images = images;
        Labels = labels;
        Indices = indices;
    }

    /// <summary>The images after the iterator's transform (uint8 N×3×32×32 without one).</summary>
    public Tensor Images { get; }

    /// <summary>int64, N, the class (0–9) of each image.</summary>
    public Tensor Labels { get; }

    /// <summary>Positions of these records in the split.</summary>
    public long[] Indices { get; }

    /// <summary>Records in this batch; the last batch of an epoch may hold fewer than the batch size.</summary>
    public int Count => Indices.Length;

    /// <summary>Disposes <see cref="Images"/> and <see cref="Labels"/>.</summary>
    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}

/// <summary>
/// Walks a split in batches: a seeded shuffle per epoch (<see cref="Seeding"/>: the same seed and epoch give the same
/// order, whatever ran before), a fixed batch size with a smaller last batch (or none, with dropLast), and a transform applied
/// per batch to the uint8 images (resizing happens here, one batch at a time, never for the whole split).
/// <para>
/// Lifetimes: batches are not registered in any dispose scope. Each batch is disposed by the iterator when the
/// consumer asks for the next one, and the last one when the loop ends (also on break or exception), so an
/// epoch holds at most two batches (three with prefetch). Clone a tensor to keep it beyond its step.
/// </para>
/// <para>
/// Prefetch (optional) builds the next batch on a worker thread while the consumer uses the current one.
/// It pays when the consumer's step leaves cores idle, e.g. waiting on a GPU; on a CPU-only machine the
/// transform and the model compete for the same cores.
/// </para>
/// </summary>
internal sealed class BatchIterator
{
    private readonly Cifar10Split _split;
    private readonly Func<Tensor, torch.Generator, Tensor>? _transform;
    private readonly bool _prefetch;

    /// <param name="split">The records to walk; not copied, so keep it alive while iterating.</param>
    /// <param name="batchSize">Records per batch; the last batch holds the rest.</param>
    /// <param name="shuffle">Shuffle per epoch (training) or keep the split's order (evaluation).</param>
    /// <param name="seed">Seeds the shuffle and the transform's generator, together with the epoch number.</param>
    /// <param name="dropLast">Leave out a last batch smaller than <paramref name="batchSize"/>.</param>
    /// <param name="prefetch">Build the next batch on a worker thread while the consumer uses the current one.</param>
    /// <param name="transform">
    /// Maps the uint8 N×3×32×32 images of a batch to what the model eats; given a generator seeded from
    /// (seed, epoch) for augmentation. Null keeps the uint8 images. Intermediates it creates are disposed.
    /// </param>
    public BatchIterator(
        Cifar10Split split,
        int batchSize,
        bool shuffle = true,
        int seed = 0,
        Func<Tensor, torch.Generator, Tensor>? transform = null,
        bool dropLast = false,
        bool prefetch = false)
    {
        ArgumentNullException.ThrowIfNull(split);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        _split = split;
        BatchSize = batchSize;
        Shuffle = shuffle;
        Seed = seed;
        _transform = transform;
        DropLast = dropLast;
        _prefetch = prefetch;
    }

    /// <summary>Same as the main constructor for a transform that needs no randomness.</summary>
    public BatchIterator(Cifar10Split split, int batchSize, Func<Tensor, Tensor> transform, bool shuffle = true, int seed = 0, bool dropLast = false, bool prefetch = false)
        : this(split, batchSize, shuffle, seed, WithoutGenerator(transform), dropLast, prefetch)
    {
    }

    /// <summary>Records per batch; the last batch holds the rest unless <see cref="DropLast"/>.</summary>
    public int BatchSize { get; }

    /// <summary>Whether each epoch walks a seeded permutation (training) rather than the split's order (evaluation).</summary>
    public bool Shuffle { get; }

    /// <summary>Seeds, together with the epoch number, the shuffle and the transform's generator.</summary>
    public int Seed { get; }

    /// <summary>Whether a last batch smaller than <see cref="BatchSize"/> is left out.</summary>
    public bool DropLast { get; }

    /// <summary>Batches per epoch: ⌈N / batch⌉, or ⌊N / batch⌋ with dropLast.</summary>
    public int BatchesPerEpoch => DropLast ? _split.Count / BatchSize : (_split.Count + BatchSize - 1) / BatchSize;

    /// <summary>The record order of an epoch: a permutation seeded by (seed, epoch) (<see cref="Seeding"/>), or 0…N−1 without shuffle.</summary>
    public long[] Order(int epoch)
    {
        using var generator = Seeding.Generator(Seed, epoch);
        return Order(generator);
    }

    private long[] Order(torch.Generator generator)
    {
        if (Shuffle)
            return Seeding.Permutation(_split.Count, generator);
        long[] order = new long[_split.Count];
        for (int i = 0; i < order.Length; i++)
            order[i] = i;
        return order;
    }

    /// <summary>The batches of one epoch. See the class remarks for who disposes them.</summary>
    public IEnumerable<Batch> Epoch(int epoch)
    {
        using var generator = Seeding.Generator(Seed, epoch); // the order first, then the augmentation, from one generator
        long[] order = Order(generator);
        int batches = BatchesPerEpoch;
        Batch? current = null;
        Task<Batch>? next = null;
        try
        {
            for (int b = 0; b < batches; b++)
            {
                Batch produced = next is not null ? next.GetAwaiter().GetResult() : Make(order, b, generator);
                next = null;
                current?.Dispose();
                current = produced;
                if (_prefetch && b + 1 < batches)
                {
                    int following = b + 1;
                    next = Task.Run(() => Make(order, following, generator));
                }
                yield return current;
            }
        }
        finally
        {
            current?.Dispose();
            if (next is not null)
            {
                try { next.Wait(); }
                catch (AggregateException) { /* the consumer stopped already; a failure of a batch nobody will see is moot */ }
                if (next.IsCompletedSuccessfully)
                    next.Result.Dispose();
            }
        }
    }

    private Batch Make(long[] order, int batch, torch.Generator generator)
    {
        int start = batch * BatchSize;
        long[] indices = order.AsSpan(start, Math.Min(BatchSize, order.Length - start)).ToArray();
        using var scope = torch.NewDisposeScope();
        var selector = torch.tensor(indices, dtype: ScalarType.Int64);
        var images = _split.Images.index_select(0, selector);
        var labels = _split.Labels.index_select(0, selector);
        if (_transform is not null)
            images = _transform(images, generator);
        // Owned by the Batch alone: the scope disposes everything else made here.
        images.DetachFromDisposeScope();
        labels.DetachFromDisposeScope();
        return new Batch(images, labels, indices);
    }

    private static Func<Tensor, torch.Generator, Tensor> WithoutGenerator(Func<Tensor, Tensor> transform)
    {
        ArgumentNullException.ThrowIfNull(transform);
        return (images, _) => transform(images);
    }
}
