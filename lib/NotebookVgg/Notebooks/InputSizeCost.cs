using System.Diagnostics;
using Microsoft.Data.Analysis;
using NotebookVgg.Models;
using NotebookVgg.Runtime;
using static TorchSharp.torch;

namespace NotebookVgg.Notebooks;

/// <summary>Notebook 03's table of what each input size costs: multiply-adds counted, seconds measured.</summary>
public static class InputSizeCost
{
    /// <summary>
    /// What each input size costs VGG19's convolutional part: multiply-accumulates per image and the measured seconds per
    /// batch on this machine, as the median of <paramref name="repeats"/> timings with their spread (fastest–slowest), after
    /// one warm-up pass per size. The sizes take turns within each repeat, so that a machine busy with other work slows
    /// every size alike instead of one; the ratios to the first size say whether the time follows the multiply-adds. The
    /// convolutions run as the library's feature extraction runs them (on AVX2 CPUs, Winograd for the wider 3×3 layers).
    /// </summary>
    public static DataFrame Measure(Vgg model, int[] sizes, int batch, int repeats = 5)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(sizes);
        ArgumentOutOfRangeException.ThrowIfLessThan(repeats, 1);
        model.eval();
        var gmacs = sizes.Select(size => ModelSummary.Of(model, size).MacsUnder("features") / 1e9).ToList();
        var times = sizes.Select(_ => new List<double>()).ToList();
        using (no_grad())
        {
            var inputs = sizes.Select(size => CpuSpeed.ToChannelsLast(randn(batch, 3, size, size))).ToList();
            try
            {
                foreach (var x in inputs)
                    model.RunFeatures(x, ConvolutionPath.WinogradWherePays).Dispose(); // warm-up: first-call allocations and kernel selection
                for (int r = 0; r < repeats; r++)
                {
                    for (int i = 0; i < sizes.Length; i++)
                    {
                        var clock = Stopwatch.StartNew();
                        model.RunFeatures(inputs[i], ConvolutionPath.WinogradWherePays).Dispose(); // as feature extraction runs it
                        times[i].Add(clock.Elapsed.TotalSeconds);
                    }
                }
            }
            finally
            {
                foreach (var x in inputs)
                    x.Dispose();
            }
        }
        var median = times.Select(Median).ToList();
        string Spread(List<double> t) => FormattableString.Invariant($"{t.Min():0.000}–{t.Max():0.000}");
        return new DataFrame(
            new Int32DataFrameColumn("input size", sizes),
            new DoubleDataFrameColumn("GMACs per image", gmacs.Select(g => Math.Round(g, 3))),
            new DoubleDataFrameColumn($"× the work of {sizes[0]}", gmacs.Select(g => Math.Round(g / gmacs[0], 1))),
            new DoubleDataFrameColumn($"seconds per batch of {batch} (median of {repeats})", median.Select(m => Math.Round(m, 3))),
            new StringDataFrameColumn("spread (fastest–slowest)", times.Select(Spread)),
            new DoubleDataFrameColumn($"× the time of {sizes[0]}", median.Select(m => Math.Round(m / median[0], 1))),
            new DoubleDataFrameColumn("images per second", median.Select(m => Math.Round(batch / m, 1))),
            // The same work rate at every size means the time follows the multiply-adds; a lower one, that it does not.
            new DoubleDataFrameColumn("GMACs per second", gmacs.Zip(median, (g, m) => Math.Round(g * batch / m, 1))));
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        int n = sorted.Count;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
