using NotebookVgg.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Data;

/// <summary>How <see cref="ImageTransforms.Resize"/> computes new pixels.</summary>
public enum Interpolation
{
    /// <summary>PyTorch's "nearest" (torchvision's tensor NEAREST): each output pixel copies one input pixel.</summary>
    Nearest,

    /// <summary>Bilinear, align_corners = false (torchvision's default).</summary>
    Bilinear,

    /// <summary>Bicubic, align_corners = false; can overshoot the input range, see <see cref="ImageTransforms.Prepare"/>.</summary>
    Bicubic,
}

/// <summary>
/// Batch transforms on N×C×H×W tensors. Each returns a new tensor and leaves its input alone, so callers
/// manage lifetimes with a dispose scope as usual.
/// </summary>
public static class ImageTransforms
{
    /// <summary>uint8 0–255 → float32 0–1.</summary>
    public static Tensor ToFloat(Tensor uint8)
    {
        ArgumentNullException.ThrowIfNull(uint8);
        if (uint8.dtype != ScalarType.Byte)
            throw new ArgumentException($"ToFloat expects uint8 images, got {uint8.dtype}", nameof(uint8));
        return uint8.to_type(ScalarType.Float32).div_(255.0);
    }

    /// <summary>Per-channel (x − mean) / std with the mean and std of <paramref name="p"/> (from the weights' metadata).</summary>
    public static Tensor Normalize(Tensor x, Preprocessing p)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(p);
        if (!x.is_floating_point())
            throw new ArgumentException($"Normalize expects float images in [0,1], got {x.dtype} (use ToFloat first)", nameof(x));
        if (x.dim() != 4 || x.shape[1] != p.Mean.Length)
            throw new ArgumentException($"Normalize expects N×{p.Mean.Length}×H×W, got [{string.Join("×", x.shape)}]", nameof(x));
        using var scope = torch.NewDisposeScope();
        var mean = torch.tensor(p.Mean, dtype: x.dtype, device: x.device).view(1, -1, 1, 1);
        var std = torch.tensor(p.Std, dtype: x.dtype, device: x.device).view(1, -1, 1, 1);
        return scope.MoveToOuter((x - mean).div_(std));
    }

    /// <summary>
    /// Resizes a float batch to <paramref name="size"/>×<paramref name="size"/> (libtorch's interpolate,
    /// align_corners = false). <paramref name="antialias"/> (bilinear and bicubic only) low-pass filters when
    /// shrinking, as PIL does; enlarging, it leaves bilinear unchanged but switches bicubic to PIL's kernel
    /// (a = −0.5 instead of −0.75), so antialiased bicubic is the PIL-like choice. The same size returns an unchanged copy.
    /// </summary>
    public static Tensor Resize(Tensor x, int size, Interpolation mode, bool antialias = false)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        if (!x.is_floating_point())
            throw new ArgumentException($"Resize expects float images, got {x.dtype} (use ToFloat first)", nameof(x));
        if (x.dim() != 4)
            throw new ArgumentException($"Resize expects N×C×H×W, got [{string.Join("×", x.shape)}]", nameof(x));
        if (antialias && mode == Interpolation.Nearest)
            throw new ArgumentException("antialias applies to bilinear and bicubic resizing only", nameof(antialias));
        if (x.shape[2] == size && x.shape[3] == size)
            return x.clone();
        return mode switch
        {
            Interpolation.Nearest => nn.functional.interpolate(x, [size, size], mode: InterpolationMode.Nearest),
            Interpolation.Bilinear => nn.functional.interpolate(x, [size, size], mode: InterpolationMode.Bilinear, align_corners: false, antialias: antialias),
            Interpolation.Bicubic => nn.functional.interpolate(x, [size, size], mode: InterpolationMode.Bicubic, align_corners: false, antialias: antialias),
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown interpolation"),
        };
    }

    /// <summary>
    /// Training augmentation as torchvision's RandomCrop(H, padding) + RandomHorizontalFlip(): each image is
    /// zero-padded by <paramref name="padding"/> on every side, a random H×W window is cut out, and it is
    /// mirrored left–right with probability ½. All randomness comes from <paramref name="g"/>. Any dtype.
    /// </summary>
    public static Tensor RandomCropFlip(Tensor x, int padding, torch.Generator g)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(g);
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        if (x.dim() != 4)
            throw new ArgumentException($"RandomCropFlip expects N×C×H×W, got [{string.Join("×", x.shape)}]", nameof(x));
        long n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        using var scope = torch.NewDisposeScope();
        var padded = padding > 0 ? nn.functional.pad(x, [padding, padding, padding, padding]) : x;
        // Offsets and flips are drawn on the CPU from g, then the crop is two gathers (rows, then columns).
        var top = torch.randint(0, 2 * padding + 1, [n], dtype: ScalarType.Int64, generator: g);
        var left = torch.randint(0, 2 * padding + 1, [n], dtype: ScalarType.Int64, generator: g);
        var flip = torch.randint(0, 2, [n], dtype: ScalarType.Int64, generator: g).to_type(ScalarType.Bool);
        var rows = top.view(n, 1) + torch.arange(h, dtype: ScalarType.Int64);
        var columns = left.view(n, 1) + torch.arange(w, dtype: ScalarType.Int64);
        columns = torch.where(flip.view(n, 1), columns.flip(1), columns);
        rows = rows.to(x.device).view(n, 1, h, 1).expand(n, c, h, padded.shape[3]);
        columns = columns.to(x.device).view(n, 1, 1, w).expand(n, c, h, w);
        var cropped = padded.gather(2, rows).gather(3, columns);
        return scope.MoveToOuter(cropped);
    }

    /// <summary>
    /// How <see cref="Prepare"/> turns stored images into inputs, as text ("Bilinear|0.485,0.456,0.406|0.229,0.224,0.225"):
    /// the one description the feature cache and the precision check put in their keys.
    /// </summary>
    internal static string PreparationKey(Interpolation mode, Preprocessing p) =>
        FormattableString.Invariant($"{mode}|{string.Join(",", p.Mean)}|{string.Join(",", p.Std)}");

    /// <summary>
    /// What training and evaluation feed the network: uint8 batch → [0,1] → resized to <paramref name="size"/>
    /// → normalized with <paramref name="p"/>. Bicubic results are clamped to [0,1] before normalizing, as an
    /// 8-bit image resized by PIL would be.
    /// </summary>
    public static Tensor Prepare(Tensor uint8Batch, int size, Preprocessing p, Interpolation mode)
    {
        using var scope = torch.NewDisposeScope();
        var x = Resize(ToFloat(uint8Batch), size, mode);
        if (mode == Interpolation.Bicubic)
            x.clamp_(0.0, 1.0);
        return scope.MoveToOuter(Normalize(x, p));
    }

    /// <summary>
    /// A uint8 N×3×H×W batch of any size as a uint8 batch of <paramref name="size"/>×<paramref name="size"/>:
    /// antialiased bilinear (PIL-like when shrinking), rounded back to bytes. Prediction uses it to make a photo a
    /// CIFAR-10-sized image before <see cref="Prepare"/> treats it exactly like a training image.
    /// </summary>
    public static Tensor ResizeBytes(Tensor uint8Batch, int size)
    {
        ArgumentNullException.ThrowIfNull(uint8Batch);
        if (uint8Batch.dtype != ScalarType.Byte)
            throw new ArgumentException($"ResizeBytes expects uint8 images, got {uint8Batch.dtype}", nameof(uint8Batch));
        using var scope = torch.NewDisposeScope();
        var resized = Resize(uint8Batch.to_type(ScalarType.Float32), size, Interpolation.Bilinear, antialias: true);
        return scope.MoveToOuter(resized.round().clamp(0, 255).to_type(ScalarType.Byte));
    }
}
