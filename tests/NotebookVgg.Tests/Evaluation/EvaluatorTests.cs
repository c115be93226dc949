using NotebookVgg.Data;
using NotebookVgg.Evaluation;
using NotebookVgg.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Tests.Evaluation;

public class EvaluatorTests
{
    /// <summary>A "model" that returns fixed logits row by row, so every metric can be worked out by hand.</summary>
    private sealed class FixedLogits : nn.Module<Tensor, Tensor>
    {
        private readonly Tensor _logits;
        private long _next;

        public FixedLogits(float[,] logits) : base(nameof(FixedLogits)) => _logits = tensor(logits);

        public override Tensor forward(Tensor input)
        {
            long n = input.shape[0];
            var slice = _logits.narrow(0, _next, n).clone();
            _next += n;
            return slice;
        }
    }

    private static IEnumerable<(Tensor, Tensor)> Batches(long[] labels, int batchSize)
    {
        for (int s = 0; s < labels.Length; s += batchSize)
        {
            long[] part = labels[s..Math.Min(labels.Length, s + batchSize)];
            yield return (zeros(part.Length, 1), tensor(part));
        }
    }

    private static BatchSource Source(long[] labels, int batchSize) =>
        new("fixed", labels.Length, (labels.Length + batchSize - 1) / batchSize, _ => Batches(labels, batchSize));

    [Fact]
    public void Metrics_MatchAHandWorkedExample()
    {
        // 3 classes, 6 examples: truth 0,0,1,1,2,2; predictions 0,1,1,1,2,0.
        float[,] logits =
        {
            { 5, 1, 0 }, { 1, 5, 0 }, { 0, 5, 1 }, { 0, 5, 1 }, { 0, 1, 5 }, { 5, 0, 1 },
        };
        var model = new FixedLogits(logits);
        var result = Evaluator.Evaluate(model, Source([0, 0, 1, 1, 2, 2], 4), ["a", "b", "c"]);

        Assert.Equal(6, result.Count);
        Assert.Equal(4.0 / 6, result.Accuracy, 12);
        Assert.Equal(1.0, result.Top5Accuracy, 12); // only 3 classes: every label is within the top 3
        Assert.Equal([[1, 1, 0], [0, 2, 0], [1, 0, 1]], result.ConfusionMatrix);
        var a = result.PerClass[0];
        Assert.Equal(0.5, a.Precision, 12); // predicted a twice, right once
        Assert.Equal(0.5, a.Recall, 12);
        var b = result.PerClass[1];
        Assert.Equal(2.0 / 3, b.Precision, 12);
        Assert.Equal(1.0, b.Recall, 12);
        Assert.Equal(0.8, b.F1, 12);
        Assert.Equal([1L, 5L], result.Misclassified.Select(m => m.Index));
        Assert.Equal(1, result.Misclassified[0].PredictedLabel);
        Assert.Equal(result.Misclassified[0].Probabilities[1], result.Misclassified[0].PredictedProbability);
        Assert.Equal(1.0, result.Misclassified[0].Probabilities.Sum(), 5);

        var table = result.PerClassTable();
        Assert.Equal(3, table.Rows.Count);
        Assert.Equal(0.667, (double)table["precision"][1]); // 2/3 shown to three digits, as a reader wants it
        Assert.Equal(0.6666667, (double)result.PerClassTable(digits: 7)["precision"][1]);
        Assert.Equal(4, result.ConfusionTable().Columns.Count);
        Assert.Equal(2, result.MisclassifiedTable().Rows.Count);
    }

    [Fact]
    public void Top5_CountsALabelRankedFifth()
    {
        var logits = new float[2, 7];
        for (int c = 0; c < 7; c++)
        {
            logits[0, c] = 7 - c; // label 4 ranks fifth: inside top-5
            logits[1, c] = 7 - c; // label 6 ranks seventh: outside
        }
        var result = Evaluator.Evaluate(new FixedLogits(logits), Source([4, 6], 2), ["0", "1", "2", "3", "4", "5", "6"]);
        Assert.Equal(0.0, result.Accuracy);
        Assert.Equal(0.5, result.Top5Accuracy, 12);
    }

    [Fact]
    public void WrongNumberOfClassNames_IsAnError()
    {
        var ex = Assert.Throws<ArgumentException>(() => Evaluator.Evaluate(new FixedLogits(new float[1, 3]), Source([0], 1), ["only", "two"]));
        Assert.Contains("3 outputs", ex.Message, StringComparison.Ordinal);
    }
}
