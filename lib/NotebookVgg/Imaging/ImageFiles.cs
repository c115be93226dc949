using SkiaSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Imaging;

/// <summary>Images between files (PNG, JPEG, ...) and uint8 C×H×W tensors, through SkiaSharp (the decoder TorchVision itself uses).</summary>
public static class ImageFiles
{
    /// <summary>
    /// The most pixels an image file may decode to (64 megapixels, e.g. 8192×8192): checked from the header before any
    /// pixel is decoded, so a small file that claims a huge image (a decompression bomb) costs nothing.
    /// </summary>
    public const long MaxPixels = 64L * 1024 * 1024;

    /// <summary>Decodes an image file into a uint8 3×H×W RGB tensor (alpha dropped).</summary>
    /// <exception cref="InvalidDataException">Not an image SkiaSharp can decode, larger than <see cref="MaxPixels"/>, or truncated.</exception>
    public static Tensor Read(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no such image file", path);
        IO.RegularFile.EnsureReadable(path, "an image file");
        using var codec = SKCodec.Create(path, out var opened)
            ?? throw new InvalidDataException(opened == SKCodecResult.IncompleteInput
                ? $"{path}: truncated image (it ends before its header does)"
                : $"{path}: not a decodable image (PNG, JPEG, GIF, BMP, WebP): {opened}");
        var size = codec.Info;
        long pixels = (long)size.Width * size.Height;
        if (size.Width <= 0 || size.Height <= 0 || pixels > MaxPixels)
            throw new InvalidDataException(
                $"{path}: the image claims {size.Width}×{size.Height} pixels; at most {MaxPixels / (1024 * 1024)} megapixels are decoded");
        var info = new SKImageInfo(size.Width, size.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result != SKCodecResult.Success)
            throw new InvalidDataException($"{path}: {(result == SKCodecResult.IncompleteInput ? "truncated" : "corrupt")} image ({result})");
        byte[] rgba = bitmap.Bytes;
        using var hwc = tensor(rgba, [size.Height, size.Width, 4], ScalarType.Byte);
        return hwc.narrow(2, 0, 3).permute(2, 0, 1).contiguous();
    }

    /// <summary>Encodes a uint8 3×H×W (or 1×H×W) tensor as PNG bytes.</summary>
    public static byte[] EncodePng(Tensor image)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.dim() != 3 || (image.shape[0] != 3 && image.shape[0] != 1) || image.dtype != ScalarType.Byte)
            throw new ArgumentException($"image of shape [{string.Join(", ", image.shape)}] and type {image.dtype}: expected uint8 3×H×W or 1×H×W");
        int h = (int)image.shape[1], w = (int)image.shape[2];
        using var scope = NewDisposeScope();
        var rgb = image.shape[0] == 1 ? image.expand(3, h, w) : image;
        var rgba = cat([rgb, full([1, h, w], (byte)255, ScalarType.Byte)], 0).permute(1, 2, 0).contiguous();
        byte[] pixels = rgba.data<byte>().ToArray();
        var info = new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>A data: URI of the image as PNG, for HTML and Plotly image traces.</summary>
    public static string ToPngDataUri(Tensor image) => "data:image/png;base64," + Convert.ToBase64String(EncodePng(image));

    /// <summary>
    /// Turns a float image back into displayable uint8: undoes normalization when <paramref name="mean"/> and
    /// <paramref name="std"/> are given, then clamps [0,1] to [0,255].
    /// </summary>
    public static Tensor ToDisplayable(Tensor image, float[]? mean = null, float[]? std = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.dtype == ScalarType.Byte)
            return image.alias();
        using var scope = NewDisposeScope();
        var x = image.to_type(ScalarType.Float32);
        if (mean is not null && std is not null)
            x = x * tensor(std).view(-1, 1, 1) + tensor(mean).view(-1, 1, 1);
        return (x.clamp(0, 1) * 255).round().to_type(ScalarType.Byte).MoveToOuterDisposeScope();
    }
}
