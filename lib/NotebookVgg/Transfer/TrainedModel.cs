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
/// A trained classifier rebuilt from a checkpoint: for features mode the frozen pretrained VGG (from the weights
/// file the checkpoint names, or the same seeded random weights) plus the trained head; otherwise the whole VGG.
/// It takes uint8 32×32 images and does the training's resize and normalization itself.
/// </summary>
public sealed class TrainedModel : nn.Module<Tensor, Tensor>, ILocatesNonFiniteOutputs
{
    private readonly Vgg _vgg;
    private readonly nn.Module<Tensor, Tensor>? _head;
    private readonly Preprocessing _preprocessing;
    private readonly Interpolation _interpolation;

    private TrainedModel(Vgg vgg, nn.Module<Tensor, Tensor>? head, ModelDescription description) : base(nameof(TrainedModel))
    {
        _vgg = vgg;
        _head = head;
        Description = description;
        _preprocessing = new Preprocessing(description.Mean, description.Std, description.ImageSize, description.ImageSize);
        _interpolation = description.Interpolation;
        register_module("vgg", vgg);
        if (head is not null)
            register_module("head", head);
    }

    /// <summary>What the checkpoint says about the model: architecture, mode, weights, input size, normalization, classes.</summary>
    public ModelDescription Description { get; }

    /// <summary>The class names in label order: what each logit of <see cref="forward"/> stands for.</summary>
    public string[] ClassNames => Description.ClassNames;

    /// <summary>Rebuilds the model a checkpoint describes, on the CPU, in eval mode.</summary>
    public static TrainedModel Load(string checkpointPath)
    {
        var state = Checkpoint.ReadState(checkpointPath);
        var d = state.Model ?? throw new InvalidDataException($"{checkpointPath}: the checkpoint does not describe its model (written without metadata)");
        if (d.WeightsPath is not null && !File.Exists(d.WeightsPath))
            throw new FileNotFoundException($"{checkpointPath}: needs the pretrained weights it was trained on, {d.WeightsPath}, which is missing", d.WeightsPath);
        if (d.WeightsPath is not null && d.WeightsSha256 is { Length: 64 } pinned && WeightsStore.Sha256Of(d.WeightsPath) is var now
            && !string.Equals(now, pinned, StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException(
                $"{checkpointPath}: was trained from {d.WeightsPath} with SHA-256 {pinned}; that file now has SHA-256 {now} (replaced since training)");
        int seed = state.Options.Seed;
        var vgg = TransferLearning.BuildModel(d.Architecture, d.Mode == TrainingMode.Scratch ? null : d.WeightsPath, d.NumClasses, seed);
        TrainedModel model;
        if (d.Mode == TrainingMode.Features)
        {
            var cut = d.FeatureCut ?? FeatureCut.Fc7;
            using var example = cut == FeatureCut.Fc7 ? zeros(1, 4096) : zeros(1, 512, 1, 1);
            var head = FeatureHead.Create(cut, example, d.NumClasses);
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
        var x = Prepared(input);
        x = CpuSpeed.ToChannelsLast(x);
        // The precision the model was trained in (features computed, or fine-tuned, in bf16): the same numbers again.
        // A features-mode head was trained in fp32 on fp32 copies of the features, so it runs outside autocast.
        Tensor output;
        using (Description.Precision == Precision.Bf16 && x.device_type == DeviceType.CPU ? CpuSpeed.Autocast() : null)
        {
            output = (_head is null ? _vgg.call(x) : FrozenFeatures(x)).to_type(ScalarType.Float32);
        }
        var logits = _head is null ? output : _head.call(output);
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>uint8 images resized and normalized as in training; float inputs are taken as already prepared.</summary>
    private Tensor Prepared(Tensor input) =>
        input.dtype == ScalarType.Byte ? ImageTransforms.Prepare(input, Description.ImageSize, _preprocessing, _interpolation) : input;

    /// <summary>Features mode: the frozen network's output at the checkpoint's cut, what the head was trained on.</summary>
    private Tensor FrozenFeatures(Tensor x) =>
        Description.FeatureCut == FeatureCut.Fc7 ? _vgg.ExtractFeatures(x, FeatureCut.Fc7) : _vgg.features.call(x);

    /// <summary>
    /// Grad-CAM (see <see cref="Inspection.GradCam"/>) for uint8 N×3×32×32 images, prepared as in training: for each image
    /// the map of <paramref name="classes"/>[i], or of its predicted class when null. Maps come back at the network's input
    /// size (<see cref="ModelDescription.ImageSize"/>). Always fp32, also for a bf16-trained model, so a probability can
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
    private Tensor FromPool5(Tensor pool5)
    {
        if (_head is null)
            return _vgg.classifier.call(_vgg.avgpool.call(pool5).flatten(1));
        if (Description.FeatureCut != FeatureCut.Fc7)
            return _head.call(pool5);
        var fc7 = _vgg.avgpool.call(pool5).flatten(1);
        for (int i = 0; i <= 4; i++) // fc6, ReLU, dropout, fc7, ReLU: what Vgg.ExtractFeatures(Fc7) computes
            fc7 = ((nn.Module<Tensor, Tensor>)_vgg.classifier[i]).call(fc7);
        return _head.call(fc7);
    }

    /// <summary>The first layer (backbone, then "head") whose output is not finite for these inputs, or null.</summary>
    public string? FirstNonFiniteLayer(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = Prepared(input);
        if (_head is null)
            return _vgg.FirstNonFiniteLayer(x);
        var features = FrozenFeatures(x);
        if (!features.isfinite().all().item<bool>())
            return _vgg.FirstNonFiniteLayer(x) ?? $"the frozen network up to {Description.FeatureCut.ToString()!.ToLowerInvariant()}";
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

    /// <summary>Evaluates on a split's uint8 images in order.</summary>
    public EvaluationResult Evaluate(Cifar10Split split, string dataName, int batchSize = 64)
    {
        ArgumentNullException.ThrowIfNull(split);
        return Evaluator.Evaluate(this, BatchSource.FromIterator(new BatchIterator(split, batchSize, shuffle: false), dataName), ClassNames);
    }
}
