using System.Globalization;
using NotebookVgg.Data;
using NotebookVgg.Models;
using NotebookVgg.Runtime;
using NotebookVgg.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Transfer;

/// <summary>
/// Fine-tuning (and training from scratch): the whole network is trained on the prepared images, its pretrained layers
/// (or all of them, from random weights) with the options' learning rate and the new head with the head's; layers up to
/// <see cref="TransferSettings.FreezeUpTo"/> stay frozen, and the head can start from a features-mode checkpoint's.
/// </summary>
internal sealed class FineTuneRecipe(TransferLearning run)
{
    public TransferResult Run(TransferSettings s, ModelDescription description, RunSplits splits, Device device, CancellationToken cancellationToken)
    {
        var o = s.Options;
        var requested = description.Backbone;
        PrecisionChoice precision = PrecisionChoice.Fp32;
        using var model = requested.Build(splits.ClassNames.Length,
            m => precision = PrecisionCheck.Choose(o.Precision, device, requested, m, splits.Train, s.FeatureCache), o.Dropout);
        run.Say($"precision: {precision}");
        var backbone = requested with { Precision = precision.Used };
        description = description with { Backbone = backbone };
        if (s.HeadFrom is { } headCheckpoint)
            LoadHead(model, headCheckpoint, backbone);
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
        var network = new BackboneModel(backbone, model);
        var trainer = new Trainer(network, groups, o, device) { Progress = run.Training };
        Tensor Prepare(Tensor x) => CpuSpeed.ToChannelsLast(backbone.Prepare(x));
        var trainIterator = new BatchIterator(splits.Train, o.BatchSize, shuffle: true, seed: o.Seed,
            transform: o.Augment ? (x, g) => Prepare(ImageTransforms.RandomCropFlip(x, 4, g)) : (x, _) => Prepare(x));
        var checkpoint = s.CheckpointPath is null ? null : new CheckpointOptions(s.CheckpointPath, s.Resume, description);
        run.Say($"{o.Mode}: {s.Architecture} at {o.ImageSize}×{o.ImageSize} ({precision.Name}), {string.Join(", ", groups.Select(g => $"{g.Name} lr {g.LearningRate.ToString("G3", CultureInfo.InvariantCulture)}"))}");
        if (TransferLearning.TutorialVariant(s) is { } variant)
            run.Say(variant);
        var result = trainer.Fit(
            BatchSource.FromIterator(trainIterator, description.DataName),
            BatchSource.FromIterator(new BatchIterator(splits.Validation, o.BatchSize, Prepare, shuffle: false), "validation"),
            checkpoint, cancellationToken);
        // Tested in the precision it trained in, as TrainedModel (nvgg eval, notebook 5) tests the checkpoint: the same
        // numbers in both (it was tested in fp32 before, at fp32's slower rate, and nvgg eval could differ in the last digits).
        var evaluation = TestEvaluation.OnImages(network, splits.Test, Prepare, o.BatchSize, splits.ClassNames, $"{description.DataName} test", device);
        return new TransferResult(result, evaluation, description, s.CheckpointPath, 0, false, description.DataName, precision);
    }

    /// <summary>
    /// Copies a features-mode (fc7) checkpoint's trained head into the model's classifier.6. The head was fitted to the fc7
    /// features of one weights file, input size, interpolation and normalization: a fine-tune that prepares its inputs
    /// otherwise would start from a head that does not fit its features, so any difference is refused, naming it.
    /// </summary>
    private void LoadHead(Vgg model, string checkpointPath, Backbone fineTune)
    {
        var state = Checkpoint.ReadState(checkpointPath);
        var d = state.Model is { } stored ? ModelDescription.FromJson(stored, state.Options, checkpointPath) : null;
        if (d is null || d.Mode != TrainingMode.Features || d.Backbone.Cut != FeatureCut.Fc7 || d.NumClasses != model.NumClasses)
            throw new ArgumentException($"{checkpointPath}: starting a fine-tune from a trained head needs a features-mode checkpoint with the fc7 cut and {model.NumClasses} classes");
        var h = d.Backbone;
        static string Sha(Backbone b) => b.Weights.Sha256 ?? "none (random weights)";
        (string Name, string Head, string Now)[] fields =
        [
            ("architecture", h.Architecture, fineTune.Architecture),
            ("weights SHA-256", Sha(h), Sha(fineTune)),
            ("image size", h.ImageSize.ToString(CultureInfo.InvariantCulture), fineTune.ImageSize.ToString(CultureInfo.InvariantCulture)),
            ("interpolation", Backbone.Lower(h.Interpolation), Backbone.Lower(fineTune.Interpolation)),
            ("mean", string.Join(", ", h.Mean), string.Join(", ", fineTune.Mean)),
            ("std", string.Join(", ", h.Std), string.Join(", ", fineTune.Std)),
        ];
        foreach (var (name, trainedOn, now) in fields)
        {
            if (trainedOn != now)
                throw new ArgumentException($"{checkpointPath}: the head was trained on features with {name} {trainedOn}, the fine-tune prepares " +
                    $"{now}: it would start from a head that does not fit its features");
        }
        using var head = FeatureHead.Create(FeatureCut.Fc7, model.ChannelsAt(FeatureCut.Fc7), (int)model.NumClasses);
        Checkpoint.Load(checkpointPath, head);
        using (no_grad())
        {
            var fc = (nn.Module<Tensor, Tensor>)head.named_children().Single().module;
            var trained = fc.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            model.Head.weight!.copy_(trained["weight"]);
            model.Head.bias!.copy_(trained["bias"]);
        }
        run.Say($"head: started from the head trained in {checkpointPath}");
    }
}
