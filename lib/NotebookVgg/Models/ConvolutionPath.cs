namespace NotebookVgg.Models;

/// <summary>How <see cref="Vgg"/> computes its convolutions in a forward pass.</summary>
internal enum ConvolutionPath
{
    /// <summary>Every layer through its module: libtorch's kernels (oneDNN's direct convolutions on the CPU), hooks included.</summary>
    LibTorch,

    /// <summary>
    /// 3×3 convolutions by <see cref="Winograd3x3"/> where <see cref="Winograd3x3.Pays"/> says it is faster (fp32 on an AVX2
    /// CPU, 128 input channels or more), every other layer through its module. Autograd differentiates it, so it trains too.
    /// </summary>
    WinogradWherePays,

    /// <summary>Every 3×3 convolution <see cref="Winograd3x3"/> computes, wherever it runs and however fast: for tests and the bench.</summary>
    Winograd,
}
