using NotebookVgg.Evaluation;
using NotebookVgg.Runtime;
using NotebookVgg.Training;

namespace NotebookVgg.Transfer;

/// <summary>What <see cref="TransferLearning.Run"/> returns.</summary>
public sealed record TransferResult(
    TrainingResult Training,
    EvaluationResult Test,
    ModelDescription Model,
    string? CheckpointPath,
    double FeatureSeconds,
    bool FeaturesFromCache,
    string DataName,
    PrecisionChoice Precision);

/// <summary>
/// The features of one run's three splits (<see cref="TransferLearning.Features"/>): N×D float32 each with its labels, the
/// backbone that computed them (and the precision it chose), and the data's class names and name.
/// </summary>
public sealed class SplitFeatures(CachedFeatures train, CachedFeatures validation, CachedFeatures test, Backbone backbone,
    PrecisionChoice precision, string[] classNames, string dataName) : IDisposable
{
    /// <summary>What computed the features: network, weights, cut, input preparation and precision.</summary>
    public Backbone Backbone { get; } = backbone;

    /// <summary>The training split's features: the reference set of a nearest-neighbour classifier, or what a head trains on.</summary>
    public CachedFeatures Train { get; } = train;

    /// <summary>The validation split's features.</summary>
    public CachedFeatures Validation { get; } = validation;

    /// <summary>The test split's features.</summary>
    public CachedFeatures Test { get; } = test;

    /// <summary>The precision the backbone ran in (fp32 or bf16): part of the cache key.</summary>
    public PrecisionChoice Precision { get; } = precision;

    /// <summary>The class names, in label order.</summary>
    public string[] ClassNames { get; } = classNames;

    /// <summary>"CIFAR-10", "CIFAR-10 sample" or "synthetic CIFAR-10-shaped data".</summary>
    public string DataName { get; } = dataName;

    /// <inheritdoc />
    public void Dispose()
    {
        Train.Dispose();
        Validation.Dispose();
        Test.Dispose();
    }
}
