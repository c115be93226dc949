using System.IO.Compression;
using System.Text.Json.Nodes;
using NotebookVgg.Data;
using NotebookVgg.Evaluation;
using NotebookVgg.Models;
using NotebookVgg.Runtime;
using NotebookVgg.Tests.TestSupport;
using NotebookVgg.Training;
using NotebookVgg.Transfer;
using NotebookVgg.Weights;
using static TorchSharp.torch;

namespace NotebookVgg.Tests.Training;

/// <summary>Issue 13: nonsense checkpoints are refused on load, resumes cannot mix runs, replaced weights are noticed.</summary>
[Collection(GlobalRandomState.Name)]
public sealed class CheckpointValidationTests : IDisposable
{
    private static readonly string[] Names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];
    private static readonly TrainingOptions Options = new() { Epochs = 1, BatchSize = 8, ImageSize = 32, Device = "cpu" };
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static ModelDescription Description(string architecture = "vgg19") => new(
        new Backbone(architecture, WeightsReference.Random, FeatureCut.Fc7, 32, Interpolation.Bilinear, [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f], Precision.Fp32, Seed: 0),
        TrainingMode.Features, Names, "test data");

    private static ModelDescription With(ModelDescription d, Func<Backbone, Backbone> change) => d with { Backbone = change(d.Backbone) };

    private string TrainOneEpoch(string name, ModelDescription metadata, bool resume = false)
    {
        string path = _dir.Combine(name);
        random.manual_seed(0);
        using var head = nn.Sequential(("fc", nn.Linear(16, 10)));
        using var x = randn(32, 16);
        using var y = randint(0, 10, [32]);
        var trainer = new Trainer(head, [new ParameterGroup("head", [.. head.parameters()], 1e-3)], Options, CPU);
        trainer.Fit(new BatchSource("train", 32, 1, _ => [(x, y)]), null, new CheckpointOptions(path, resume, metadata));
        return path;
    }

    public static TheoryData<string, string, string> Nonsense => new()
    {
        { "std", "[0,0,0]", "model.std" },
        { "imageSize", "100000", "model.imageSize 100000" },
        { "imageSize", "0", "model.imageSize 0" },
        { "architecture", "\"vgg99\"", "model.architecture vgg99" },
        { "numClasses", "3", "model.numClasses 3" },
        { "interpolation", "\"sideways\"", "model.interpolation sideways" },
        { "mean", "[1,2]", "model.mean" },
        { "precision", "\"fp16\"", "model.precision fp16" },
    };

    [Theory]
    [MemberData(nameof(Nonsense))]
    public void ANonsenseField_IsRefusedOnLoad_NamingTheFileAndTheField(string field, string json, string expected)
    {
        string path = TrainOneEpoch("run.ckpt", Description());
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Update))
        {
            var entry = zip.GetEntry("state.json")!;
            JsonNode state;
            using (var s = entry.Open())
                state = JsonNode.Parse(s)!;
            state["model"]![field] = JsonNode.Parse(json);
            entry.Delete();
            using var w = new StreamWriter(zip.CreateEntry("state.json").Open());
            w.Write(state.ToJsonString());
        }

        var ex = Assert.Throws<InvalidDataException>(() => ModelDescription.Read(path));

        Assert.StartsWith(path + ": state.json: " + expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resume_WithAnotherArchitecture_IsRefused_NamingIt()
    {
        TrainOneEpoch("run.ckpt", Description("vgg19"));

        var ex = Assert.Throws<InvalidOperationException>(() => TrainOneEpoch("run.ckpt", Description("vgg11"), resume: true));

        Assert.Contains("cannot resume: the checkpoint was trained with architecture vgg19, this run asks for vgg11", ex.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> ChangedSettings => new()
    {
        { "weights file", "with weights file /a/vgg19.pth, this run asks for /b/other.pth" },
        { "weights SHA-256", $"with weights SHA-256 {new string('a', 64)}, this run asks for {new string('b', 64)}" },
        { "feature cut", "with feature cut Fc7, this run asks for Pool5" },
        { "mode", "with mode Features, this run asks for FineTune" },
        { "image size", "with image size 32, this run asks for 64" },
        { "interpolation", "with interpolation bilinear, this run asks for bicubic" },
        { "precision", "with precision fp32, this run asks for bf16" },
    };

    [Theory]
    [MemberData(nameof(ChangedSettings))]
    public void Resume_WithAChangedSetting_IsRefused_NamingIt(string setting, string expected)
    {
        var saved = With(Description(), b => b with { Weights = new WeightsReference(null, "/a/vgg19.pth", new string('a', 64)) });
        var changed = setting switch
        {
            "weights file" => With(saved, b => b with { Weights = b.Weights with { Path = "/b/other.pth" } }),
            "weights SHA-256" => With(saved, b => b with { Weights = b.Weights with { Sha256 = new string('b', 64) } }), // same path, file replaced
            "feature cut" => With(saved, b => b with { Cut = FeatureCut.Pool5 }),
            "mode" => saved with { Mode = TrainingMode.FineTune },
            "image size" => With(saved, b => b with { ImageSize = 64 }),
            "interpolation" => With(saved, b => b with { Interpolation = Interpolation.Bicubic }),
            _ => With(saved, b => b with { Precision = Precision.Bf16 }),
        };
        TrainOneEpoch("run.ckpt", saved);

        var ex = Assert.Throws<InvalidOperationException>(() => TrainOneEpoch("run.ckpt", changed, resume: true));

        Assert.Contains("cannot resume: the checkpoint was trained " + expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AModelEntryClaimingMoreThan2GiB_IsRefused_NamingTheFileAndTheEntry()
    {
        string path = TrainOneEpoch("run.ckpt", Description());
        // The central directory record of model.bin claims 2^31 + 4096 bytes (uncompressed size at offset 24).
        byte[] raw = File.ReadAllBytes(path);
        byte[] name = System.Text.Encoding.ASCII.GetBytes("model.bin");
        int at = -1;
        for (int i = 0; i + 46 + name.Length <= raw.Length; i++)
        {
            if (raw[i] == 'P' && raw[i + 1] == 'K' && raw[i + 2] == 1 && raw[i + 3] == 2
                && raw.AsSpan(i + 46, name.Length).SequenceEqual(name))
                at = i;
        }
        Assert.True(at >= 0, "no central directory record for model.bin");
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(raw.AsSpan(at + 24), (1u << 31) + 4096);
        File.WriteAllBytes(path, raw);
        using var head = nn.Sequential(("fc", nn.Linear(16, 10)));

        var ex = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, head));

        Assert.Equal($"{path}: zip entry model.bin is implausibly large (2,147,487,744 bytes)", ex.Message);
    }

    [Fact]
    public void AWeightsFileReplacedSinceTraining_IsRefused_BeforeEvaluating()
    {
        string weights = _dir.Combine("weights.pth");
        File.WriteAllBytes(weights, [1, 2, 3]);
        string pinned = NotebookVgg.Weights.WeightsStore.Sha256Of(weights);
        string path = TrainOneEpoch("run.ckpt", With(Description(), b => b with { Weights = new WeightsReference(null, weights, pinned) }));
        File.WriteAllBytes(weights, [4, 5, 6]);

        var ex = Assert.Throws<InvalidDataException>(() => TrainedModel.Load(path));

        Assert.Contains($"was trained from {weights} with SHA-256 {pinned}", ex.Message, StringComparison.Ordinal);
        Assert.Contains("(replaced since training)", ex.Message, StringComparison.Ordinal);
    }
}
