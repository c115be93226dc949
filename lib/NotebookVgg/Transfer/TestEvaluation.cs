using NotebookVgg.Data;
using NotebookVgg.Evaluation;
using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Transfer;

/// <summary>
/// The one way a trained model is tested, by the recipes at the end of a run and by <see cref="TrainedModel"/> on any
/// split: a head on the backbone's (cached) features, or a whole network on the images, in order, in batches.
/// </summary>
internal static class TestEvaluation
{
    /// <summary>Cached features per batch when evaluating (a head is small: large batches cost nothing).</summary>
    public const int FeatureBatchSize = 1024;

    /// <summary>A head's metrics on features <paramref name="test"/> of a test split.</summary>
    public static EvaluationResult OnFeatures(nn.Module<Tensor, Tensor> head, CachedFeatures test, string[] classNames, string name, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(test);
        return Evaluator.Evaluate(head, test.Batches(FeatureBatchSize, shuffle: false, seed: 0, name), classNames, device);
    }

    /// <summary>A network's metrics on the images of <paramref name="test"/>, each batch through <paramref name="prepare"/> first (null: as stored).</summary>
    public static EvaluationResult OnImages(nn.Module<Tensor, Tensor> model, Cifar10Split test, Func<Tensor, Tensor>? prepare, int batchSize,
        string[] classNames, string name, Device? device = null)
    {
        var batches = prepare is null ? new BatchIterator(test, batchSize, shuffle: false) : new BatchIterator(test, batchSize, prepare, shuffle: false);
        return Evaluator.Evaluate(model, BatchSource.FromIterator(batches, name), classNames, device);
    }
}
