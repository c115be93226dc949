using NotebookVgg.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NotebookVgg.Models;

/// <summary>
/// VGG's 3×3 convolutions (stride 1, padding 1) by Winograd's minimal filtering F(4×4, 3×3) (Lavin and Gray, "Fast
/// Algorithms for Convolutional Neural Networks", CVPR 2016, arXiv:1509.09308): each 6×6 input tile and each 3×3 filter
/// are transformed, multiplied element-wise (summed over input channels: 36 matrix products), and transformed back into
/// a 4×4 output tile — 36 multiplications where the direct method does 144, at the cost of the transforms.
/// </summary>
/// <remarks>
/// Written here because libtorch has no cheaper algorithm for fp32 on AVX2 CPUs: oneDNN's Winograd kernels need AVX-512
/// and NNPACK is not in libtorch's CPU build. It is composed of libtorch operations (the transforms are small matrix
/// products with the Kronecker products of the 1-D transforms, the 36 products one batched sgemm), so it runs on any
/// device and autograd differentiates it: a training step's gradients are 36 products as well. <see cref="Pays"/> says
/// where it is faster than oneDNN's direct kernels.
/// Numerics: relative L2 error against the direct convolution about 2e-6 per layer in fp32 (WinogradTests).
/// </remarks>
internal static class Winograd3x3
{
    /// <summary>
    /// The fewest input channels for which the transforms pay: measured held to AVX2 on a Zen 4 (batch 64, 2 threads), a
    /// layer with 64 input channels ran 0.65–0.88× the direct kernel's speed, with 128 1.1–1.25×, with 256 and 512 1.2–1.6×.
    /// </summary>
    public const long MinInputChannels = 128;

    /// <summary>The most bytes the transformed tiles of one chunk of images take by default (their products as many).</summary>
    public const long DefaultChunkBytes = 64L << 20;

    // Lavin and Gray's F(4×4, 3×3) matrices: B^T (input), G (filter), A^T (output).
    private static readonly double[] InputTransform =
    [
        4, 0, -5, 0, 1, 0,
        0, -4, -4, 1, 1, 0,
        0, 4, -4, -1, 1, 0,
        0, -2, -1, 2, 1, 0,
        0, 2, -1, -2, 1, 0,
        0, 4, 0, -5, 0, 1,
    ];

    private static readonly double[] FilterTransform =
    [
        1 / 4.0, 0, 0,
        -1 / 6.0, -1 / 6.0, -1 / 6.0,
        -1 / 6.0, 1 / 6.0, -1 / 6.0,
        1 / 24.0, 1 / 12.0, 1 / 6.0,
        1 / 24.0, -1 / 12.0, 1 / 6.0,
        0, 0, 1,
    ];

    private static readonly double[] OutputTransform =
    [
        1, 1, 1, 1, 1, 0,
        0, 1, -1, 2, -2, 0,
        0, 1, 1, 4, 4, 0,
        0, 1, -1, 8, -8, 1,
    ];

    // The 2-D transforms of a flattened tile, M ⊗ M (X' = M X N^T is vec(X') = (M ⊗ N) vec(X) for row-major vec):
    // [36, 36] for input tiles, [36, 9] for filters, [16, 36] for output tiles. Made once, outside any dispose scope.
    private static readonly Lazy<(Tensor Input, Tensor Filter, Tensor Output)> Transforms = new(() =>
    {
        static Tensor Kron(double[] m, long rows, long columns)
        {
            using var one = tensor(m, [rows, columns], ScalarType.Float64);
            using var two = kron(one, one);
            return two.to_type(ScalarType.Float32).DetachFromDisposeScope();
        }
        return (Kron(InputTransform, 6, 6), Kron(FilterTransform, 6, 3), Kron(OutputTransform, 4, 6));
    });

    /// <summary>True for a convolution this class computes: 3×3, stride 1, padding 1, no dilation or groups.</summary>
    public static bool Computes(Conv2d conv)
    {
        ArgumentNullException.ThrowIfNull(conv);
        return !conv.transposed && conv.kernel_size is [3, 3] && conv.stride is [1, 1] && conv.padding_type is null
            && conv.padding is [1, 1] && conv.dilation is [1, 1] && conv.groups == 1 && conv.padding_mode == TorchSharp.PaddingModes.Zeros;
    }

    /// <summary>
    /// True where this class is faster than libtorch's own kernel for <paramref name="conv"/> on <paramref name="x"/>: fp32
    /// on a CPU whose kernels are AVX2 (with AVX-512, oneDNN's direct kernels are 1.3–3× faster than these products), and
    /// at least <see cref="MinInputChannels"/> input channels.
    /// </summary>
    public static bool Pays(Conv2d conv, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        return Computes(conv) && conv.in_channels >= MinInputChannels && x.dim() == 4 && x.dtype == ScalarType.Float32
            && x.device_type == DeviceType.CPU && CpuSpeed.Isa.Effective == CpuIsa.Avx2;
    }

