using NotebookVgg.Data;
using NotebookVgg.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Tests.Data;

public sealed class ImageTransformsTests
{
    private static Tensor RandomImages(int n, int seed)
    {
        using var g = new torch.Generator((ulong)seed);
        return torch.randint(0, 256, [n, 3, 32, 32], dtype: ScalarType.Byte, generator: g);
    }

    [Fact]
    public void ToFloat_ScalesToUnitRange()
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.tensor(new byte[] { 0, 51, 255 }).view(1, 3, 1, 1);
        var f = ImageTransforms.ToFloat(x);
        Assert.Equal(ScalarType.Float32, f.dtype);
        Assert.Equal([0f, 0.2f, 1f], f.data<float>().ToArray());
        Assert.Throws<ArgumentException>(() => ImageTransforms.ToFloat(f));
    }

    [Fact]
    public void Normalize_UsesThePreprocessingsMeanAndStd()
    {
        using var scope = torch.NewDisposeScope();
        var p = Preprocessing.ImageNet;
        var x = torch.rand(2, 3, 4, 4);
        var y = ImageTransforms.Normalize(x, p);
        for (int c = 0; c < 3; c++)
        {
            var expected = (x[.., c] - p.Mean[c]) / p.Std[c];
            Assert.True(y[.., c].allclose(expected, rtol: 1e-6, atol: 1e-6));
        }
        var other = new Preprocessing([0.5f, 0.5f, 0.5f], [0.5f, 0.5f, 0.5f], 32, 32);
        Assert.True(ImageTransforms.Normalize(x, other).allclose(x * 2 - 1, atol: 1e-6));
        Assert.Throws<ArgumentException>(() => ImageTransforms.Normalize(torch.rand(1, 1, 4, 4), p));
    }

    [Theory]
    [InlineData(Interpolation.Nearest, 224)]
    [InlineData(Interpolation.Bilinear, 64)]
    [InlineData(Interpolation.Bicubic, 112)]
    [InlineData(Interpolation.Bilinear, 16)]
    public void Resize_GivesTheRequestedSize(Interpolation mode, int size)
    {
        using var scope = torch.NewDisposeScope();
        var x = ImageTransforms.ToFloat(RandomImages(2, 1));
        var y = ImageTransforms.Resize(x, size, mode);
        Assert.Equal(new long[] { 2, 3, size, size }, y.shape);
    }

    [Fact]
    public void Resize_NearestDoubling_RepeatsEachPixel()
    {
        using var scope = torch.NewDisposeScope();
        var x = ImageTransforms.ToFloat(RandomImages(1, 2));
        var y = ImageTransforms.Resize(x, 64, Interpolation.Nearest);
        var expected = x.repeat_interleave(2, dim: 2).repeat_interleave(2, dim: 3);
        Assert.True(DataTestFiles.Same(y, expected));
    }

    [Fact]
    public void Resize_ModesDiffer_AndSmoothModesKeepConstantImages()
    {
        using var scope = torch.NewDisposeScope();
        var x = ImageTransforms.ToFloat(RandomImages(1, 3));
        var nearest = ImageTransforms.Resize(x, 224, Interpolation.Nearest);
        var bilinear = ImageTransforms.Resize(x, 224, Interpolation.Bilinear);
        var bicubic = ImageTransforms.Resize(x, 224, Interpolation.Bicubic);
        Assert.False(nearest.allclose(bilinear));
        Assert.False(bilinear.allclose(bicubic));
        // Bicubic overshoots on random noise; bilinear never leaves the input's range.
        Assert.True(bicubic.max().item<float>() > 1f || bicubic.min().item<float>() < 0f);
        Assert.InRange(bilinear.max().item<float>(), 0f, 1f);

        var flat = torch.full(1, 3, 32, 32, 0.3f);
        foreach (var mode in new[] { Interpolation.Bilinear, Interpolation.Bicubic })
            Assert.True(ImageTransforms.Resize(flat, 100, mode).allclose(torch.full(1, 3, 100, 100, 0.3f), atol: 1e-6));
    }

    [Fact]
    public void Resize_Antialias_SmoothsDownscaling()
    {
        using var scope = torch.NewDisposeScope();
        var x = ImageTransforms.ToFloat(RandomImages(1, 4));
        var plain = ImageTransforms.Resize(x, 16, Interpolation.Bilinear);
        var smooth = ImageTransforms.Resize(x, 16, Interpolation.Bilinear, antialias: true);
        // Without antialias, halving averages 2×2 pixels; with it, a wider triangle filter: less variance left.
        Assert.True(smooth.std().item<float>() < plain.std().item<float>());
        Assert.True(ImageTransforms.Resize(x, 64, Interpolation.Bilinear, antialias: true)
            .allclose(ImageTransforms.Resize(x, 64, Interpolation.Bilinear), atol: 1e-5));
        // libtorch's antialiased bicubic uses PIL's kernel (a = −0.5) rather than a = −0.75: it differs even when enlarging.
        Assert.False(ImageTransforms.Resize(x, 64, Interpolation.Bicubic, antialias: true)
            .allclose(ImageTransforms.Resize(x, 64, Interpolation.Bicubic), atol: 1e-3));
        Assert.Throws<ArgumentException>(() => ImageTransforms.Resize(x, 64, Interpolation.Nearest, antialias: true));
    }

    [Fact]
    public void Resize_SameSize_IsAnEqualCopy()
    {
        using var scope = torch.NewDisposeScope();
        var x = ImageTransforms.ToFloat(RandomImages(1, 5));
        var y = ImageTransforms.Resize(x, 32, Interpolation.Bicubic);
        Assert.True(DataTestFiles.Same(y, x));
        Assert.NotEqual(x.Handle, y.Handle);
        Assert.Throws<ArgumentException>(() => ImageTransforms.Resize(RandomImages(1, 5), 64, Interpolation.Bilinear));
    }

    [Fact]
    public void RandomCropFlip_IsSeeded_AndEachImageIsAShiftedOrMirroredWindow()
    {
        using var scope = torch.NewDisposeScope();
        var x = RandomImages(64, 6);
        using var g1 = new torch.Generator(11);
        using var g2 = new torch.Generator(11);
        var a = ImageTransforms.RandomCropFlip(x, 4, g1);
        var b = ImageTransforms.RandomCropFlip(x, 4, g2);
        Assert.True(DataTestFiles.Same(a, b));
        Assert.Equal(x.shape, a.shape);
        Assert.Equal(ScalarType.Byte, a.dtype);

        var padded = nn.functional.pad(x, [4, 4, 4, 4]);
        int flipped = 0, shifted = 0;
        for (int i = 0; i < 64; i++)
        {
            bool found = false;
            for (int top = 0; top <= 8 && !found; top++)
            {
                for (int left = 0; left <= 8 && !found; left++)
                {
                    var window = padded[i, .., top..(top + 32), left..(left + 32)];
                    if (DataTestFiles.Same(a[i], window))
                    {
                        found = true;
                    }
                    else if (DataTestFiles.Same(a[i], window.flip(2)))
                    {
                        found = true;
                        flipped++;
                    }
                    if (found && (top != 4 || left != 4))
                        shifted++;
                }
            }
            Assert.True(found, $"image {i} is no crop of its padded original");
        }
        Assert.InRange(flipped, 16, 48);  // about half, 64 draws
        Assert.InRange(shifted, 48, 64);  // 1/81 chance each to be the centre crop
    }

    [Fact]
    public void RandomCropFlip_WithoutPadding_OnlyFlips()
    {
        using var scope = torch.NewDisposeScope();
        var x = RandomImages(16, 7);
        using var g = new torch.Generator(3);
        var y = ImageTransforms.RandomCropFlip(x, 0, g);
        for (int i = 0; i < 16; i++)
            Assert.True(DataTestFiles.Same(y[i], x[i]) || DataTestFiles.Same(y[i], x[i].flip(2)));
    }

    [Fact]
    public void Prepare_IsToFloatResizeClampNormalize()
    {
        using var scope = torch.NewDisposeScope();
        var x = RandomImages(2, 8);
        var p = Preprocessing.ImageNet;
        var y = ImageTransforms.Prepare(x, 64, p, Interpolation.Bicubic);
        var expected = ImageTransforms.Normalize(ImageTransforms.Resize(ImageTransforms.ToFloat(x), 64, Interpolation.Bicubic).clamp(0, 1), p);
        Assert.True(y.allclose(expected, atol: 1e-6));
        Assert.Equal(ScalarType.Float32, y.dtype);
    }

    [Fact]
    public void ResizeBytes_ShrinksAPhotoToCifarSize_AsBytes_AveragingLikePil()
    {
        // Vertical stripes two pixels wide, 64 wide → 32: plain bilinear samples inside a stripe and keeps pure 0 and 255;
        // antialiased, each output pixel averages its neighbourhood, as PIL does (PyTorch: 36…219, then 64/191 alternating).
        using var stripes = arange(64).div(2, rounding_mode: RoundingMode.floor).remainder(2).mul(255)
            .view(1, 1, 1, 64).expand(1, 3, 48, 64).to_type(ScalarType.Byte);
        using var small = ImageTransforms.ResizeBytes(stripes, Cifar10.ImageSize);
        Assert.Equal([1L, 3, 32, 32], small.shape);
        Assert.Equal(ScalarType.Byte, small.dtype);
        Assert.Equal([36, 191, 64, 191, 64, 191], small[0, 0, 0, TensorIndex.Slice(0, 6)].data<byte>().ToArray());
        Assert.Equal(219, small.max().item<byte>());
        Assert.Throws<ArgumentException>(() => ImageTransforms.ResizeBytes(stripes.to_type(ScalarType.Float32), 32));
    }
}
