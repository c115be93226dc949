using NotebookVgg.Data;
using NotebookVgg.Evaluation;
using NotebookVgg.Models;
using NotebookVgg.Runtime;
using NotebookVgg.Tests.TestSupport;
using NotebookVgg.Training;
using NotebookVgg.Transfer;
using NotebookVgg.Weights;
using TorchSharp;

namespace NotebookVgg.Tests.Training;

/// <summary>The whole recipe end to end on a small synthetic set with random (not pretrained) weights.</summary>
[Collection(GlobalRandomState.Name)]
public sealed class TransferLearningTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly string _data;

    public TransferLearningTests() => _data = SyntheticCifar.Write(_dir.Combine("synth"), 500, 200, seed: 5);

    public void Dispose() => _dir.Dispose();

    private TransferSettings Features(int epochs = 4) => TransferSettings.FromProfile(Profiles.Smoke, _data, weightsPath: null) with
    {
        Options = Profiles.Smoke.Options with { Epochs = epochs, LearningRate = 3e-3 },
        TrainPerClass = 40,
        TestPerClass = 20,
        FeatureCacheDirectory = _dir.Combine("features"),
        CheckpointPath = _dir.Combine("run.ckpt"),
    };

    [Trait("Category", "Slow")]
    [Fact]
    public void FeaturesMode_TrainsAHead_CachesFeatures_AndTheCheckpointReproducesTheTestAccuracy()
    {
        var logs = new List<string>();
        var first = new TransferLearning { Log = logs.Add }.Run(Features());
        Assert.False(first.FeaturesFromCache);
        Assert.Equal(4, first.Training.History.Epochs.Count);
        Assert.Equal(200, first.Test.Count);
        Assert.True(first.Test.Accuracy > 0.3, $"test accuracy {first.Test.Accuracy} on synthetic data (chance is 0.1)");
        Assert.Contains("synthetic", first.DataName, StringComparison.Ordinal);
        Assert.Contains("random weights", first.DataName, StringComparison.Ordinal);
        Assert.Contains(logs, l => l.Contains("computed", StringComparison.Ordinal));
        // The precision chosen (auto by default) is said in the log and recorded in the checkpoint.
        Assert.Equal(Precision.Auto, first.Precision.Requested);
        Assert.Contains(logs, l => l == $"precision: {first.Precision}");
        Assert.Equal(first.Precision.Used, ModelDescription.Read(_dir.Combine("run.ckpt")).Backbone.Precision);
        Assert.Equal(CpuSpeed.HasNativeBf16 && CpuAutocast.IsAvailable, first.Precision.Bf16);

        // Second run: the same features come from the cache, and the same seed gives the same numbers.
        var second = new TransferLearning().Run(Features() with { CheckpointPath = _dir.Combine("run2.ckpt") });
        Assert.True(second.FeaturesFromCache);
        Assert.Equal(first.Test.Accuracy, second.Test.Accuracy);
        Assert.Equal(first.Training.History.Epochs.Select(e => e.TrainLoss), second.Training.History.Epochs.Select(e => e.TrainLoss));

        // fp32 asked for: other features, another cache entry, recorded as fp32.
        var fp32 = new TransferLearning().Run(Features() with
        {
            Options = Features().Options with { Precision = Precision.Fp32 }, CheckpointPath = null,
        });
        Assert.Equal(Precision.Fp32, fp32.Model.Backbone.Precision);
        Assert.Equal(first.Precision.Bf16, !fp32.FeaturesFromCache);

        // Another input size is another cache entry.
        var other = new TransferLearning().Run(Features(1) with { Options = Profiles.Smoke.Options with { Epochs = 1, ImageSize = 64 }, CheckpointPath = null });
        Assert.False(other.FeaturesFromCache);

        // The checkpoint rebuilds backbone + head and gives the same predictions on the raw test images.
        using var model = TrainedModel.Load(_dir.Combine("run.ckpt"));
        using var data = Cifar10.Load(_data);
        var (train, validation, test) = Features().Splits(data);
        train.Dispose();
        validation.Dispose();
        using (test)
        {
            var again = model.Evaluate(test, "synthetic test");
            Assert.Equal(first.Test.Accuracy, again.Accuracy, 6);
            Assert.Equal(first.Test.ConfusionMatrix, again.ConfusionMatrix);
        }
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void FineTune_TrainsTheWholeNetwork_AndRoundTripsThroughItsCheckpoint()
    {
        var settings = Features() with
        {
            Options = Profiles.Smoke.Options with { Mode = TrainingMode.FineTune, Epochs = 1, BatchSize = 16, LearningRate = 1e-4, HeadLearningRate = 1e-3 },
            TrainPerClass = 3,
            TestPerClass = 2,
            FreezeUpTo = "features.18",
            CheckpointPath = _dir.Combine("ft.ckpt"),
        };
        var result = new TransferLearning().Run(settings);
        Assert.Single(result.Training.History.Epochs);
        Assert.Equal(20, result.Test.Count);

        using var model = TrainedModel.Load(settings.CheckpointPath!);
        Assert.Equal(TrainingMode.FineTune, model.Description.Mode);
        using var data = Cifar10.Load(_data);
        var (train, validation, test) = settings.Splits(data);
        train.Dispose();
        validation.Dispose();
        using (test)
            Assert.Equal(result.Test.Accuracy, model.Evaluate(test, "synthetic test").Accuracy, 6);
    }

    [Fact]
    public void FineTuneFromTheTrainedHead_BeforeItsFirstStep_ScoresExactlyWhatTheHeadScored()
    {
        // Issue 22: the assembled model (pretrained body + the head trained on its cached fc7 features) must predict what
        // the head predicted on the same test images before fine-tuning moves anything — same weights, preprocessing,
        // input size and interpolation on both paths. The fine-tune's steps here cannot move a weight (learning rate
        // 1e-30, below fp32's resolution of any weight), so its test evaluation is the assembled model's.
        var fp32 = Profiles.Smoke.Options with { Precision = Precision.Fp32 };
        var headSettings = Features() with { Options = fp32 with { Epochs = 4, LearningRate = 3e-3 } };
        var head = new TransferLearning().Run(headSettings);
        Assert.True(head.Test.Accuracy > 0.3, $"head test accuracy {head.Test.Accuracy} (chance 0.1): nothing to compare");
        var tune = headSettings with
        {
            Options = fp32 with { Mode = TrainingMode.FineTune, Epochs = 1, BatchSize = 16, LearningRate = 1e-30, HeadLearningRate = 1e-30 },
            TrainPerClass = 3,
            HeadFrom = headSettings.CheckpointPath,
            CheckpointPath = _dir.Combine("tuned.ckpt"),
        };

        var assembled = new TransferLearning().Run(tune);

        Assert.Equal(head.Test.Count, assembled.Test.Count);
        Assert.Equal(head.Test.ConfusionMatrix, assembled.Test.ConfusionMatrix);
        Assert.Equal(head.Test.Loss, assembled.Test.Loss, 4);

        // A fine-tune that would prepare its inputs otherwise than the head's features were is refused, naming what differs.
        var ex = Assert.Throws<ArgumentException>(() => new TransferLearning().Run(tune with { Normalization = InputNormalization.None }));
        Assert.Contains("the head was trained on features with mean 0.485, 0.456, 0.406, the fine-tune prepares 0, 0, 0", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DropoutOption_ReachesTheClassifier_AndIsValidated()
    {
        // A fine-tune from a features-mode head trains with the classifier's dropout off (Dropout = 0): in train() mode
        // such a model gives the same outputs twice, as the head's cached fc7 features were computed.
        using var x = torch.randn(2, 3, 32, 32);
        var backbone = Backbone.Of(Features() with { Architecture = "vgg11" });
        using (var off = backbone.Build(10, dropout: 0))
        {
            off.train();
            using var a = off.call(x);
            using var b = off.call(x);
            Assert.True(a.eq(b).all().item<bool>(), "dropout 0: train() mode must be deterministic");
        }
        using (var on = backbone.Build(10))
        {
            on.train();
            using var a = on.call(x);
            using var b = on.call(x);
            Assert.False(a.eq(b).all().item<bool>(), "VGG's default dropout 0.5 must be active in train() mode");
        }
        var ex = Assert.Throws<ArgumentException>(() => (Profiles.Smoke.Options with { Dropout = 1 }).Validate());
        Assert.Equal("dropout 1: must be in [0, 1)", ex.Message);
    }

    [Fact]
    public void DataName_NamesTheWeights_UnlessTheyAreTorchvisionsImageNetFile()
    {
        // Issue 22: captions show the data name; a file that is not torchvision's must not pass for pretrained there.
        using var data = Cifar10.Load(_data);
        string own = _dir.Combine("vgg19-dcbb9e9d.pth"); // torchvision's file name, other bytes
        File.WriteAllBytes(own, [1, 2, 3, 4]);
        var file = ModelDescription.For(Features() with { Weights = WeightsReference.OfFile(own, "vgg19") }, data);
        Assert.Equal($"{data.SourceName}, weights from vgg19-dcbb9e9d.pth (not torchvision's ImageNet file)", file.DataName);
        Assert.Equal($"{data.SourceName}, random weights (not pretrained)", ModelDescription.For(Features(), data).DataName);
        var scratch = Features() with { Options = Features().Options with { Mode = TrainingMode.Scratch } };
        Assert.Equal(data.SourceName, ModelDescription.For(scratch, data).DataName);
    }

    [Fact]
    public void TheTutorialsVariant_IsOneLineOfTheRunsLog_AndTheCorrectRecipeSaysNothing()
    {
        Assert.Null(TransferLearning.TutorialVariant(Features()));
        var both = Features() with
        {
            Normalization = InputNormalization.None,
            Options = Features().Options with { Loss = LossKind.DoubleSoftmax },
        };
        Assert.Equal("as the tutorial's companion notebook: the loss on softmax(logits), softmax applied twice; " +
            "inputs in [0, 1] without the weights' mean and std", TransferLearning.TutorialVariant(both));
    }

    [Fact]
    public void NormalizationNone_FeedsUnnormalizedPixels_AndTheCheckpointEvaluatesThemSo()
    {
        // The tutorial's companion fed [0, 1] pixels without ImageNet's mean and std: another input, another cache entry,
        // recorded in the checkpoint, and used again when the checkpoint is evaluated.
        var settings = Features(2) with { Normalization = InputNormalization.None, CheckpointPath = _dir.Combine("raw.ckpt") };
        var raw = new TransferLearning().Run(settings);
        var imageNet = new TransferLearning().Run(Features(2) with { CheckpointPath = _dir.Combine("imagenet.ckpt") });

        Assert.False(raw.FeaturesFromCache);
        Assert.False(imageNet.FeaturesFromCache); // not the same inputs, so not the same cache entry
        using var model = TrainedModel.Load(settings.CheckpointPath!);
        Assert.Equal([0f, 0f, 0f], model.Backbone.Mean);
        Assert.Equal([1f, 1f, 1f], model.Backbone.Std);
        using var data = Cifar10.Load(_data);
        var (train, validation, test) = settings.Splits(data);
        train.Dispose();
        validation.Dispose();
        using (test)
        {
            // Evaluated from the checkpoint alone: its own normalization (none) is what counts.
            var again = model.Evaluate(test, "synthetic test");
            Assert.Equal(raw.Test.ConfusionMatrix, again.ConfusionMatrix);
        }
        Assert.Equal(InputNormalization.None, TransferSettings.ParseNormalization(" NONE "));
        Assert.Equal("normalize 'caffe': expected imagenet or none",
            Assert.Throws<ArgumentException>(() => TransferSettings.ParseNormalization("caffe")).Message);
    }

    [Fact]
    public void Description_PinsTheSha256OfTheVeryFileUsed_WhateverItsName()
    {
        // Issue 13: a file given by path used to get no checksum (and the registry file the registry's, unverified), so a
        // weights file replaced after training went unnoticed. Now every file's own SHA-256 is recorded.
        using var data = Cifar10.Load(_data);
        string own = _dir.Combine("my-vgg19.pth");
        File.WriteAllBytes(own, [1, 2, 3, 4]);
        var description = ModelDescription.For(Features() with { Weights = WeightsReference.OfFile(own, "vgg19") }, data).Backbone.Weights;
        Assert.Equal("vgg19", description.Name);
        Assert.Equal(own, description.Path);
        Assert.Equal("9f64a747e1b97f131fabb6b447296c9b6f0201e79fb3c5356e6c77e89b6a806a", description.Sha256);
        Assert.Null(ModelDescription.For(Features(), data).Backbone.Weights.Sha256); // random weights: no file
    }

    [Fact]
    public void CheckpointNamingMissingWeights_GivesAClearError()
    {
        var settings = Features(1);
        new TransferLearning().Run(settings);
        var state = ModelDescription.Read(settings.CheckpointPath!);
        Assert.Null(state.Backbone.Weights.Path);
        Assert.Equal(nameof(FeatureCut.Fc7), TransferSettings.ParseCut("fc7").ToString());
        var ex = Assert.Throws<ArgumentException>(() => TransferSettings.ParseCut("fc9"));
        Assert.Contains("fc9", ex.Message, StringComparison.Ordinal);
    }
}
