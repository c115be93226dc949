using System.Runtime.InteropServices;
using System.Text.Json;
using NotebookVgg.Charts;
using NotebookVgg.Data;
using NotebookVgg.Inspection;
using NotebookVgg.Models;
using NotebookVgg.Runtime;
using NotebookVgg.Tests.TestSupport;
using NotebookVgg.Tests.Weights;
using NotebookVgg.Training;
using NotebookVgg.Transfer;
using NotebookVgg.Weights;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace NotebookVgg.Tests.Inspection;

/// <summary>Issue 16, item 2: Grad-CAM equals PyTorch's on the same weights file and the same CIFAR-10 image.</summary>
public sealed class GradCamTests : IDisposable
{
    private const string WeightsFile = "vgg19_r32.zip.pth"; // torch.save'd reduced-width vgg19: torchvision's layer indices
    private readonly TempDirectory _dir = new();
    private readonly ITestOutputHelper _output;

    public GradCamTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => _dir.Dispose();

    [Trait("Category", "PyTorch")]
    [Theory]
    [InlineData(64)]  // a 4×4 map before upsampling
    [InlineData(224)] // 14×14, as notebook 5 sees it at full scale
    public async Task Maps_EqualPyTorchs_ForEveryClass_OnARealImage(int size)
    {
        int[] classes = [.. Enumerable.Range(0, WeightFixtures.Classes)];
        using var scope = NewDisposeScope();
        using var model = WeightFixtures.Model("vgg19");
        WeightLoader.Load(model, WeightFixtures.Path(WeightsFile));
        var input = ImageTransforms.Prepare(await FirstSampleTestImage(), size, Preprocessing.ImageNet, Interpolation.Bilinear);

        var (expected, expectedLogits) = PyTorchGradCam(input, size, classes);
        using var actual = GradCam.Compute(model, input.expand(classes.Length, -1, -1, -1), classes);

        Assert.Equal("features.35", actual.TargetLayer);
        Assert.Equal(size / 16, actual.ActivationShape[1]);
        long nonZero = expected.amax([1, 2]).gt(0).sum().item<long>();
        Assert.True(nonZero >= 2, $"{nonZero} classes have a non-zero map: fewer than two would prove little");
        // Tolerance: per class, max |TorchSharp − PyTorch| ≤ 1e-4 × that map's maximum (1 after normalization; 0 for an all-zero map).
        double worst = 0;
        for (int c = 0; c < classes.Length; c++)
        {
            double scale = expected[c].abs().max().item<float>();
            double diff = (actual.Maps[c] - expected[c]).abs().max().item<float>();
            worst = Math.Max(worst, scale > 0 ? diff / scale : diff);
            Assert.True(diff <= 1e-4 * scale, $"class {c}: max abs difference {diff:g3} exceeds 1e-4 × {scale:g3}");
        }
        _output.WriteLine($"input {size}×{size}: max relative difference to PyTorch {worst:g3} over {classes.Length} classes ({nonZero} with a non-zero map)");
        var softmax = tensor(expectedLogits).softmax(0);
        for (int c = 0; c < classes.Length; c++)
            Assert.Equal(softmax[c].item<float>(), actual.Probabilities[0][c], 5);
    }

    [Fact]
    public void ModelState_IsUnchanged_AndNoParameterGetsAGradient()
    {
        using var scope = NewDisposeScope();
        using var model = WeightFixtures.Model("vgg19");
        model.train();
        model.features.eval();          // mixed modes, as during features-mode training
        model.FreezeUpTo("features.10"); // mixed requires_grad
        var modesBefore = model.named_modules().Select(m => (m.name, m.module.training)).ToList();
        var gradsBefore = model.named_parameters().Select(p => (p.name, p.parameter.requires_grad)).ToList();

        using var maps = GradCam.Compute(model, randn(2, 3, 64, 64), [1, 2]);

        Assert.Equal(modesBefore, model.named_modules().Select(m => (m.name, m.module.training)).ToList());
        Assert.Equal(gradsBefore, model.named_parameters().Select(p => (p.name, p.parameter.requires_grad)).ToList());
        Assert.All(model.parameters(), p => Assert.True(p.grad is null, "a parameter's .grad was written"));
        Assert.True(is_grad_enabled());
    }

