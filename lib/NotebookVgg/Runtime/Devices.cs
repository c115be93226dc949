using TorchSharp;

namespace NotebookVgg.Runtime;

/// <summary>Turns the user's <c>auto|cpu|cuda</c> choice into a TorchSharp device.</summary>
internal static class Devices
{
    /// <summary>The accepted spellings, for help texts.</summary>
    public const string Choices = "auto|cpu|cuda";

    /// <summary>
    /// <c>auto</c> picks CUDA when a GPU and a CUDA build of libtorch are present, else the CPU;
    /// <c>cuda</c> (or <c>cuda:N</c>) fails clearly when no GPU is usable; <c>cpu</c> is always available.
    /// </summary>
    public static torch.Device Resolve(string? choice)
    {
        NativeRuntime.ThrowIfNotReady();
        string c = (choice ?? "auto").Trim().ToLowerInvariant();
        if (c is "" or "auto")
            return torch.cuda.is_available() ? torch.CUDA : torch.CPU;
        if (c == "cpu")
            return torch.CPU;
        if (c == "cuda" || c.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!torch.cuda.is_available())
                throw new ArgumentException(
                    $"device '{choice}': CUDA is not available (no GPU, or this build uses the CPU libtorch; build with -p:TorchBackend=cuda, see environment.md)");
            return new torch.Device(c);
        }
        throw new ArgumentException($"device '{choice}': expected one of {Choices}");
    }

    /// <summary>Number of CUDA devices libtorch can use (0 with the CPU build).</summary>
    public static int CudaDeviceCount()
    {
        NativeRuntime.ThrowIfNotReady();
        return torch.cuda.is_available() ? torch.cuda.device_count() : 0;
    }
}
