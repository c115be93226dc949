using Microsoft.Data.Analysis;
using NotebookVgg.Models;
using NotebookVgg.Weights;
using static TorchSharp.torch;

namespace NotebookVgg.Notebooks;

/// <summary>One VGG of the model-selection notebook (01): its size, cost and published ImageNet accuracy.</summary>
public sealed record VggCandidate(string Name, long Parameters, double GMacs224, double GMacs32, double WeightFileMB, double TrainingMemoryMB, double Top1, double Top5);

/// <summary>Notebook 01's comparison of the VGG family, computed from the architectures rather than quoted.</summary>
public static class VggFamily
{
    /// <summary>
    /// Every VGG with its size, cost and published ImageNet accuracy. Multiply-accumulates are counted by running
    /// each network once (conv and linear layers). Training memory at 224×224 for <paramref name="batch"/> images is
    /// an estimate: fp32 weights, gradients and Adam's two moments (4 copies), plus every layer's output kept for
    /// the backward pass and its gradient (2 copies).
    /// </summary>
    public static IReadOnlyList<VggCandidate> Compare(int batch = 32)
    {
        var rows = new List<VggCandidate>();
        foreach (var w in PretrainedWeights.All)
        {
            using var scope = NewDisposeScope();
            using var model = Vgg.Create(w.Architecture);
            var at224 = ModelSummary.Of(model, 224);
            var at32 = ModelSummary.Of(model, 32);
            double activations = at224.Layers.Sum(l => (double)l.OutputShape.Aggregate(1L, (a, b) => a * b)) * 4 * batch * 2;
            double weights = at224.TotalParameters * 4.0;
            rows.Add(new VggCandidate(w.Name, at224.TotalParameters, at224.TotalMacs / 1e9, at32.TotalMacs / 1e9,
                (w.Bytes ?? weights) / 1e6, (weights * 4 + activations) / 1e6, w.Top1, w.Top5));
        }
        return rows;
    }

    /// <summary>The <see cref="Compare"/> rows as a table for display: parameters in millions, GMACs and MB rounded.</summary>
    public static DataFrame ToDataFrame(IReadOnlyList<VggCandidate> rows)
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
}
