using System.Diagnostics;
using NotebookVgg.Runtime;
using NotebookVgg.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Transfer;

/// <summary>What <see cref="FeatureRecipe.Extract"/> returns: the three splits' features and what computed them.</summary>
internal sealed record ExtractedFeatures(CachedFeatures Train, CachedFeatures Validation, CachedFeatures Test, Backbone Backbone,
    PrecisionChoice Precision, double Seconds, bool FromCache);

/// <summary>
/// Features mode, the CPU recipe: the frozen <see cref="Backbone"/> computes every image's features once (kept in the
/// feature cache, keyed by the backbone and the images), a new head is trained on them, and the test split's features
/// measure it.
/// </summary>
internal sealed class FeatureRecipe(TransferLearning run)
{
    public TransferResult Run(TransferSettings s, ModelDescription description, RunSplits splits, Device device, CancellationToken cancellationToken)
    {
        var o = s.Options;
        if (TransferLearning.TutorialVariant(s) is { } variant)
            run.Say(variant);
        var f = Extract(s, splits, device, cancellationToken);
        using var disposeTrain = f.Train;
        using var disposeValidation = f.Validation;
        using var disposeTest = f.Test;
        description = description with { Backbone = f.Backbone };

        torch.random.manual_seed(o.Seed + 2);
        using var head = FeatureHead.Create(f.Backbone.Cut!.Value, f.Train.Features.shape[1], splits.ClassNames.Length);
        head.to(device);
        var trainer = new Trainer(head, [new ParameterGroup("head", [.. head.parameters()], o.HeadLearningRate ?? o.LearningRate)], o, device) { Progress = run.Training };
        var checkpoint = s.CheckpointPath is null ? null : new CheckpointOptions(s.CheckpointPath, s.Resume, description);
        var result = trainer.Fit(
            f.Train.Batches(o.BatchSize, shuffle: true, o.Seed, description.DataName + " (cached features)"),
            f.Validation.Batches(TestEvaluation.FeatureBatchSize, shuffle: false, o.Seed, "validation"),
            checkpoint, cancellationToken);
        var evaluation = TestEvaluation.OnFeatures(head, f.Test, splits.ClassNames, $"{description.DataName} test", device);
        return new TransferResult(result, evaluation, description, s.CheckpointPath, f.Seconds, f.FromCache, description.DataName, f.Precision);
    }

    /// <summary>
    /// The three splits' features from the cache (computed and stored when missing), by the frozen backbone the settings
    /// (in features mode) describe, in the precision <see cref="PrecisionCheck"/> picks: the one path
    /// <see cref="TransferLearning.Run"/> and <see cref="TransferLearning.Features"/> share, so both read and write the same cache files.
    /// </summary>
    public ExtractedFeatures Extract(TransferSettings s, RunSplits splits, Device device, CancellationToken cancellationToken)
    {
        var o = s.Options;
        string cacheDir = s.FeatureCache;
        var requested = Backbone.Of(s);
        PrecisionChoice precision = PrecisionChoice.Fp32;
        using var network = requested.Build(splits.ClassNames.Length,
            m => precision = PrecisionCheck.Choose(o.Precision, device, requested, m, splits.Train, cacheDir));
        run.Say($"precision: {precision}");
        var backbone = requested with { Precision = precision.Used };
        network.FreezeUpTo(network.LayerNames()[^1]); // frozen: it only ever runs under no_grad to make features
        network.to(device);
        if (device.type == DeviceType.CPU)
            CpuSpeed.ConvertToChannelsLast(network);
        var clock = Stopwatch.StartNew();
        run.Say($"features: {backbone.Architecture} cut after {Backbone.Lower(backbone.Cut!.Value)} at {o.ImageSize}×{o.ImageSize} ({precision.Name}), cache {cacheDir}");
        var done = new List<CachedFeatures>();
        try
        {
            foreach (var split in new[] { splits.Train, splits.Validation, splits.Test })
                done.Add(FeatureCache.GetOrCompute(backbone, network, split, cacheDir, 64, device, run.Extraction, cancellationToken, run.Say));
        }
        catch
        {
            foreach (var f in done)
                f.Dispose();
            throw;
        }
        double seconds = clock.Elapsed.TotalSeconds;
        bool fromCache = done.All(f => f.FromCache);
        long images = splits.Train.Count + splits.Validation.Count + splits.Test.Count;
        run.Say(fromCache
            ? $"features: read from the cache in {seconds:F1} s ({done[0].Features.shape[1]} values per image)"
            : $"features: computed for {images:N0} images in {seconds:F1} s ({images / Math.Max(1e-9, seconds):F1} images/s, " +
              $"{precision.Name}; {done[0].Features.shape[1]} values per image)");
        return new ExtractedFeatures(done[0], done[1], done[2], backbone, precision, seconds, fromCache);
    }
}
