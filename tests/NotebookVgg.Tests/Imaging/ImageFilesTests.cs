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
    public void Read_ADecompressionBomb_IsRefusedFromItsHeader_BeforeDecoding()
    {
        // A valid PNG header claiming 50000×50000 pixels, followed by nothing: decoding it would ask for ~10 GB.
        string path = _dir.Combine("bomb.png");
        File.WriteAllBytes(path, PngHeader(50_000, 50_000));
        long before = Environment.WorkingSet;

        var ex = Assert.Throws<InvalidDataException>(() => ImageFiles.Read(path));

        Assert.True(ex.Message.StartsWith(path + ": the image claims 50000×50000 pixels; at most 64 megapixels", StringComparison.Ordinal), ex.Message);
        Assert.True(Environment.WorkingSet - before < 500_000_000, "the refusal must not decode");
    }

    [Fact]
    public void Read_ATruncatedImage_IsRefused()
    {
        using var image = randint(0, 256, [3, 64, 64], dtype: ScalarType.Byte);
        byte[] png = ImageFiles.EncodePng(image);
        string path = _dir.Combine("truncated.png");
        File.WriteAllBytes(path, png[..(png.Length / 2)]);

        var ex = Assert.Throws<InvalidDataException>(() => ImageFiles.Read(path));

        Assert.StartsWith(path + ": ", ex.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>PNG signature and an IHDR chunk (with its CRC) for an 8-bit RGB image of the given size, and no pixel data.</summary>
    private static byte[] PngHeader(int width, int height)
    {
        var ihdr = new List<byte>("IHDR"u8.ToArray());
        ihdr.AddRange(BigEndian(width));
        ihdr.AddRange(BigEndian(height));
        ihdr.AddRange(new byte[] { 8, 2, 0, 0, 0 });
        var png = new List<byte> { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A };
        png.AddRange(BigEndian(13));
        png.AddRange(ihdr);
        png.AddRange(BigEndian(unchecked((int)Crc32(ihdr))));
        // One short IDAT (a few compressed zero rows) and IEND: a small file whose header claims a huge image.
        var idat = new List<byte>("IDAT"u8.ToArray());
        using (var compressed = new MemoryStream())
        {
            using (var z = new System.IO.Compression.ZLibStream(compressed, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
                z.Write(new byte[1000]);
            idat.AddRange(compressed.ToArray());
        }
        png.AddRange(BigEndian(idat.Count - 4));
        png.AddRange(idat);
        png.AddRange(BigEndian(unchecked((int)Crc32(idat))));
        png.AddRange(BigEndian(0));
        png.AddRange("IEND"u8.ToArray());
        png.AddRange(BigEndian(unchecked((int)Crc32("IEND"u8.ToArray()))));
        return [.. png];

        static uint Crc32(IEnumerable<byte> bytes) // PNG's CRC-32 (ISO 3309), bit by bit: a test needs no table
        {
            uint crc = 0xFFFFFFFF;
            foreach (byte b in bytes)
            {
                crc ^= b;
                for (int k = 0; k < 8; k++)
                    crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
            }
            return ~crc;
        }

        static byte[] BigEndian(int v) => [(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v];
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