    /// <summary>The convolution of <paramref name="x"/> (N×C×H×W) with <paramref name="conv"/>'s weight and bias, as N×C'×H×W.</summary>
    public static Tensor Forward(Conv2d conv, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(conv);
        if (!Computes(conv))
            throw new ArgumentException($"Winograd F(4×4, 3×3) computes 3×3 convolutions with stride 1 and padding 1, not {conv.GetName()}", nameof(conv));
        return Forward(x, conv.weight!, conv.bias);
    }

    /// <summary>
    /// The 3×3 convolution (stride 1, padding 1) of <paramref name="x"/> with <paramref name="weight"/> (C'×C×3×3) plus
    /// <paramref name="bias"/>: N×C'×H×W, laid out channels-last. Fastest for channels-last input.
    /// </summary>
    /// <param name="x">The input, N×C×H×W.</param>
    /// <param name="weight">The filters, C'×C×3×3.</param>
    /// <param name="bias">C' values added to every output pixel, or null.</param>
    /// <param name="chunkBytes">How many bytes of transformed tiles a chunk of images may take (at least one image per chunk).</param>
    public static Tensor Forward(Tensor x, Tensor weight, Tensor? bias, long chunkBytes = DefaultChunkBytes)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weight);
        if (x.dim() != 4 || weight.dim() != 4 || weight.shape[2] != 3 || weight.shape[3] != 3 || weight.shape[1] != x.shape[1])
            throw new ArgumentException($"a 3×3 convolution of {string.Join('×', x.shape)} with weights {string.Join('×', weight.shape)}", nameof(weight));
        using var scope = NewDisposeScope();
        var (inputT, filterT, outputT) = Transforms.Value;
        if (inputT.device != x.device)
            (inputT, filterT, outputT) = (inputT.to(x.device), filterT.to(x.device), outputT.to(x.device));
        long n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3], co = weight.shape[0];
        long th = (h + 3) / 4, tw = (w + 3) / 4;

        // Everything runs channels-last (channels innermost), as VGG's inference does: the copies below then move whole
        // rows of channels, and the next max-pool gets the layout libtorch pools fast (NCHW pooling is ~10× slower).
        // U[ξ] = (G g G^T)[ξ] for the 36 positions ξ of a tile, as 36 × C × C'.
        var u = filterT.mm(weight.reshape(co * c, 9).t()).view(36, co, c).transpose(1, 2);
        // Zero-padded so that 6×6 tiles every 4 pixels cover the output.
        var padded = nn.functional.pad(x, [1, 1 + 4 * tw - w, 1, 1 + 4 * th - h]);
        var y = empty([n, 4 * th, 4 * tw, co], dtype: x.dtype, device: x.device);
        // A few images at a time: the transformed tiles are 2.25× the input, and buffers of tens of MB are reused by
        // malloc from one chunk and layer to the next, where whole-batch ones (hundreds of MB) page-faulted anew.
        long perImage = th * tw * 36 * Math.Max(c, co) * sizeof(float);
        long chunk = Math.Clamp(chunkBytes / perImage, 1, n);
        for (long i0 = 0; i0 < n; i0 += chunk)
        {
            using var step = NewDisposeScope();
            long nc = Math.Min(chunk, n - i0), p = nc * th * tw;
            // The chunk's tiles, 36 × (P tiles · C); V[ξ] = (B^T d B)[ξ], 36 × P × C; the products M[ξ] = V[ξ] U[ξ], 36 × P × C'.
            var tiles = padded.narrow(0, i0, nc).unfold(2, 6, 4).unfold(3, 6, 4).permute(4, 5, 0, 2, 3, 1).reshape(36, p * c);
            var v = inputT.mm(tiles).view(36, p, c);
            var m = v.bmm(u).view(36, p * co);
            // Y = A^T M A: 4×4 output tiles, written in place into N × 4·th × 4·tw × C'.
            y.narrow(0, i0, nc).view(nc, th, 4, tw, 4, co).copy_(outputT.mm(m).view(4, 4, nc, th, tw, co).permute(2, 3, 0, 4, 1, 5));
        }
        if (bias is not null)
            y.add_(bias);
        y = y.permute(0, 3, 1, 2);
        if (4 * th != h || 4 * tw != w)
            y = y[.., .., ..(int)h, ..(int)w];
        return y.MoveToOuterDisposeScope();
    }
}
