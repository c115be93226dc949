using System.Diagnostics;
using NotebookVgg.Data;
using NotebookVgg.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NotebookVgg.Training;

/// <summary>Parameters trained with one learning rate (e.g. "head" at 1e-3, "pretrained" at 1e-5).</summary>
public sealed record ParameterGroup(string Name, IReadOnlyList<Parameter> Parameters, double LearningRate);


/// <summary>Where and how a run keeps checkpoints.</summary>
/// <param name="Path">The latest checkpoint, rewritten atomically after every epoch.</param>
/// <param name="Resume">Continue from <paramref name="Path"/> if it exists.</param>
/// <param name="Metadata">Describes the model for evaluation/prediction (architecture, classes, ...); a resumed run must describe the same.</param>
public sealed record CheckpointOptions(string Path, bool Resume = false, ICheckpointDescription? Metadata = null)
{
    /// <summary>The copy kept of the epoch with the best validation accuracy: NAME.best.EXT.</summary>
    public string BestPath => System.IO.Path.ChangeExtension(Path, null) + ".best" + System.IO.Path.GetExtension(Path);
}

/// <summary>What a finished (or early-stopped) run returns.</summary>
public sealed record TrainingResult(TrainingHistory History, int EpochsCompleted, bool StoppedEarly, bool Resumed, TimeSpan Elapsed);

/// <summary>
/// The training loop: cross-entropy on logits, Adam or SGD with per-group learning rates and a schedule,
/// every iteration in its own dispose scope, progress per batch and epoch, atomic checkpoints each epoch,
/// exact resume. Seeded: on the CPU two runs with the same settings give identical numbers.
/// </summary>
public sealed class Trainer
{
    private readonly nn.Module<Tensor, Tensor> _model;
    private readonly IReadOnlyList<ParameterGroup> _groups;
    private readonly TrainingOptions _options;
    private readonly Device _device;

