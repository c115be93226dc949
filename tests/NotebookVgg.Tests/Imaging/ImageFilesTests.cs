using NotebookVgg.Imaging;
using NotebookVgg.Tests.TestSupport;
using static TorchSharp.torch;

namespace NotebookVgg.Tests.Imaging;

public sealed class ImageFilesTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Png_RoundTripsExactly()
    {
        using var image = randint(0, 256, [3, 17, 23], dtype: ScalarType.Byte);
        string path = _dir.Combine("x.png");
        File.WriteAllBytes(path, ImageFiles.EncodePng(image));
        using var back = ImageFiles.Read(path);
        Assert.Equal(image.shape, back.shape);
        Assert.Equal(image.data<byte>().ToArray(), back.data<byte>().ToArray());
    }

    [Fact]
    public void Read_NonImage_IsAClearError()
    {
        string path = _dir.Combine("x.png");
        File.WriteAllText(path, "not an image");
        var ex = Assert.Throws<InvalidDataException>(() => ImageFiles.Read(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToDisplayable_UndoesNormalization()
    {
        float[] mean = [0.5f, 0.4f, 0.3f], std = [0.2f, 0.25f, 0.5f];
        using var pixels = tensor(new byte[] { 0, 128, 255 }).view(3, 1, 1);
        using var normalized = (pixels.to_type(ScalarType.Float32) / 255 - tensor(mean).view(3, 1, 1)) / tensor(std).view(3, 1, 1);
        using var back = ImageFiles.ToDisplayable(normalized, mean, std);
        Assert.Equal(new byte[] { 0, 128, 255 }, back.data<byte>().ToArray());
    }
}
