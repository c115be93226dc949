using NotebookVgg.Data;
using NotebookVgg.Evaluation;
using NotebookVgg.Models;
using NotebookVgg.Tests.TestSupport;
using NotebookVgg.Tests.Weights;
using NotebookVgg.Training;
using NotebookVgg.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Tests.Evaluation;

/// <summary>Issue 13: NaN or infinity in weights or outputs is an error naming its source, never a "loss NaN" metric.</summary>
[Collection(GlobalRandomState.Name)]
public sealed class NonFiniteTests : IDisposable
{
    private static readonly string[] Names = [.. Enumerable.Range(0, WeightFixtures.Classes).Select(i => $"class{i}")];
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static Vgg Model()
    {
        torch.random.manual_seed(21);
        var model = WeightFixtures.Model("vgg11");
        model.eval();
        return model;
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void AWeightsFileWithANonFiniteValue_IsRefused_NamingTheFileAndTheTensor(float poison)
    {
        string path = _dir.Combine("poisoned.safetensors");
        using (var source = Model())
        {
            var state = source.state_dict();
            using (no_grad())
                state["features.3.weight"][0, 0, 0, 0] = poison;
            SafetensorsFile.Write(path, state);
        }
        using var target = Model();
        var ex = Assert.Throws<InvalidDataException>(() => WeightLoader.Load(target, path));
        Assert.StartsWith(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("tensor features.3.weight holds 1 NaN or infinite value(s)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OverflowingWeights_StopEvaluation_NamingTheBatchAndTheFirstLayer()
    {
        using var model = Model();
        using (no_grad())
            ((TorchSharp.Modules.Conv2d)model.features[3]).weight!.fill_(1e38f); // finite weights whose outputs overflow
        using var x = randn(4, 3, 32, 32);
        using var y = tensor(new long[] { 0, 1, 2, 3 });
        var source = new BatchSource("poisoned test", 4, 1, _ => [(x, y)]);

        var ex = Assert.Throws<InvalidDataException>(() => Evaluator.Evaluate(model, source, Names));
        Assert.Equal("features.3", model.FirstNonFiniteLayer(x));
        Assert.Contains("poisoned test, batch 0: the model's outputs hold NaN or infinite values, first in layer features.3", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FirstNonFiniteLayer_IsNullForAHealthyModel()
    {
        using var model = Model();
        using var x = randn(2, 3, 32, 32);
        Assert.Null(model.FirstNonFiniteLayer(x));
    }
}
