namespace NotebookVgg.Runtime;

/// <summary>
/// When the trainer gives malloc's free memory back: once the heap has grown by more than a threshold past its size
/// before the last trim. A training step frees what it allocated and the next step needs the same heap again, so growing
/// back to that size is reuse; only growth past it (holes between differently sized buffers adding up) is given back.
/// Measuring from the heap a trim left (or from its free bytes, as before) trimmed after every step whose buffers exceed
/// the threshold, and every step page-faulted its buffers anew (fine-tunes 2.4× as long).
/// </summary>
internal sealed class HeapGrowthRule
{
    /// <summary>The heap's size, in bytes, when <see cref="ShouldTrim"/> last said yes (before that trim); 0 before the first.</summary>
    public long HeapBeforeLastTrim { get; private set; }

    /// <summary>
    /// Whether a heap of <paramref name="heapBytes"/> has grown by more than <paramref name="thresholdBytes"/> past its size
    /// before the last trim; when it has, that size becomes the mark the next growth is measured from.
    /// </summary>
    public bool ShouldTrim(long heapBytes, long thresholdBytes)
    {
        if (heapBytes - HeapBeforeLastTrim <= thresholdBytes)
            return false;
        HeapBeforeLastTrim = heapBytes;
        return true;
    }
}
