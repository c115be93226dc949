using Microsoft.Data.Analysis;
using NotebookVgg.Data;
using static TorchSharp.torch;

namespace NotebookVgg.Evaluation;

/// <summary>Precision, recall and F1 of one class, and how many test examples it has.</summary>
public sealed record ClassMetrics(string Class, double Precision, double Recall, double F1, int Support);

/// <summary>A test example the model got wrong, with its position in the evaluated set and the model's probabilities.</summary>
public sealed record Misclassification(long Index, int TrueLabel, int PredictedLabel, float PredictedProbability, float TrueProbability, float[] Probabilities);

/// <summary>Everything measured on a test set.</summary>
public sealed record EvaluationResult(
    string DataName,
    string[] ClassNames,
    long Count,
    double Loss,
    double Accuracy,
    double Top5Accuracy,
    int[][] ConfusionMatrix,
    IReadOnlyList<ClassMetrics> PerClass,
    IReadOnlyList<Misclassification> Misclassified)
{
    /// <summary>Unweighted mean of the per-class F1 scores.</summary>
    public double MacroF1 => PerClass.Count == 0 ? 0 : PerClass.Average(c => c.F1);

    /// <summary>Per-class precision, recall, F1 (rounded to <paramref name="digits"/> for reading) and support.</summary>
    public DataFrame PerClassTable(int digits = 3) => new(
        new StringDataFrameColumn("class", PerClass.Select(c => c.Class)),
        new DoubleDataFrameColumn("precision", PerClass.Select(c => Math.Round(c.Precision, digits))),
        new DoubleDataFrameColumn("recall", PerClass.Select(c => Math.Round(c.Recall, digits))),
        new DoubleDataFrameColumn("f1", PerClass.Select(c => Math.Round(c.F1, digits))),
        new Int32DataFrameColumn("support", PerClass.Select(c => c.Support)));

    /// <summary>Rows: true class; columns: predicted class.</summary>
    public DataFrame ConfusionTable()
    {
        var columns = new List<DataFrameColumn> { new StringDataFrameColumn("true \\ predicted", ClassNames) };
        for (int p = 0; p < ClassNames.Length; p++)
            columns.Add(new Int32DataFrameColumn(ClassNames[p], ConfusionMatrix.Select(row => row[p])));
        return new DataFrame(columns);
    }

    /// <summary>The <paramref name="top"/> most confident mistakes.</summary>
    public DataFrame MisclassifiedTable(int top = 20)
    {
        var rows = Misclassified.OrderByDescending(m => m.PredictedProbability).Take(top).ToList();
        return new DataFrame(
            new Int64DataFrameColumn("index", rows.Select(m => m.Index)),
            new StringDataFrameColumn("true", rows.Select(m => ClassNames[m.TrueLabel])),
            new StringDataFrameColumn("predicted", rows.Select(m => ClassNames[m.PredictedLabel])),
            new SingleDataFrameColumn("p(predicted)", rows.Select(m => m.PredictedProbability)),
            new SingleDataFrameColumn("p(true)", rows.Select(m => m.TrueProbability)));
    }
}

/// <summary>Runs a model over a test set in eval mode and measures it.</summary>
public static class Evaluator
{
    /// <summary>Names the batch and, for a VGG or a model rebuilt from a checkpoint, the first layer whose output is not finite.</summary>
    private static string NonFiniteMessage(nn.Module<Tensor, Tensor> model, Tensor x, string sourceName, int batch)
    {
        string? layer = (model as Models.ILocatesNonFiniteOutputs)?.FirstNonFiniteLayer(x);
        return $"{sourceName}, batch {batch}: the model's outputs hold NaN or infinite values" +
            (layer is null ? "" : $", first in layer {layer}") + " — its weights overflow there; no metric is reported from them";
    }

    /// <summary>
    /// Accuracy, top-5, loss, confusion matrix, per-class metrics and every misclassified example.
    /// <paramref name="source"/> must yield batches in a fixed order: reported indices count from its first item.
    /// </summary>
    public static EvaluationResult Evaluate(nn.Module<Tensor, Tensor> model, BatchSource source, string[] classNames, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(classNames);
        device ??= CPU;
        int k = classNames.Length;
        var confusion = new int[k][];
        for (int i = 0; i < k; i++)
            confusion[i] = new int[k];
        var wrong = new List<Misclassification>();
        long seen = 0, top5 = 0;
        int batchIndex = 0;
        double lossSum = 0;

        model.eval();
        using var noGrad = no_grad();
        using var batches = source.Batches(0).GetEnumerator();
        while (true)
        {
            using var scope = NewDisposeScope();
            if (!batches.MoveNext())
                break;
            var (inputs, labels) = batches.Current;
            var x = inputs.to(device);
            var logits = model.forward(x).to(CPU).to_type(ScalarType.Float32);
            if (logits.shape[1] != k)
                throw new ArgumentException($"the model has {logits.shape[1]} outputs but {k} class names were given");
            if (!logits.isfinite().all().item<bool>())
                throw new InvalidDataException(NonFiniteMessage(model, x, source.Name, batchIndex));
            batchIndex++;
            var y = labels.to(ScalarType.Int64);
            lossSum += nn.functional.cross_entropy(logits, y, reduction: nn.Reduction.Sum).item<float>();
            var probabilities = logits.softmax(1);
            int topK = Math.Min(5, k);
            var top = logits.topk(topK, 1).indexes;
            top5 += top.eq(y.unsqueeze(1)).any(1).sum().item<long>();

            float[] p = probabilities.data<float>().ToArray();
            long[] predicted = logits.argmax(1).data<long>().ToArray();
            long[] truth = y.data<long>().ToArray();
            for (int i = 0; i < truth.Length; i++)
            {
                int t = checked((int)truth[i]), q = (int)predicted[i];
                if (t < 0 || t >= k)
                    throw new ArgumentException($"label {t} at index {seen + i} is outside 0..{k - 1}");
                confusion[t][q]++;
                if (t != q)
                {
                    float[] row = p[(i * k)..((i + 1) * k)];
                    wrong.Add(new Misclassification(seen + i, t, q, row[q], row[t], row));
                }
            }
            seen += truth.Length;
        }
        if (seen == 0)
            throw new InvalidOperationException($"test data '{source.Name}' produced no batch");

        long correct = Enumerable.Range(0, k).Sum(i => (long)confusion[i][i]);
        var perClass = Enumerable.Range(0, k).Select(c =>
        {
            int tp = confusion[c][c];
            int predictedAsC = Enumerable.Range(0, k).Sum(t => confusion[t][c]);
            int support = confusion[c].Sum();
            double precision = predictedAsC == 0 ? 0 : (double)tp / predictedAsC;
            double recall = support == 0 ? 0 : (double)tp / support;
            double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
            return new ClassMetrics(classNames[c], precision, recall, f1, support);
        }).ToList();
        return new EvaluationResult(source.Name, classNames, seen, lossSum / seen, (double)correct / seen, (double)top5 / seen, confusion, perClass, wrong);
    }
}
