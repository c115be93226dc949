using NotebookVgg.Models;
using NotebookVgg.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Tests.Models;

public sealed class Winograd3x3Tests
{
    private static double RelativeError(Tensor actual, Tensor expected)
    {
        using var scope = NewDisposeScope();
        var e = expected.to_type(ScalarType.Float64);
        return (actual.to_type(ScalarType.Float64) - e).norm().item<double>() / e.norm().item<double>();
    }

    [Theory]
    [InlineData(2, 5, 7, 16, 16, true, Winograd3x3.DefaultChunkBytes)]  // sides a multiple of the 4×4 output tile
    [InlineData(3, 8, 6, 14, 14, true, Winograd3x3.DefaultChunkBytes)]  // 14 = 3.5 tiles: padded, then cropped
    [InlineData(1, 4, 3, 7, 9, false, Winograd3x3.DefaultChunkBytes)]   // not square, no bias
    [InlineData(2, 3, 2, 1, 2, true, Winograd3x3.DefaultChunkBytes)]    // smaller than one tile
    [InlineData(5, 6, 4, 10, 10, true, 1)]                              // one image per chunk
    [InlineData(5, 6, 4, 10, 10, true, 2 * 9 * 36 * 6 * 4)]            // chunks of 2, 2 and 1 images
    public void Forward_EqualsTheDirectConvolution(int n, int c, int co, int h, int w, bool withBias, long chunkBytes)
    {
        using var scope = NewDisposeScope();
        using var g = new Generator(11);
        var x = randn([n, c, h, w], generator: g);
        var weight = randn([co, c, 3, 3], generator: g);
        var bias = withBias ? randn([co], generator: g) : null;
        // The reference in float64, so that the error measured is Winograd's own.
        var expected = nn.functional.conv2d(x.to_type(ScalarType.Float64), weight.to_type(ScalarType.Float64),
            bias?.to_type(ScalarType.Float64), padding: [1, 1]);

        var y = Winograd3x3.Forward(x, weight, bias, chunkBytes);

        Assert.Equal(expected.shape, y.shape);
        Assert.Equal(ScalarType.Float32, y.dtype);
        Assert.InRange(RelativeError(y, expected), 0, 1e-5);
        // The direct fp32 kernel's error on the same problem, for scale: Winograd's is within 20× of it.
        double direct = RelativeError(nn.functional.conv2d(x, weight, bias, padding: [1, 1]), expected);
        Assert.InRange(RelativeError(y, expected), 0, Math.Max(20 * direct, 1e-6));
    }

    [Fact]
    public void Gradients_EqualTheDirectConvolutions()
    {
        using var scope = NewDisposeScope();
        using var g = new Generator(14);
        var x = randn([3, 6, 10, 10], generator: g);
        var weight = randn([5, 6, 3, 3], generator: g);
        var bias = randn([5], generator: g);
        var upstream = randn([3, 5, 10, 10], generator: g);
        (Tensor X, Tensor W, Tensor B) Gradients(ScalarType type, bool winograd)
        {
            var (xi, wi, bi) = (x.to_type(type).requires_grad_(), weight.to_type(type).requires_grad_(), bias.to_type(type).requires_grad_());
            var y = winograd ? Winograd3x3.Forward(xi, wi, bi, chunkBytes: 1) : nn.functional.conv2d(xi, wi, bi, padding: [1, 1]);
            (y * upstream.to_type(type)).sum().backward();
            return (xi.grad!, wi.grad!, bi.grad!);
        }

        var expected = Gradients(ScalarType.Float64, winograd: false);
        var actual = Gradients(ScalarType.Float32, winograd: true);

        Assert.InRange(RelativeError(actual.X, expected.X), 0, 1e-5);
        Assert.InRange(RelativeError(actual.W, expected.W), 0, 1e-5);
        Assert.InRange(RelativeError(actual.B, expected.B), 0, 1e-5);
    }

    [Fact]
    public void Forward_TakesChannelsLastInput()
    {
        using var scope = NewDisposeScope();
        using var g = new Generator(12);
        var x = randn([2, 6, 12, 12], generator: g);
        var weight = randn([4, 6, 3, 3], generator: g);
        var nhwc = CpuSpeed.ToChannelsLast(x);
        Assert.True(CpuSpeed.IsChannelsLast(nhwc));
        Assert.InRange(RelativeError(Winograd3x3.Forward(nhwc, weight, null), nn.functional.conv2d(x, weight, padding: [1, 1])), 0, 1e-5);
    }