    /// <summary>Checks <paramref name="options"/> at once; nothing is trained until <see cref="Fit"/>.</summary>
    /// <param name="model">Maps a batch of inputs to logits; trained in place.</param>
    /// <param name="groups">The parameters to train and their learning rates; empty groups are skipped, but not all may be empty.</param>
    /// <param name="options">The recipe: epochs, optimizer, schedule, seed and so on.</param>
    /// <param name="device">Where each batch is moved; the model must already be there.</param>
    public Trainer(nn.Module<Tensor, Tensor> model, IReadOnlyList<ParameterGroup> groups, TrainingOptions options, Device device)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (groups.Count == 0 || groups.All(g => g.Parameters.Count == 0))
            throw new ArgumentException("nothing to train: every parameter group is empty (is everything frozen?)");
        _model = model;
        _groups = groups;
        _options = options;
        _device = device;
    }

    /// <summary>Called synchronously after every batch and epoch.</summary>
    public IProgress<TrainingProgress>? Progress { get; init; }

    /// <summary>
    /// Trains up to the options' epochs: one pass over <paramref name="train"/> per epoch, then a pass over
    /// <paramref name="validation"/> if given (its accuracy drives early stopping and the best checkpoint), then a checkpoint if
    /// <paramref name="checkpoint"/> is given. With <see cref="CheckpointOptions.Resume"/> and an existing file it continues from
    /// there (same model and settings; only the epoch count may grow); otherwise it seeds torch with the options' seed.
    /// </summary>
    /// <exception cref="TrainingDivergedException">The loss became NaN or infinite.</exception>
    /// <exception cref="InvalidOperationException">The checkpoint to resume was written for another model or other settings.</exception>
    public TrainingResult Fit(BatchSource train, BatchSource? validation = null, CheckpointOptions? checkpoint = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        using var optimizer = CreateOptimizer();
        var history = new TrainingHistory(train.Name);
        // Before the first epoch: a checkpoint that cannot be written (read-only or full folder, another run writing it) fails now.
        long? checkpointBytes = checkpoint is null ? null : Checkpoint.EstimateBytes(_model, _groups.SelectMany(g => g.Parameters), OptimizerSlots);
        using var writing = checkpoint is null ? null : Checkpoint.BeginWriting(checkpoint.Path, checkpointBytes!.Value);
        int firstEpoch = 1, stale = 0;
        double? best = null;
        bool resumed = false;
        if (checkpoint is { Resume: true } && File.Exists(checkpoint.Path))
        {
            EnsureSameModel(Checkpoint.ReadState(checkpoint.Path), checkpoint.Metadata, checkpoint.Path);
            var state = Checkpoint.Load(checkpoint.Path, _model, optimizer);
            EnsureSameSettings(state.Options, checkpoint.Path);
            history = new TrainingHistory(state.DataName, state.History);
            firstEpoch = state.EpochsCompleted + 1;
            best = state.BestValidationAccuracy;
            stale = state.EpochsWithoutImprovement;
            using var rng = tensor(state.RngState, dtype: ScalarType.Byte);
            torch.random.set_rng_state(rng);
            resumed = true;
        }
        else
        {
            torch.random.manual_seed(_options.Seed);
        }

        var clock = Stopwatch.StartNew();
        bool stoppedEarly = false;
        long stepsPerEpoch = train.BatchesPerEpoch;
        for (int epoch = firstEpoch; epoch <= _options.Epochs; epoch++)
        {
            if (_options.EarlyStoppingPatience is { } patience && stale >= patience)
            {
                stoppedEarly = true;
                break;
            }
            var epochClock = Stopwatch.StartNew();
            var (trainLoss, trainAccuracy, lr) = TrainEpoch(optimizer, train, epoch, stepsPerEpoch, clock, cancellationToken);
            (double Loss, double Accuracy)? val = validation is null ? null : Evaluate(validation, epoch);
            var record = new EpochRecord(epoch, trainLoss, trainAccuracy, val?.Loss, val?.Accuracy, lr, epochClock.Elapsed.TotalSeconds);
            history.Epochs.Add(record);

            bool improved = val is { } v && (best is null || v.Accuracy > best);
            if (improved)
            {
                best = val!.Value.Accuracy;
                stale = 0;
            }
            else if (val is not null)
            {
                stale++;
            }
            if (checkpoint is not null)
            {
                using var rng = torch.random.get_rng_state();
                var state = new CheckpointState(epoch, _options, [.. history.Epochs], history.DataName, best, stale, rng.data<byte>().ToArray(), checkpoint.Metadata?.ToJson());
                Checkpoint.Save(checkpoint.Path, _model, optimizer, state, checkpointBytes);
                if (improved)
                    Checkpoint.KeepAsBest(checkpoint.Path, checkpoint.BestPath);
            }
            Progress?.Report(new TrainingProgress(epoch, _options.Epochs, train.BatchesPerEpoch, train.BatchesPerEpoch, trainLoss, trainAccuracy,
                train.Count / Math.Max(1e-9, record.Seconds), clock.Elapsed, Remaining(clock.Elapsed, epoch - firstEpoch + 1, _options.Epochs - epoch), record));
            cancellationToken.ThrowIfCancellationRequested();
        }
        return new TrainingResult(history, history.Epochs.Count, stoppedEarly, resumed, clock.Elapsed);
    }

    private (double Loss, double Accuracy, double LearningRate) TrainEpoch(
        OptimizerHelper optimizer, BatchSource train, int epoch, long stepsPerEpoch, Stopwatch clock, CancellationToken cancellationToken)
    {
        _model.train();
        double lossSum = 0, lr = 0;
        long correct = 0, seen = 0;
        int batch = 0;
        var epochClock = Stopwatch.StartNew();
        using var batches = train.Batches(epoch).GetEnumerator();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Runtime.NativeAllocator.ReleaseFreeIfAbove(Runtime.NativeAllocator.FreeBytesKeptBetweenSteps); // the last step's buffers are free now
            using var scope = NewDisposeScope();
            if (!batches.MoveNext())
                break;
            var (inputs, labels) = batches.Current;
            long step = (epoch - 1) * stepsPerEpoch + batch;
            lr = ApplyLearningRates(optimizer, step, stepsPerEpoch);

            var x = inputs.to(_device);
            var y = labels.to(_device);
            var logits = _model.forward(x);
            if (batch == 0)
                LogitsCheck.EnsureLogits(logits, $"epoch {epoch}, batch 1");
            var loss = Loss(logits, y, _options.LabelSmoothing);
            double lossValue = loss.item<float>();
            if (!double.IsFinite(lossValue))
                throw new TrainingDivergedException(
                    $"training diverged: the loss is {lossValue} at epoch {epoch}, batch {batch + 1} (try a smaller learning rate)");
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();

            long n = labels.shape[0];
            lossSum += lossValue * n;
            correct += logits.argmax(1).eq(y).sum().item<long>();
            seen += n;
            batch++;
            NotebookVgg.Runtime.LibraryMetrics.TrainingImages.Add(n);
            Progress?.Report(new TrainingProgress(epoch, _options.Epochs, batch, train.BatchesPerEpoch, lossSum / seen, (double)correct / seen,
                seen / Math.Max(1e-9, epochClock.Elapsed.TotalSeconds), clock.Elapsed, null, null));
        }
        if (seen == 0)
            throw new InvalidOperationException($"training data '{train.Name}' produced no batch in epoch {epoch}");
        return (lossSum / seen, (double)correct / seen, lr);
    }

    /// <summary>Mean cross-entropy and accuracy over a source, in eval mode without gradients.</summary>
    private (double Loss, double Accuracy) Evaluate(BatchSource source, int epoch)
    {
        _model.eval();
        using var _ = no_grad();
        double lossSum = 0;
        long correct = 0, seen = 0;
        using var batches = source.Batches(epoch).GetEnumerator();
        while (true)
        {
            using var scope = NewDisposeScope();
            if (!batches.MoveNext())
                break;
            var (inputs, labels) = batches.Current;
            var y = labels.to(_device);
            var logits = _model.forward(inputs.to(_device));
            lossSum += Loss(logits, y, 0, nn.Reduction.Sum).item<float>();
            correct += logits.argmax(1).eq(y).sum().item<long>();
            seen += labels.shape[0];
        }
        if (seen == 0)
            throw new InvalidOperationException($"validation data '{source.Name}' produced no batch");
        return (lossSum / seen, (double)correct / seen);
    }

    /// <summary>Tensors the optimizer keeps per trained parameter: Adam's two moments, SGD's momentum buffer.</summary>
    private int OptimizerSlots => _options.Optimizer == OptimizerKind.Adam ? 2 : _options.Momentum != 0 ? 1 : 0;

    /// <summary>
    /// The options' loss: cross-entropy on the logits, or — <see cref="LossKind.DoubleSoftmax"/>, the tutorial's bug kept to
    /// reproduce it — on their softmax, so that softmax is applied twice. Validation uses the same loss, so both curves
    /// of a run measure one quantity.
    /// </summary>
    private Tensor Loss(Tensor logits, Tensor labels, double labelSmoothing, nn.Reduction reduction = nn.Reduction.Mean) =>
        nn.functional.cross_entropy(_options.Loss == LossKind.DoubleSoftmax ? logits.softmax(1) : logits, labels,
            reduction: reduction, label_smoothing: labelSmoothing);

    private OptimizerHelper CreateOptimizer()
    {
        var groups = _groups.Where(g => g.Parameters.Count > 0).ToList();
        return _options.Optimizer switch
        {
            OptimizerKind.Adam => new OnePass.Adam(groups.Select(g => new Adam.ParamGroup(g.Parameters, g.LearningRate, 0.9, 0.999, 1e-8, _options.WeightDecay, false, false))),
            OptimizerKind.Sgd => new OnePass.SGD(
                groups.Select(g => new SGD.ParamGroup(g.Parameters, g.LearningRate, _options.Momentum, 0, _options.WeightDecay, false, false)),
                groups[0].LearningRate),
            _ => throw new ArgumentOutOfRangeException(nameof(_options), _options.Optimizer, "unknown optimizer"),
        };
    }

    /// <summary>Sets each group's rate for this step; returns the first group's (reported in the history).</summary>
    private double ApplyLearningRates(OptimizerHelper optimizer, long step, long stepsPerEpoch)
    {
        double factor = LearningRateSchedule.Factor(_options, step, stepsPerEpoch);
        double first = double.NaN;
        foreach (var (group, spec) in optimizer.ParamGroups.Zip(_groups.Where(g => g.Parameters.Count > 0)))
        {
            group.LearningRate = spec.LearningRate * factor;
            if (double.IsNaN(first))
                first = group.LearningRate;
        }
        return first;
    }

    private void EnsureSameSettings(TrainingOptions saved, string path)
    {
        // Epochs may grow on resume (train longer); everything else must match or the result is not the same run.
        if (saved with { Epochs = _options.Epochs, EarlyStoppingPatience = _options.EarlyStoppingPatience } != _options with { })
            throw new InvalidOperationException($"{path}: the checkpoint was written with other settings ({saved}); resume with the same settings or start a new checkpoint");
    }

    /// <summary>
    /// A resumed run must be the same model trained from the same weights: a changed architecture, weights file, cut,
    /// mode or input size would continue the old checkpoint under a new label. Names the first setting that differs.
    /// </summary>
    private static void EnsureSameModel(CheckpointState saved, ICheckpointDescription? now, string path)
    {
        if (saved.Model is not { } stored || now?.DifferenceFrom(stored, saved.Options) is not { } d)
            return;
        throw new InvalidOperationException(
            $"{path}: cannot resume: the checkpoint was trained with {d.Setting} {d.Stored}, this run asks for {d.Now}; " +
            "resume with the same settings, or start a new checkpoint");
    }

    private static TimeSpan? Remaining(TimeSpan elapsed, int epochsDone, int epochsLeft) =>
        epochsDone <= 0 ? null : TimeSpan.FromTicks(elapsed.Ticks / epochsDone * epochsLeft);
}
