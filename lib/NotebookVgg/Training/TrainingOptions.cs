using System.Text.Json.Serialization;

namespace NotebookVgg.Training;

/// <summary>How the pretrained network is reused.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<TrainingMode>))]
public enum TrainingMode
{
    /// <summary>Pretrained layers frozen; their outputs computed once and cached; only a new head is trained.</summary>
    Features,

    /// <summary>The whole network (or everything after a chosen layer) trained from the pretrained weights.</summary>
    FineTune,

    /// <summary>Random weights, trained from scratch: the baseline transfer learning is measured against.</summary>
    Scratch,
}

/// <summary>The optimizer the trainer builds; both take per-group learning rates and <see cref="TrainingOptions.WeightDecay"/>.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<OptimizerKind>))]
public enum OptimizerKind
{
    /// <summary>Adam with PyTorch's defaults: betas 0.9 and 0.999, epsilon 1e-8.</summary>
    Adam,

    /// <summary>SGD with <see cref="TrainingOptions.Momentum"/>, no dampening, not Nesterov.</summary>
    Sgd,
}

/// <summary>
/// What the loss is computed on. The model always outputs logits; <see cref="DoubleSoftmax"/> reproduces the tutorial's
/// companion notebook, whose network already ended in a softmax and whose loss, <c>tf.losses.softmax_cross_entropy</c>,
/// applied a second one (notebook 2 measures what that costs).
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<LossKind>))]
public enum LossKind
{
    /// <summary>Cross-entropy on the logits (softmax applied once, inside the loss): the correct loss.</summary>
    Logits,

    /// <summary>Cross-entropy on softmax(logits): softmax twice, the tutorial's bug, kept to reproduce it.</summary>
    DoubleSoftmax,
}

/// <summary>The learning-rate schedule after the (optional) linear warm-up.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ScheduleKind>))]
public enum ScheduleKind
{
    /// <summary>The full learning rate throughout.</summary>
    Constant,

    /// <summary>Multiply by <see cref="TrainingOptions.StepGamma"/> every <see cref="TrainingOptions.StepEpochs"/> epochs.</summary>
    Step,

    /// <summary>Cosine decay to zero over the epochs after warm-up.</summary>
    Cosine,
}

/// <summary>Every setting of a training run. Saved in checkpoints, so a resumed run continues with the same settings.</summary>
public sealed record TrainingOptions
{
    /// <summary>Train a head on cached features, fine-tune the pretrained network, or train from scratch.</summary>
    public TrainingMode Mode { get; init; } = TrainingMode.Features;

    /// <summary>Passes over the training split; a resumed run may raise it to train longer.</summary>
    public int Epochs { get; init; } = 10;

    /// <summary>Training examples (images, or cached features) per optimizer step.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Learning rate of the pretrained layers (fine-tuning), or of everything when <see cref="HeadLearningRate"/> is null.</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Learning rate of the new head; null: the same as <see cref="LearningRate"/>.</summary>
    public double? HeadLearningRate { get; init; }

    /// <summary>Adam, or SGD with <see cref="Momentum"/>.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;

    /// <summary>SGD momentum (ignored by Adam).</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>L2 penalty the optimizer adds to each gradient (PyTorch's weight_decay, not AdamW's decoupled decay); 0: none.</summary>
    public double WeightDecay { get; init; }

    /// <summary>How the learning rate changes after the warm-up.</summary>
    public ScheduleKind Schedule { get; init; } = ScheduleKind.Constant;

    /// <summary>Epochs (part of <see cref="Epochs"/>) over which the learning rate rises linearly to its full value; 0: none.</summary>
    public int WarmupEpochs { get; init; }

    /// <summary>Step schedule: epochs (after the warm-up) between multiplications by <see cref="StepGamma"/>.</summary>
    public int StepEpochs { get; init; } = 5;

    /// <summary>Step schedule: the factor the learning rate is multiplied by every <see cref="StepEpochs"/> epochs.</summary>
    public double StepGamma { get; init; } = 0.1;