    [Fact]
    public void Forward_RefusesWhatIsNotA3x3ConvolutionOfItsInput()
    {
        using var scope = NewDisposeScope();
        var x = zeros(1, 4, 8, 8);
        var ex = Assert.Throws<ArgumentException>(() => Winograd3x3.Forward(x, zeros(2, 3, 3, 3), null));
        Assert.Contains("1×4×8×8", ex.Message);
        Assert.Throws<ArgumentException>(() => Winograd3x3.Forward(x, zeros(2, 4, 5, 5), null));
        using var strided = nn.Conv2d(4, 2, 3, stride: 2, padding: 1);
        Assert.Throws<ArgumentException>(() => Winograd3x3.Forward(strided, x));
    }

    [Fact]
    public void Computes_OnlyVggs3x3Convolutions()
    {
        using var vggs = nn.Conv2d(128, 128, 3, padding: 1);
        using var strided = nn.Conv2d(128, 128, 3, stride: 2, padding: 1);
        using var unpadded = nn.Conv2d(128, 128, 3);
        using var pointwise = nn.Conv2d(128, 128, 1);
        using var dilated = nn.Conv2d(128, 128, 3, padding: 2, dilation: 2);
        using var grouped = nn.Conv2d(128, 128, 3, padding: 1, groups: 2);
        using var reflecting = nn.Conv2d(128, 128, 3, padding: 1, padding_mode: PaddingModes.Reflect);

        Assert.True(Winograd3x3.Computes(vggs));
        Assert.All(new[] { strided, unpadded, pointwise, dilated, grouped, reflecting }, c => Assert.False(Winograd3x3.Computes(c)));
    }

    [Fact]
    public void Pays_OnlyForFp32WithEnoughChannelsOnAnAvx2Cpu()
    {
        using var wide = nn.Conv2d(Winograd3x3.MinInputChannels, 8, 3, padding: 1);
        using var narrow = nn.Conv2d(Winograd3x3.MinInputChannels / 2, 8, 3, padding: 1);
        using var x = zeros(1, Winograd3x3.MinInputChannels, 8, 8);
        using var xNarrow = zeros(1, Winograd3x3.MinInputChannels / 2, 8, 8);
        using var xBf16 = x.to_type(ScalarType.BFloat16);

        Assert.Equal(CpuSpeed.Isa.Effective == CpuIsa.Avx2, Winograd3x3.Pays(wide, x));
        Assert.False(Winograd3x3.Pays(narrow, xNarrow));
        Assert.False(Winograd3x3.Pays(wide, xBf16));
    }

    [Fact]
    public void Vgg_FeaturesAndLogitsByWinograd_EqualLibTorchs()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(3);
        using var model = Vgg.CreateReducedWidth("vgg19", widthDivisor: 8, hiddenUnits: 64);
        model.eval();
        using var noGrad = no_grad();
        using var g = new Generator(13);
        var x = randn([2, 3, 32, 32], generator: g);

        var fc7 = model.ExtractFeatures(x, FeatureCut.Fc7, ConvolutionPath.LibTorch);
        var fc7W = model.ExtractFeatures(x, FeatureCut.Fc7, ConvolutionPath.Winograd);
        var pool5W = model.ExtractFeatures(x, FeatureCut.Pool5, ConvolutionPath.Winograd);
        var logits = model.Logits(x, ConvolutionPath.LibTorch);
        var logitsW = model.Logits(x, ConvolutionPath.Winograd);

        Assert.Equal(fc7.shape, fc7W.shape);
        Assert.InRange(RelativeError(fc7W, fc7), 0, 1e-5);
        Assert.InRange(RelativeError(pool5W, model.ExtractFeatures(x, FeatureCut.Pool5)), 0, 1e-5);
        Assert.InRange(RelativeError(logitsW, logits), 0, 1e-5);
        Assert.InRange(RelativeError(model.Logits(x, ConvolutionPath.WinogradWherePays), logits), 0, 1e-5);
        Assert.True(RelativeError(fc7W, fc7) > 0, "the Winograd path computed nothing of its own");
    }

    [Fact]
    public void Vgg_GradientsByWinograd_EqualLibTorchs()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(4);
        using var model = Vgg.CreateReducedWidth("vgg19", widthDivisor: 8, hiddenUnits: 64);
        model.eval(); // dropout off: both passes see the same network
        using var g = new Generator(15);
        var x = randn([2, 3, 32, 32], generator: g);
        var labels = tensor(new long[] { 3, 7 });
        List<Tensor> Gradients(ConvolutionPath path)
        {
            model.zero_grad();
            nn.functional.cross_entropy(model.Logits(x, path), labels).backward();
            return [.. model.features.parameters().Select(p => p.grad!.clone())];
        }

        var direct = Gradients(ConvolutionPath.LibTorch);
        var winograd = Gradients(ConvolutionPath.Winograd);

        Assert.Equal(direct.Count, winograd.Count);
        for (int i = 0; i < direct.Count; i++)
            Assert.InRange(RelativeError(winograd[i], direct[i]), 0, 1e-4);
    }
}
