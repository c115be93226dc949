using static TorchSharp.torch;

namespace NotebookVgg.Data;

/// <summary>
/// Batches for one pass: <see cref="Batches"/>(epoch) yields (inputs, labels) on the CPU, already transformed;
/// training sources shuffle by epoch (seeded), validation sources ignore it.
/// </summary>
public sealed record BatchSource(string Name, long Count, int BatchesPerEpoch, Func<int, IEnumerable<(Tensor Inputs, Tensor Labels)>> Batches)
{
    /// <summary>A batch iterator's epochs as a batch source (what the trainer and the evaluator take).</summary>
    internal static BatchSource FromIterator(BatchIterator iterator, string name)
    {
        ArgumentNullException.ThrowIfNull(iterator);
        return new(name, iterator.BatchesPerEpoch * (long)iterator.BatchSize, iterator.BatchesPerEpoch,
            epoch => iterator.Epoch(epoch).Select(b => (b.Images, b.Labels)));
    }
}
