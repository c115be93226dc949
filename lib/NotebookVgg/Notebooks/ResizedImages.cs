using NotebookVgg.Data;
using NotebookVgg.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Notebooks;

/// <summary>Notebook 03's pictures of CIFAR-10 images enlarged under each interpolation.</summary>
public static class ResizedImages
{
    /// <summary>
    /// The first <paramref name="count"/> images at 32×32 and resized to <paramref name="size"/> under each interpolation, with
    /// captions. With <paramref name="zoom"/> &gt; 1 each picture is the centre 1/zoom of the image, enlarged back to
    /// <paramref name="size"/> pixel for pixel, so that blocks and blur are visible on the page.
    /// </summary>
    public static (Tensor Images, string[] Captions) Grid(Cifar10Split split, int count, int size, string[] classNames, int zoom = 1)
    {
        ArgumentNullException.ThrowIfNull(split);
        ArgumentNullException.ThrowIfNull(classNames);
        using var scope = NewDisposeScope();
        var originals = split.Images.narrow(0, 0, count);
        var rows = new List<Tensor>();
        var captions = new List<string>();
        for (int i = 0; i < count; i++)
        {
            var one = originals.narrow(0, i, 1);
            string name = classNames[split.LabelAt(i)];
            rows.Add(Zoom(ImageTransforms.Resize(one.to_type(ScalarType.Float32), size, Interpolation.Nearest).round().clamp(0, 255).to_type(ScalarType.Byte)));
            captions.Add($"{name}: the 32×32 original");
            foreach (var mode in new[] { Interpolation.Nearest, Interpolation.Bilinear, Interpolation.Bicubic })
            {
                rows.Add(Zoom(ImageTransforms.Resize(ImageTransforms.ToFloat(one), size, mode).clamp(0, 1).mul(255).round().to_type(ScalarType.Byte)));
                captions.Add($"{name}: {mode.ToString().ToLowerInvariant()} to {size}");
            }
        }
        return (cat(rows, 0).MoveToOuterDisposeScope(), [.. captions]);

        Tensor Zoom(Tensor image)
        {
            if (zoom <= 1)
                return image;
            int side = size / zoom, start = (size - side) / 2;
            var centre = image.narrow(2, start, side).narrow(3, start, side);
            return centre.repeat_interleave(zoom, 2).repeat_interleave(zoom, 3);
        }
    }
}
