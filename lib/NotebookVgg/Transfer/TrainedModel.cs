using NotebookVgg.Data;
using NotebookVgg.Evaluation;
using NotebookVgg.Imaging;
using NotebookVgg.Inspection;
using NotebookVgg.Models;
using NotebookVgg.Runtime;
using NotebookVgg.Training;
using NotebookVgg.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Transfer;

/// <summary>One predicted class and its probability.</summary>
public sealed record Prediction(string Class, int Label, float Probability);

/// <summary>
/// A trained classifier rebuilt from a checkpoint: its <see cref="Transfer.Backbone"/> built again (the weights file the
/// checkpoint names, or the same seeded random weights) plus, for features mode, the trained head; otherwise the whole
/// trained VGG. It takes uint8 32×32 images and does the training's resize and normalization itself.
/// </summary>
public sealed class TrainedModel : nn.Module<Tensor, Tensor>, ILocatesNonFiniteOutputs
{
    private readonly Vgg _vgg;
    private readonly nn.Module<Tensor, Tensor>? _head;

    private TrainedModel(Vgg vgg, nn.Module<Tensor, Tensor>? head, ModelDescription description) : base(nameof(TrainedModel))
    {
        _vgg = vgg;
        _head = head;
        Description = description;
        register_module("vgg", vgg);
        if (head is not null)
            register_module("head", head);
    }

    /// <summary>What the checkpoint says about the model: its backbone, how it was trained, its classes.</summary>
    public ModelDescription Description { get; }

    /// <summary>What produces the model's features (or, fine-tuned, runs it whole): network, weights, cut, input preparation, precision.</summary>
    public Backbone Backbone => Description.Backbone;

    /// <summary>The class names in label order: what each logit of <see cref="forward"/> stands for.</summary>
    public string[] ClassNames => Description.ClassNames;

    /// <summary>Rebuilds the model a checkpoint describes, on the CPU, in eval mode.</summary>
    public static TrainedModel Load(string checkpointPath)
    {
        var d = ModelDescription.Read(checkpointPath);
        d.Backbone.Weights.EnsureUnchanged(checkpointPath);
        var vgg = d.Backbone.Build(d.NumClasses);
        TrainedModel model;
        if (d.Backbone.Cut is not null)
        {
            var head = d.Backbone.CreateHead(vgg, d.NumClasses);
            Checkpoint.Load(checkpointPath, head);
            model = new TrainedModel(vgg, head, d);
        }
        else
        {
            Checkpoint.Load(checkpointPath, vgg);
            model = new TrainedModel(vgg, null, d);
        }
        model.eval();
        return model;
    }

    /// <summary>uint8 N×3×32×32 images (or already prepared float N×3×S×S) to logits.</summary>
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var scope = NewDisposeScope();
        // The precision the model was trained in (features computed, or fine-tuned, in bf16): the same numbers again.
        // A features-mode head was trained in fp32 on fp32 copies of the features, so it runs outside autocast.
        var output = Backbone.Forward(_vgg, Prepared(input));
        var logits = _head is null ? output : _head.call(output);
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>uint8 images resized and normalized as in training; float inputs are taken as already prepared.</summary>
    private Tensor Prepared(Tensor input) => input.dtype == ScalarType.Byte ? Backbone.Prepare(input) : input;

    /// <summary>
    /// Grad-CAM (see <see cref="Inspection.GradCam"/>) for uint8 N×3×32×32 images, prepared as in training: for each image
    /// the map of <paramref name="classes"/>[i], or of its predicted class when null. Maps come back at the network's input
    /// size (<see cref="Backbone.ImageSize"/>). Always fp32, also for a bf16-trained model, so a probability can
    /// differ from <see cref="Evaluate"/>'s in the last digits.
    /// </summary>
    public ClassActivationMaps GradCam(Tensor images, IReadOnlyList<int>? classes = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        using var scope = NewDisposeScope();
        var maps = Inspection.GradCam.Compute(this, _vgg.features, FromPool5, Prepared(images), classes);
        scope.MoveToOuter(maps.Maps);
        return maps;
    }

    /// <summary>The network after <c>features</c> (pool5) up to the logits, as <see cref="forward"/> runs it.</summary>
    private Tensor FromPool5(Tensor pool5) =>
        _head is null || Backbone.Cut is not { } cut ? _vgg.Classify(pool5) : _head.call(_vgg.FromPool5(pool5, cut));

    /// <summary>The first layer (backbone, then "head") whose output is not finite for these inputs, or null.</summary>
    public string? FirstNonFiniteLayer(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = Prepared(input);
        if (_head is null || Backbone.Cut is not { } cut)
            return _vgg.FirstNonFiniteLayer(x);
        var features = (Backbone with { Precision = Precision.Fp32 }).Forward(_vgg, x);
        if (!features.isfinite().all().item<bool>())
            return _vgg.FirstNonFiniteLayer(x) ?? $"the frozen network up to {Backbone.Lower(cut)}";
        return _head.call(features).isfinite().all().item<bool>() ? null : "head";
    }

    /// <summary>
    /// Top-k classes for image files (PNG, JPEG, ...). Each image is first reduced to 32×32 (antialiased), then
    /// prepared exactly like the training images, so a photo looks to the model like a CIFAR-10 image.
    /// </summary>
    public IReadOnlyList<Prediction> Predict(string imagePath, int top = 3)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var image = ImageFiles.Read(imagePath).unsqueeze(0);
        if (image.shape[2] != Cifar10.ImageSize || image.shape[3] != Cifar10.ImageSize)
            image = ImageTransforms.ResizeBytes(image, Cifar10.ImageSize);
        var logits = forward(image);
        if (!logits.isfinite().all().item<bool>())
            throw new InvalidDataException($"{imagePath}: the model's outputs hold NaN or infinite values, first in layer {FirstNonFiniteLayer(image) ?? "?"}");
        var p = logits.softmax(1)[0];
        var (values, indexes) = p.topk(Math.Min(top, ClassNames.Length));
        float[] v = values.data<float>().ToArray();
        long[] i = indexes.data<long>().ToArray();
        return [.. v.Select((prob, k) => new Prediction(ClassNames[i[k]], (int)i[k], prob))];
    }

    /// <summary>
    /// Test metrics on a split's uint8 images, in order. With <paramref name="featureCache"/> (a folder, e.g.
    /// <see cref="TransferSettings.FeatureCache"/>) a features-mode model takes the split's features from the cache its
    /// run filled — the same numbers, without a second pass of the network over the images — and stores them there if
    /// missing; <paramref name="log"/> hears which.
    /// </summary>
    public EvaluationResult Evaluate(Cifar10Split split, string dataName, int batchSize = 64, string? featureCache = null, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(split);
        if (featureCache is null || _head is null)
            return TestEvaluation.OnImages(this, split, prepare: null, batchSize, ClassNames, dataName);
        using var features = FeatureCache.GetOrCompute(Backbone, _vgg, split, featureCache, log: log);
        log?.Invoke($"test features: {(features.FromCache ? "read from the cache" : "computed")} in {Backbone.Lower(Backbone.Precision)}, " +
            $"as the head was trained on ({FeatureCache.Readable(features.Path)})");
        return TestEvaluation.OnFeatures(_head, features, ClassNames, dataName);
    }
}