    [Theory]
    [InlineData("vgg11", 19)]
    [InlineData("vgg16", 29)]
    [InlineData("vgg19", 35)]
    [InlineData("vgg19_bn", 51)]
    public void TargetLayer_IsTheReluBeforeTheLastMaxPool_InEveryArchitecture(string architecture, int torchvisionIndex)
    {
        using var model = WeightFixtures.Model(architecture);
        Assert.Equal(torchvisionIndex, GradCam.TargetLayerIndex(model.features));
    }

    [Fact]
    public void RunnerUp_IsTheSecondMostProbableClass_AndTheChartNamesTheSecondMapsRole()
    {
        using var scope = NewDisposeScope();
        float[][] probabilities = [[0.6f, 0.3f, 0.1f], [0.2f, 0.2f, 0.6f]];
        using var predicted = new ClassActivationMaps(zeros(2, 32, 32), [0, 2], [0, 2], probabilities, "features.35", [4, 2, 2]);
        using var second = new ClassActivationMaps(zeros(2, 32, 32), [1, 1], [0, 2], probabilities, "features.35", [4, 2, 2]);
        Assert.Equal(1, predicted.RunnerUp(0));
        Assert.Equal(0, predicted.RunnerUp(1)); // a tie goes to the lower class index

        var images = zeros(2, 3, 32, 32, ScalarType.Byte);
        var chart = InspectionCharts.GradCam(images, predicted, second, ["a", "b", "c"], "title", trueClasses: [0, 1]);
        string layout = JsonDocument.Parse(OfflineHtml.FigureJson(chart)).RootElement.GetProperty("layout").GetRawText();
        Assert.Contains("true a / predicted a", layout, StringComparison.Ordinal);
        Assert.Contains("map: b (runner-up, 30", layout, StringComparison.Ordinal);
        Assert.Contains("true b / predicted c", layout, StringComparison.Ordinal);
        Assert.Contains("map: b (true)", layout, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => InspectionCharts.GradCam(images, predicted, second, ["a", "b", "c"], "t", trueClasses: [0]));
    }

    [Fact]
    public void ClassIndexOutOfRange_IsNamed()
    {
        using var scope = NewDisposeScope();
        using var model = WeightFixtures.Model("vgg19");
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => GradCam.Compute(model, randn(1, 3, 32, 32), [10]));
        Assert.Contains("class index 10 is out of range", error.Message, StringComparison.Ordinal);
    }

    private async Task<Tensor> FirstSampleTestImage()
    {
        string folder = await Cifar10.ExtractAsync(RepoFiles.SampleArchive, _dir.Combine("data"));
        using var data = Cifar10.Load(folder);
        return data.Test.Images[0].unsqueeze(0).clone();
    }

    /// <summary>tests/fixtures/gradcam_reference.py on the same weights file and the same prepared input.</summary>
    private (Tensor Maps, float[] Logits) PyTorchGradCam(Tensor input, int size, int[] classes)
    {
        string inputFile = _dir.Combine("input.f32"), outputFile = _dir.Combine("maps.f32");
        File.WriteAllBytes(inputFile, MemoryMarshal.AsBytes(input.contiguous().data<float>().ToArray().AsSpan()).ToArray());
        string stdout = DebianPython.Run(RepoFiles.Path("tests", "fixtures", "gradcam_reference.py"), WeightFixtures.Path(WeightsFile), inputFile,
            size.ToString(System.Globalization.CultureInfo.InvariantCulture), string.Join(",", classes), outputFile);
        float[] logits = [.. JsonDocument.Parse(stdout).RootElement.GetProperty("logits").EnumerateArray().Select(v => v.GetSingle())];
        float[] maps = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(outputFile)).ToArray();
        return (tensor(maps).view(classes.Length, size, size), logits);
    }
}
