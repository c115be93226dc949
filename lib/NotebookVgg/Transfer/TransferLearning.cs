using System.Globalization;
using NotebookVgg.Data;
using NotebookVgg.Evaluation;
using NotebookVgg.IO;
using NotebookVgg.Models;
using NotebookVgg.Runtime;
using NotebookVgg.Weights;
using TorchSharp;
using static TorchSharp.torch;

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
/// precision they were computed in, and the data's class names and name.
/// </summary>
public sealed class SplitFeatures(CachedFeatures train, CachedFeatures validation, CachedFeatures test, PrecisionChoice precision,
    string[] classNames, string dataName) : IDisposable
{
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

/// <summary>
/// The whole recipe in one place: data (balanced, seeded subsets; the tutorial's validation split), the model
/// (pretrained or random VGG, head replaced for 10 classes), then features mode (extract once, cache, train a
/// head), fine-tuning or training from scratch, then evaluation on the test split.
/// </summary>
public sealed class TransferLearning
{
    /// <summary>One-line messages about what the run is doing (for logs and notebooks).</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Progress of feature extraction, per batch (features mode only, and only for features not already cached).</summary>
    public IProgress<ExtractionProgress>? Extraction { get; init; }

    /// <summary>Progress of training, after every batch and epoch; passed on to the <see cref="Trainer"/>.</summary>
    public IProgress<TrainingProgress>? Training { get; init; }

    /// <summary>
    /// Runs the recipe <paramref name="settings"/> describe: loads the data and splits it, builds the model, trains it in the
    /// options' mode (checkpointing and resuming as the settings say) and evaluates it on the test split.
    /// </summary>
    public TransferResult Run(TransferSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var o = settings.Options;
        o.Validate();
        var device = Devices.Resolve(o.Device);
        // A checkpoint that cannot be written fails before the features and the training, not after them.
        using var writing = settings.CheckpointPath is null ? null : Checkpoint.BeginWriting(settings.CheckpointPath, 0);
        using var data = Cifar10.Load(settings.DataDirectory);
        var (train, validation, test) = Splits(data, settings);
        using (train)
        using (validation)
        using (test)
        {
            string dataName = data.SourceName;
            Say($"data: {dataName}: {train.Count:N0} train, {validation.Count:N0} validation, {test.Count:N0} test images");
            var description = Describe(settings, data);
            return o.Mode == TrainingMode.Features
                ? RunFeatures(settings, description, train, validation, test, data.ClassNames, device, cancellationToken)
                : RunEndToEnd(settings, description, train, validation, test, data.ClassNames, device, cancellationToken);
        }
    }

    /// <summary>Train, validation and test splits: validation is the last 10 % of each training file (the tutorial's 45,000/5,000), then balanced seeded subsets.</summary>
    public static (Cifar10Split Train, Cifar10Split Validation, Cifar10Split Test) Splits(Cifar10Dataset data, TransferSettings settings)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(settings);
        var (train, validation) = data.Train.SplitValidation(0.1);
        int seed = settings.Options.Seed;
        if (settings.TrainPerClass is { } perClass)
        {
            var t = train.BalancedSubset(Math.Min(perClass, train.CountPerClass().Min()), seed);
            // The full split's ratio: 4,500 training to 500 validation images per class, one validation image for every nine
            // training images, rounded up (1,000 per class → 112).
            var v = validation.BalancedSubset(Math.Min(Math.Max(1, (perClass + 8) / 9), validation.CountPerClass().Min()), seed);
            train.Dispose();
            validation.Dispose();
            (train, validation) = (t, v);
        }
        var test = settings.TestPerClass is { } testPerClass
            ? data.Test.BalancedSubset(Math.Min(testPerClass, data.Test.CountPerClass().Min()), seed)
            : data.Test.Subset([.. Enumerable.Range(0, data.Test.Count).Select(i => (long)i)], data.Test.Name);
        return (train, validation, test);
    }

    /// <summary>
    /// A VGG with the pretrained (or seeded random) weights and a fresh head for <paramref name="numClasses"/> classes,
    /// on the CPU. <paramref name="beforeNewHead"/> sees the network with its own classifier, before the head is replaced.
    /// </summary>
    public static Vgg BuildModel(string architecture, string? weightsPath, int numClasses, int seed, Action<Vgg>? beforeNewHead = null)
    {
        torch.random.manual_seed(seed);
        var model = Vgg.Create(architecture);
        if (weightsPath is not null)
            WeightLoader.Load(model, weightsPath);
        beforeNewHead?.Invoke(model);
        torch.random.manual_seed(seed + 1); // the head's initialization does not depend on what loading drew
        model.ReplaceHead(numClasses);
        return model;
    }

    /// <summary>
    /// The frozen network's features (the settings' cut: fc7 or pool5) of the train, validation and test splits that
    /// <see cref="Run"/> would use with these settings, whatever their mode, through the same feature cache, precision
    /// choice and splits: computed and stored when not cached yet, so that a later <see cref="Run"/> in features mode
    /// reads them instead of computing them again. The caller disposes the result.
    /// </summary>
    public SplitFeatures Features(TransferSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Options.Validate();
        var device = Devices.Resolve(settings.Options.Device);
        using var data = Cifar10.Load(settings.DataDirectory);
        var (train, validation, test) = Splits(data, settings);
        using (train)
        using (validation)
        using (test)
        {
            var f = CachedSplitFeatures(settings, train, validation, test, data.ClassNames.Length, device, cancellationToken);
            return new SplitFeatures(f.Train, f.Validation, f.Test, f.Precision, data.ClassNames, data.SourceName);
        }
    }

    private TransferResult RunFeatures(TransferSettings s, ModelDescription description, Cifar10Split train, Cifar10Split validation, Cifar10Split test,
        string[] classNames, Device device, CancellationToken cancellationToken)
    {
        var o = s.Options;
        var (trainFeatures, validationFeatures, testFeatures, precision, featureSeconds, fromCache) =
            CachedSplitFeatures(s, train, validation, test, classNames.Length, device, cancellationToken);
        using var disposeTrain = trainFeatures;
        using var disposeValidation = validationFeatures;
        using var disposeTest = testFeatures;
        description = description with { Precision = precision.Used };

        torch.random.manual_seed(o.Seed + 2);
        using var head = FeatureHead.Create(s.Cut, trainFeatures.Features, classNames.Length);
        head.to(device);
        var trainer = new Trainer(head, [new ParameterGroup("head", [.. head.parameters()], o.HeadLearningRate ?? o.LearningRate)], o, device) { Progress = Training };
        var checkpoint = s.CheckpointPath is null ? null : new CheckpointOptions(s.CheckpointPath, s.Resume, description);
        var result = trainer.Fit(
            TensorSource(trainFeatures, o.BatchSize, shuffle: true, o.Seed, description.DataName + " (cached features)"),
            TensorSource(validationFeatures, 1024, shuffle: false, o.Seed, "validation"),
            checkpoint, cancellationToken);
        var evaluation = Evaluator.Evaluate(head, TensorSource(testFeatures, 1024, shuffle: false, o.Seed, $"{description.DataName} test"), classNames, device);
        return new TransferResult(result, evaluation, description, s.CheckpointPath, featureSeconds, fromCache, description.DataName, precision);
    }

    /// <summary>
    /// The three splits' features from the cache (computed and stored when missing), by a frozen backbone built with the
    /// settings' weights, in the precision <see cref="ChoosePrecision"/> picks: the one path <see cref="Run"/> and
    /// <see cref="Features"/> share, so both read and write the same cache files.
    /// </summary>
    private (CachedFeatures Train, CachedFeatures Validation, CachedFeatures Test, PrecisionChoice Precision, double Seconds, bool FromCache)
        CachedSplitFeatures(TransferSettings s, Cifar10Split train, Cifar10Split validation, Cifar10Split test, int classes, Device device,
            CancellationToken cancellationToken)
    {
        var o = s.Options;
        string cacheDir = CacheDirectory(s);
        PrecisionChoice precision = PrecisionChoice.Fp32;
        using var backbone = BuildModel(s.Architecture, s.WeightsPath, classes, o.Seed,
            m => precision = ChoosePrecision(s, s.WeightsPath, m, train, device, cacheDir));
        backbone.FreezeUpTo(backbone.LayerNames()[^1]); // frozen: it only ever runs under no_grad to make features
        backbone.to(device);
        if (device.type == DeviceType.CPU)
            CpuSpeed.ConvertToChannelsLast(backbone);
        var spec = new FeatureCache.Spec(WeightsId(s.WeightsPath, s.Architecture, o.Seed), s.Cut, o.ImageSize, s.Interpolation, PreprocessingFor(s), precision.Bf16);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Say($"features: {s.Architecture} cut after {CutName(s.Cut)} at {o.ImageSize}×{o.ImageSize} ({precision.Name}), cache {cacheDir}");
        var done = new List<CachedFeatures>();
        try
        {
            foreach (var split in new[] { train, validation, test })
                done.Add(FeatureCache.GetOrCompute(backbone, split, spec, cacheDir, 64, device, Extraction, cancellationToken, Say));
        }
        catch
        {
            foreach (var f in done)
                f.Dispose();
            throw;
        }
        double seconds = clock.Elapsed.TotalSeconds;
        bool fromCache = done.All(f => f.FromCache);
        long images = train.Count + validation.Count + test.Count;
        Say(fromCache
            ? $"features: read from the cache in {seconds:F1} s ({done[0].Features.shape[1]} values per image)"
            : $"features: computed for {images:N0} images in {seconds:F1} s ({images / Math.Max(1e-9, seconds):F1} images/s, " +
              $"{precision.Name}; {done[0].Features.shape[1]} values per image)");
        return (done[0], done[1], done[2], precision, seconds, fromCache);
    }

    private TransferResult RunEndToEnd(TransferSettings s, ModelDescription description, Cifar10Split train, Cifar10Split validation, Cifar10Split test,
        string[] classNames, Device device, CancellationToken cancellationToken)
    {
        var o = s.Options;
        string? weights = o.Mode == TrainingMode.Scratch ? null : s.WeightsPath;
        PrecisionChoice precision = PrecisionChoice.Fp32;
        using var model = BuildModel(s.Architecture, weights, classNames.Length, o.Seed,
            m => precision = ChoosePrecision(s, weights, m, train, device, CacheDirectory(s)));
        description = description with { Precision = precision.Used };
        if (s.HeadFrom is { } headCheckpoint)
            LoadHead(model, headCheckpoint);
        if (s.FreezeUpTo is { } layer)
            model.FreezeUpTo(layer);
        // Inputs go channels-last (convolutions then run and return NHWC); the parameters stay contiguous because
        // TorchSharp 0.107 cannot save optimizer state for non-contiguous parameters.
        model.to(device);
        var head = model.Head.parameters().ToHashSet();
        var body = model.parameters().Where(p => p.requires_grad && !head.Contains(p)).ToList();
        var groups = new List<ParameterGroup> { new("head", [.. head], o.HeadLearningRate ?? o.LearningRate) };
        if (body.Count > 0)
            groups.Add(new ParameterGroup("pretrained", body, o.LearningRate));
        var trainer = new Trainer(new AutocastModel(model, precision.Bf16), groups, o, device) { Progress = Training };
        var preprocessing = PreprocessingFor(s);
        Tensor Prepare(Tensor x) => CpuSpeed.ToChannelsLast(ImageTransforms.Prepare(x, o.ImageSize, preprocessing, s.Interpolation));
        var trainIterator = new BatchIterator(train, o.BatchSize, shuffle: true, seed: o.Seed,
            transform: o.Augment ? (x, g) => Prepare(ImageTransforms.RandomCropFlip(x, 4, g)) : (x, _) => Prepare(x));
        var checkpoint = s.CheckpointPath is null ? null : new CheckpointOptions(s.CheckpointPath, s.Resume, description);
        Say($"{o.Mode}: {s.Architecture} at {o.ImageSize}×{o.ImageSize} ({precision.Name}), {string.Join(", ", groups.Select(g => $"{g.Name} lr {g.LearningRate.ToString("G3", CultureInfo.InvariantCulture)}"))}");
        var result = trainer.Fit(
            BatchSource.FromIterator(trainIterator, description.DataName),
            BatchSource.FromIterator(new BatchIterator(validation, o.BatchSize, Prepare, shuffle: false), "validation"),
            checkpoint, cancellationToken);
        var evaluation = Evaluator.Evaluate(model, BatchSource.FromIterator(new BatchIterator(test, o.BatchSize, Prepare, shuffle: false), $"{description.DataName} test"), classNames, device);
        return new TransferResult(result, evaluation, description, s.CheckpointPath, 0, false, description.DataName, precision);
    }

    /// <summary>Copies a features-mode (fc7) checkpoint's trained head into the model's classifier.6.</summary>
    private void LoadHead(Vgg model, string checkpointPath)
    {
        var d = Checkpoint.ReadState(checkpointPath).Model;
        if (d is null || d.Mode != TrainingMode.Features || d.FeatureCut != FeatureCut.Fc7 || d.NumClasses != model.NumClasses)
            throw new ArgumentException($"{checkpointPath}: starting a fine-tune from a trained head needs a features-mode checkpoint with the fc7 cut and {model.NumClasses} classes");
        using var head = FeatureHead.Create(FeatureCut.Fc7, zeros(1, model.Head.in_features), (int)model.NumClasses);
        Checkpoint.Load(checkpointPath, head);
        using (no_grad())
        {
            var fc = (nn.Module<Tensor, Tensor>)head.named_children().Single().module;
            var trained = fc.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            model.Head.weight!.copy_(trained["weight"]);
            model.Head.bias!.copy_(trained["bias"]);
        }
        Say($"head: started from the head trained in {checkpointPath}");
    }

    /// <summary>
    /// Evaluates a checkpoint this class wrote on <paramref name="test"/>. A features-mode checkpoint reuses the cached
    /// test features (the same cache <see cref="Run"/> filled: no second pass of the network over the test set).
    /// </summary>
    public EvaluationResult Evaluate(TransferSettings settings, string checkpointPath, Cifar10Split test, string[] classNames, string dataName)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(test);
        var d = Checkpoint.ReadState(checkpointPath).Model
            ?? throw new InvalidDataException($"{checkpointPath}: the checkpoint does not describe its model (written without metadata)");
        if (d.Mode != TrainingMode.Features)
        {
            using var trained = TrainedModel.Load(checkpointPath);
            return trained.Evaluate(test, dataName);
        }
        var s = settings with
        {
            Options = settings.Options with { ImageSize = d.ImageSize, Mode = TrainingMode.Features },
            Cut = d.FeatureCut ?? FeatureCut.Fc7,
            Interpolation = d.Interpolation,
        };
        var device = Devices.Resolve(s.Options.Device);
        using var backbone = BuildModel(s.Architecture, s.WeightsPath, classNames.Length, s.Options.Seed);
        backbone.to(device);
        if (device.type == DeviceType.CPU)
            CpuSpeed.ConvertToChannelsLast(backbone);
        // The features the head was trained on: same weights, cut, size and precision (the checkpoint says which).
        var spec = new FeatureCache.Spec(WeightsId(s.WeightsPath, s.Architecture, s.Options.Seed), s.Cut, d.ImageSize, s.Interpolation,
            PreprocessingFor(s), d.Precision == Precision.Bf16);
        string cacheDir = CacheDirectory(s);
        using var features = FeatureCache.GetOrCompute(backbone, test, spec, cacheDir, 64, device, Extraction, log: Say);
        Say($"test features: {(features.FromCache ? "read from the cache" : "computed")} in {d.Precision.ToString().ToLowerInvariant()}, as the head was trained on ({features.Path ?? "not cached"})");
        using var head = FeatureHead.Create(s.Cut, features.Features, classNames.Length);
        Checkpoint.Load(checkpointPath, head);
        head.to(device);
        return Evaluator.Evaluate(head, TensorSource(features, 1024, shuffle: false, s.Options.Seed, dataName), classNames, device);
    }

    /// <summary>Wraps a model so that its forward runs under CPU autocast (bf16) when asked; state dict unchanged.</summary>
    private sealed class AutocastModel : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> _model;
        private readonly bool _bf16;

        public AutocastModel(nn.Module<Tensor, Tensor> model, bool bf16) : base("precision")
        {
            _model = model;
            _bf16 = bf16;
            register_module("model", model);
        }

        public override Tensor forward(Tensor input)
        {
            if (!_bf16)
                return _model.call(input);
            using (CpuSpeed.Autocast())
                return _model.call(input).to_type(ScalarType.Float32);
        }

        // The checkpoint holds the wrapped model's own keys, so evaluation can load it into a plain VGG.
        public override Dictionary<string, Tensor> state_dict(Dictionary<string, Tensor>? destination = null, string? prefix = null) =>
            _model.state_dict(destination, prefix);

        public override (IList<string> missing_keys, IList<string> unexpected_keyes) load_state_dict(
            Dictionary<string, Tensor> source, bool strict = true, IList<string>? skip = null) =>
            _model.load_state_dict(source, strict, skip);
    }

    /// <summary>Batches over cached feature tensors, shuffled per epoch by the one rule of <see cref="Seeding"/>.</summary>
    public static BatchSource TensorSource(CachedFeatures features, int batchSize, bool shuffle, int seed, string name)
    {
        ArgumentNullException.ThrowIfNull(features);
        long n = features.Count;
        int batches = (int)((n + batchSize - 1) / batchSize);
        return new BatchSource(name, n, batches, epoch => Enumerate(epoch));

        IEnumerable<(Tensor, Tensor)> Enumerate(int epoch)
        {
            Tensor? order = null;
            if (shuffle)
            {
                order = tensor(Seeding.Permutation(n, seed, epoch)).DetachFromDisposeScope(); // outlives the consumer's per-batch scopes
            }
            try
            {
                for (long start = 0; start < n; start += batchSize)
                {
                    long count = Math.Min(batchSize, n - start);
                    if (order is null)
                    {
                        yield return (features.Features.narrow(0, start, count), features.Labels.narrow(0, start, count));
                    }
                    else
                    {
                        var idx = order.narrow(0, start, count);
                        yield return (features.Features.index_select(0, idx), features.Labels.index_select(0, idx));
                    }
                }
            }
            finally
            {
                order?.Dispose();
            }
        }
    }

    internal static ModelDescription Describe(TransferSettings s, Cifar10Dataset data)
    {
        var p = PreprocessingFor(s);
        // The checksum of the very file used, whatever its origin: evaluation refuses a file replaced since training.
        string? sha = s.WeightsPath is null ? null : WeightsStore.Sha256Of(s.WeightsPath);
        string dataName = s.WeightsPath is null && s.Options.Mode != TrainingMode.Scratch
            ? $"{data.SourceName}, random weights (not pretrained)"
            : data.SourceName;
        return new ModelDescription(s.Architecture, s.Options.Mode, s.Options.Mode == TrainingMode.Features ? s.Cut : null,
            data.ClassNames.Length, data.ClassNames, s.Options.ImageSize, s.Interpolation,
            p.Mean, p.Std, s.WeightsPath is null ? null : s.WeightsName ?? Path.GetFileName(s.WeightsPath),
            s.WeightsPath is null ? null : Path.GetFullPath(s.WeightsPath), sha, dataName);
    }

    /// <summary>The preprocessing of the weights in use (ImageNet's for every registered entry and for random weights).</summary>
    private static Preprocessing PreprocessingFor(TransferSettings s) =>
        PretrainedWeights.Find(s.WeightsName)?.Preprocessing ?? Preprocessing.ImageNet;

    /// <summary>Identifies the backbone's weights for the caches: the file's path, size and time, or the random seed.</summary>
    private static string WeightsId(string? weightsPath, string architecture, int seed)
    {
        if (weightsPath is null)
            return FormattableString.Invariant($"random:{architecture}:seed={seed}");
        var info = new FileInfo(weightsPath);
        return FormattableString.Invariant($"{info.FullName}:{info.Length}:{info.LastWriteTimeUtc.Ticks}:{architecture}");
    }

    private static string CacheDirectory(TransferSettings s) =>
        s.FeatureCacheDirectory ?? Path.Combine(Path.GetFullPath(s.DataDirectory), "features");

    /// <summary>
    /// The run's precision (<see cref="PrecisionCheck"/>): for auto, bf16 is compared with fp32 on the first
    /// <see cref="PrecisionCheck.CheckImages"/> training images of this run, prepared as the run prepares them.
    /// </summary>
    private PrecisionChoice ChoosePrecision(TransferSettings s, string? weightsPath, Vgg model, Cifar10Split train, Device device, string cacheDirectory)
    {
        var o = s.Options;
        using var scope = NewDisposeScope();
        int n = (int)Math.Min(PrecisionCheck.CheckImages, train.Count);
        var p = PreprocessingFor(s);
        var batch = ImageTransforms.Prepare(train.Images.narrow(0, 0, n), o.ImageSize, p, s.Interpolation).to(device);
        string key = PrecisionCheck.KeyFor(WeightsId(weightsPath, s.Architecture, o.Seed), s.Cut, o.ImageSize,
            ImageTransforms.PreparationKey(s.Interpolation, p), batch);
        model.to(device);
        var choice = PrecisionCheck.Choose(o.Precision, device, model, batch, s.Cut, key, cacheDirectory, Say);
        Say($"precision: {choice}");
        return choice;
    }

    internal static string CutName(FeatureCut cut) => cut == FeatureCut.Fc7 ? "fc7" : "pool5";

    private void Say(string message) => Log?.Invoke(message);
}
