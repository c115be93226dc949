namespace NotebookVgg.Data;

/// <summary>Record counts of one split, in total and per class (index = label).</summary>
public sealed record SplitSummary(string Name, int Count, int[] CountPerClass);

/// <summary>
/// What <c>nvgg data summary</c> reports: source, class names, counts per split and class, and the per-channel
/// (R, G, B) mean and standard deviation of the train pixels scaled to [0,1]. The standard deviation is the
/// population one (divide by N, numpy's default); for the official train set the figures are about
/// mean (0.4914, 0.4822, 0.4465), std (0.2470, 0.2435, 0.2616).
/// </summary>
public sealed record DatasetSummary(
    string Source,
    bool IsSynthetic,
    string Directory,
    IReadOnlyList<string> ClassNames,
    SplitSummary Train,
    SplitSummary Test,
    double[] TrainChannelMean,
    double[] TrainChannelStd)
{
    /// <summary>Counts and statistics of a loaded data set. Exact: a 256-bin histogram per channel, then double sums over it.</summary>
    public static DatasetSummary Compute(Cifar10Dataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        var (mean, std) = ChannelStatistics(dataset.Train);
        return new DatasetSummary(
            dataset.SourceName,
            dataset.IsSynthetic,
            dataset.Directory,
            dataset.ClassNames,
            Summarize(dataset.Train),
            Summarize(dataset.Test),
            mean,
            std);
    }

    private static SplitSummary Summarize(Cifar10Split split) => new(split.Name, split.Count, split.CountPerClass());

    /// <summary>Per-channel mean and population standard deviation of a split's pixels, scaled to [0,1].</summary>
    public static (double[] Mean, double[] Std) ChannelStatistics(Cifar10Split split)
    {
        ArgumentNullException.ThrowIfNull(split);
        const int plane = 32 * 32;
        // Counting values is exact and about as fast as one pass over the bytes can be.
        var histograms = new long[3, 256];
        ReadOnlySpan<byte> pixels = split.Images.bytes;
        for (int image = 0; image < split.Count; image++)
        {
            for (int c = 0; c < 3; c++)
            {
                foreach (byte value in pixels.Slice((image * 3 + c) * plane, plane))
                    histograms[c, value]++;
            }
        }
        double[] mean = new double[3], std = new double[3];
        double n = (double)split.Count * plane;
        for (int c = 0; c < 3; c++)
        {
            if (n == 0)
            {
                mean[c] = std[c] = double.NaN;
                continue;
            }
            double sum = 0;
            for (int v = 0; v < 256; v++)
                sum += histograms[c, v] * (v / 255.0);
            mean[c] = sum / n;
            double squares = 0;
            for (int v = 0; v < 256; v++)
            {
                double d = v / 255.0 - mean[c];
                squares += histograms[c, v] * d * d;
            }
            std[c] = Math.Sqrt(squares / n);
        }
        return (mean, std);
    }
}
