using System.Diagnostics;
using Microsoft.Data.Analysis;
using NotebookVgg.Data;
using NotebookVgg.Models;
using NotebookVgg.Runtime;
using NotebookVgg.Training;
using NotebookVgg.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Notebooks;

/// <summary>One candidate network of the model-selection notebook.</summary>
public sealed record Candidate(string Name, long Parameters, double GMacs224, double GMacs32, double WeightFileMB, double TrainingMemoryMB, double Top1, double Top5);

/// <summary>The figures the notebooks compare and demonstrate, computed rather than quoted.</summary>
public static class Demos
{
    /// <summary>
    /// Every VGG with its size, cost and published ImageNet accuracy. Multiply-accumulates are counted by running
    /// each network once (conv and linear layers). Training memory at 224×224 for <paramref name="batch"/> images is
    /// an estimate: fp32 weights, gradients and Adam's two moments (4 copies), plus every layer's output kept for
    /// the backward pass and its gradient (2 copies).
    /// </summary>
    public static IReadOnlyList<Candidate> CompareVggs(int batch = 32)
    {
        var rows = new List<Candidate>();
        foreach (var w in PretrainedWeights.All)
        {
            using var scope = NewDisposeScope();
            using var model = Vgg.Create(w.Architecture);
            var at224 = ModelSummary.Of(model, 224);
            var at32 = ModelSummary.Of(model, 32);
            double activations = at224.Layers.Sum(l => (double)l.OutputShape.Aggregate(1L, (a, b) => a * b)) * 4 * batch * 2;
            double weights = at224.TotalParameters * 4.0;
            rows.Add(new Candidate(w.Name, at224.TotalParameters, at224.TotalMacs / 1e9, at32.TotalMacs / 1e9,
                (w.Bytes ?? weights) / 1e6, (weights * 4 + activations) / 1e6, w.Top1, w.Top5));
        }
        return rows;
    }

    /// <summary>The <see cref="CompareVggs"/> rows as a table for display: parameters in millions, GMACs and MB rounded.</summary>
    public static DataFrame ToDataFrame(IReadOnlyList<Candidate> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        return new DataFrame(
            new StringDataFrameColumn("model", rows.Select(r => r.Name)),
            new DoubleDataFrameColumn("params (M)", rows.Select(r => Math.Round(r.Parameters / 1e6, 2))),
            new DoubleDataFrameColumn("GMACs @224", rows.Select(r => Math.Round(r.GMacs224, 2))),
            new DoubleDataFrameColumn("GMACs @32", rows.Select(r => Math.Round(r.GMacs32, 3))),
            new DoubleDataFrameColumn("weights (MB)", rows.Select(r => Math.Round(r.WeightFileMB))),
            new DoubleDataFrameColumn("train memory (MB)", rows.Select(r => Math.Round(r.TrainingMemoryMB))),
            new DoubleDataFrameColumn("ImageNet top-1 %", rows.Select(r => r.Top1)),
            new DoubleDataFrameColumn("ImageNet top-5 %", rows.Select(r => r.Top5)));
    }

    /// <summary>
    /// The first <paramref name="count"/> images at 32×32 and resized to <paramref name="size"/> under each interpolation, with
    /// captions. With <paramref name="zoom"/> &gt; 1 each picture is the centre 1/zoom of the image, enlarged back to
    /// <paramref name="size"/> pixel for pixel, so that blocks and blur are visible on the page.
    /// </summary>
    public static (Tensor Images, string[] Captions) ResizeGrid(Cifar10Split split, int count, int size, string[] classNames, int zoom = 1)
    {
        ArgumentNullException.ThrowIfNull(split);
        ArgumentNullException.ThrowIfNull(classNames);
        using var scope = NewDisposeScope();
        var originals = split.Images.narrow(0, 0, count);
        var rows = new List<Tensor>();
        var captions = new List<string>();
        for (int i = 0; i < count; i++)
        {
            var one = originals.narrow(0, i, 1);
            string name = classNames[split.LabelAt(i)];
            rows.Add(Zoom(ImageTransforms.Resize(one.to_type(ScalarType.Float32), size, Interpolation.Nearest).round().clamp(0, 255).to_type(ScalarType.Byte)));
            captions.Add($"{name}: the 32×32 original");
            foreach (var mode in new[] { Interpolation.Nearest, Interpolation.Bilinear, Interpolation.Bicubic })
            {
                rows.Add(Zoom(ImageTransforms.Resize(ImageTransforms.ToFloat(one), size, mode).clamp(0, 1).mul(255).round().to_type(ScalarType.Byte)));
                captions.Add($"{name}: {mode.ToString().ToLowerInvariant()} to {size}");
            }
        }
        return (cat(rows, 0).MoveToOuterDisposeScope(), [.. captions]);

        Tensor Zoom(Tensor image)
        {
            if (zoom <= 1)
                return image;
            int side = size / zoom, start = (size - side) / 2;
            var centre = image.narrow(2, start, side).narrow(3, start, side);
            return centre.repeat_interleave(zoom, 2).repeat_interleave(zoom, 3);
        }
    }

    /// <summary>
    /// What each input size costs VGG19's convolutional part: multiply-accumulates per image and the measured seconds per
    /// batch on this machine, as the median of <paramref name="repeats"/> timings with their spread (fastest–slowest), after
    /// one warm-up pass per size. The sizes take turns within each repeat, so that a machine busy with other work slows
    /// every size alike instead of one; the ratios to the first size say whether the time follows the multiply-adds.
    /// </summary>
    public static DataFrame InputSizeCost(Vgg model, int[] sizes, int batch, int repeats = 5)
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
                    model.features.call(x).Dispose(); // warm-up: first-call allocations and kernel selection
                for (int r = 0; r < repeats; r++)
                {
                    for (int i = 0; i < sizes.Length; i++)
                    {
                        var clock = Stopwatch.StartNew();
                        model.features.call(inputs[i]).Dispose();
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
