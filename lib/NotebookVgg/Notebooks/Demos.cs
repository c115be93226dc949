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
    /// The tutorial's warning, measured: a linear head trained on the same features twice with the same seed —
    /// once with cross-entropy on logits (right), once with softmax applied before a loss that applies log-softmax
    /// again (wrong). Returns both histories (accuracy on <paramref name="validation"/>).
    /// </summary>
    public static (TrainingHistory Logits, TrainingHistory DoubleSoftmax) SoftmaxTrap(
        CachedFeatures train, CachedFeatures validation, int epochs, double learningRate, int seed, string dataName)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        return (Run(false), Run(true));

        TrainingHistory Run(bool softmaxFirst)
        {
            torch.random.manual_seed(seed);
            using var head = nn.Linear(train.Features.shape[1], 10);
            using var optimizer = optim.Adam(head.parameters(), learningRate);
            var history = new TrainingHistory(dataName + (softmaxFirst ? ", softmax before the loss" : ", logits"));
            var clock = Stopwatch.StartNew();
            for (int epoch = 1; epoch <= epochs; epoch++)
            {
                head.train();
                double lossSum = 0;
                long correct = 0;
                foreach (var (x, y) in TransferLearning.TensorSource(train, 64, shuffle: true, seed, "train").Batches(epoch))
                {
                    using var scope = NewDisposeScope();
                    var output = head.call(x);
                    if (softmaxFirst)
                        output = output.softmax(1); // the bug: cross_entropy applies log-softmax to these again
                    var loss = nn.functional.cross_entropy(output, y);
                    optimizer.zero_grad();
                    loss.backward();
                    optimizer.step();
                    lossSum += loss.item<float>() * y.shape[0];
                    correct += output.argmax(1).eq(y).sum().item<long>();
                }
                head.eval();
                using var noGrad = no_grad();
                using var val = head.call(validation.Features);
                using var valLoss = nn.functional.cross_entropy(softmaxFirst ? val.softmax(1) : val, validation.Labels);
                using var valCorrect = val.argmax(1).eq(validation.Labels).sum();
                history.Epochs.Add(new EpochRecord(epoch, lossSum / train.Count, (double)correct / train.Count,
                    valLoss.item<float>(), valCorrect.item<long>() / (double)validation.Count, learningRate, clock.Elapsed.TotalSeconds));
            }
            return history;
        }
    }

    /// <summary>The first <paramref name="count"/> images at 32×32 and resized to <paramref name="size"/> under each interpolation, with captions.</summary>
    public static (Tensor Images, string[] Captions) ResizeGrid(Cifar10Split split, int count, int size, string[] classNames)
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
            rows.Add(ImageTransforms.Resize(one.to_type(ScalarType.Float32), size, Interpolation.Nearest).round().clamp(0, 255).to_type(ScalarType.Byte));
            captions.Add($"{name}: 32×32 (shown at {size})");
            foreach (var mode in new[] { Interpolation.Nearest, Interpolation.Bilinear, Interpolation.Bicubic })
            {
                rows.Add(ImageTransforms.Resize(ImageTransforms.ToFloat(one), size, mode).clamp(0, 1).mul(255).round().to_type(ScalarType.Byte));
                captions.Add($"{name}: {mode.ToString().ToLowerInvariant()} {size}×{size}");
            }
        }
        return (cat(rows, 0).MoveToOuterDisposeScope(), [.. captions]);
    }

    /// <summary>What each input size costs VGG19's convolutional part: multiply-accumulates per image and measured seconds per batch on this machine.</summary>
    public static DataFrame InputSizeCost(Vgg model, int[] sizes, int batch, int repeats = 2)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(sizes);
        model.eval();
        var gmacs = new List<double>();
        var seconds = new List<double>();
        foreach (int size in sizes)
        {
            gmacs.Add(ModelSummary.Of(model, size).MacsUnder("features") / 1e9);
            using var noGrad = no_grad();
            using var x = CpuSpeed.ToChannelsLast(randn(batch, 3, size, size));
            model.features.call(x).Dispose(); // warm-up
            var times = new List<double>();
            for (int r = 0; r < repeats; r++)
            {
                var clock = Stopwatch.StartNew();
                model.features.call(x).Dispose();
                times.Add(clock.Elapsed.TotalSeconds);
            }
            seconds.Add(times.Min());
        }
        return new DataFrame(
            new Int32DataFrameColumn("input size", sizes),
            new DoubleDataFrameColumn("GMACs per image", gmacs.Select(g => Math.Round(g, 3))),
            new DoubleDataFrameColumn($"seconds per batch of {batch}", seconds.Select(s => Math.Round(s, 3))),
            new DoubleDataFrameColumn("images per second", seconds.Select(s => Math.Round(batch / s, 1))));
    }
}