    /// <summary>Cross-entropy on the logits (default), or on their softmax (the tutorial's double softmax, to reproduce it).</summary>
    public LossKind Loss { get; init; } = LossKind.Logits;

    /// <summary>logits or double_softmax (any case; also double-softmax); an error naming the value otherwise.</summary>
    public static LossKind ParseLoss(string loss) => loss?.Trim().ToLowerInvariant().Replace('-', '_') switch
    {
        "logits" => LossKind.Logits,
        "double_softmax" or "doublesoftmax" => LossKind.DoubleSoftmax,
        _ => throw new ArgumentException($"loss '{loss}': expected logits or double_softmax"),
    };

    /// <summary>
    /// The share of inputs VGG's two classifier dropout layers zero while fine-tuning or training from scratch (VGG's 0.5).
    /// 0 trains the classifier as a features-mode head was trained — on fc7 values without dropout — which a fine-tune that
    /// starts from such a head needs: with dropout on, its first steps chase the errors of a network the head never saw
    /// (notebook 4 measures it). Features mode never uses dropout.
    /// </summary>
    public double Dropout { get; init; } = 0.5;

    /// <summary>Label smoothing of the cross-entropy loss, in [0,1).</summary>
    public double LabelSmoothing { get; init; }

    /// <summary>
    /// Seeds every random choice of a run (subsets, initialization, shuffling, augmentation, dropout), so that on the CPU
    /// the same settings give the same numbers.
    /// </summary>
    public int Seed { get; init; }

    /// <summary>auto|cpu|cuda.</summary>
    public string Device { get; init; } = "auto";

    /// <summary>Stop after this many epochs without a better validation accuracy; null: never.</summary>
    public int? EarlyStoppingPatience { get; init; }

    /// <summary>Input side length the 32×32 images are resized to.</summary>
    public int ImageSize { get; init; } = 224;

    /// <summary>Random crop (padding 4 at 32×32) and horizontal flip on training batches.</summary>
    public bool Augment { get; init; }

    /// <summary>
    /// The number format of feature extraction and training on the CPU (auto: bf16 where the CPU has it natively and
    /// a check on real images agrees with fp32). Weights, gradients and optimizer state are fp32 in every case.
    /// </summary>
    public Runtime.Precision Precision { get; init; } = Runtime.Precision.Auto;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad value.</summary>
    public void Validate()
    {
        if (Epochs < 1) throw new ArgumentException($"epochs {Epochs}: must be at least 1");
        if (BatchSize < 1) throw new ArgumentException($"batch size {BatchSize}: must be at least 1");
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) throw new ArgumentException($"learning rate {LearningRate}: must be a positive number");
        if (HeadLearningRate is { } h && (!(h > 0) || double.IsInfinity(h))) throw new ArgumentException($"head learning rate {h}: must be a positive number");
        if (Dropout is < 0 or >= 1 || double.IsNaN(Dropout)) throw new ArgumentException($"dropout {Dropout}: must be in [0, 1)");
        if (LabelSmoothing is < 0 or >= 1) throw new ArgumentException($"label smoothing {LabelSmoothing}: must be in [0, 1)");
        if (WarmupEpochs < 0 || WarmupEpochs >= Epochs && WarmupEpochs > 0) throw new ArgumentException($"warm-up epochs {WarmupEpochs}: must be in [0, epochs)");
        if (StepEpochs < 1) throw new ArgumentException($"step epochs {StepEpochs}: must be at least 1");
        if (ImageSize is < 32 or > 512) throw new ArgumentException($"image size {ImageSize}: must be between 32 and 512");
        if (!Enum.IsDefined(Loss)) throw new ArgumentException($"loss {Loss}: expected logits or double_softmax");
        if (!Enum.IsDefined(Precision)) throw new ArgumentException($"precision {Precision}: expected auto, fp32 or bf16");
        if (EarlyStoppingPatience is < 1) throw new ArgumentException($"early-stopping patience {EarlyStoppingPatience}: must be at least 1");
    }
}
