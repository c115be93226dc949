using System.Globalization;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace NotebookVgg.Models;

/// <summary>
/// One VGG variant as data, like torchvision's <c>cfgs</c>: the convolution widths in order, with
/// <see cref="MaxPool"/> marking each 2×2 max-pool, and whether each convolution is followed by batch norm.
/// </summary>
public sealed record VggArchitecture(string Name, IReadOnlyList<int> Layers, bool BatchNorm)
{
    /// <summary>Marks a max-pool in <see cref="Layers"/> (torchvision writes "M").</summary>
    public const int MaxPool = 0;

    // torchvision/models/vgg.py cfgs "A", "B", "D", "E" (Simonyan & Zisserman, table 1).
    private static readonly int[] A = [64, MaxPool, 128, MaxPool, 256, 256, MaxPool, 512, 512, MaxPool, 512, 512, MaxPool];
    private static readonly int[] B = [64, 64, MaxPool, 128, 128, MaxPool, 256, 256, MaxPool, 512, 512, MaxPool, 512, 512, MaxPool];
    private static readonly int[] D = [64, 64, MaxPool, 128, 128, MaxPool, 256, 256, 256, MaxPool, 512, 512, 512, MaxPool, 512, 512, 512, MaxPool];
    private static readonly int[] E = [64, 64, MaxPool, 128, 128, MaxPool, 256, 256, 256, 256, MaxPool, 512, 512, 512, 512, MaxPool, 512, 512, 512, 512, MaxPool];

    /// <summary>vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn.</summary>
    public static IReadOnlyList<VggArchitecture> All { get; } =
    [
        new("vgg11", A, false), new("vgg11_bn", A, true),
        new("vgg13", B, false), new("vgg13_bn", B, true),
        new("vgg16", D, false), new("vgg16_bn", D, true),
        new("vgg19", E, false), new("vgg19_bn", E, true),
    ];

    /// <summary>The architecture called <paramref name="name"/> (case-insensitive); throws naming the known ones.</summary>
    public static VggArchitecture Get(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return All.FirstOrDefault(a => string.Equals(a.Name, name.Trim(), StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException($"unknown VGG architecture '{name}' (known: {string.Join(", ", All.Select(a => a.Name))})", nameof(name));
    }

    /// <summary>Number of convolution layers (11/13/16/19 minus the three linear layers).</summary>
    public int ConvolutionCount => Layers.Count(v => v != MaxPool);

    /// <summary>Channels of the last convolution (512 for every standard VGG).</summary>
    public int LastWidth => Layers.Last(v => v != MaxPool);

    /// <summary>
    /// torchvision's <c>make_layers</c>: <c>features</c> as a Sequential named "0", "1", …: per width a 3×3 convolution
    /// (padding 1), batch norm if <see cref="BatchNorm"/>, ReLU; per <see cref="MaxPool"/> a 2×2 max-pool.
    /// </summary>
    public Sequential MakeLayers()
    {
        var layers = new List<(string, Module<Tensor, Tensor>)>();
        void Add(Module<Tensor, Tensor> layer) => layers.Add((layers.Count.ToString(CultureInfo.InvariantCulture), layer));
        long inChannels = 3;
        foreach (int v in Layers)
        {
            if (v == MaxPool)
            {
                Add(MaxPool2d(kernel_size: 2, stride: 2));
                continue;
            }
            Add(Conv2d(inChannels, v, kernel_size: 3, padding: 1));
            if (BatchNorm)
                Add(BatchNorm2d(v));
            Add(ReLU(inplace: true));
            inChannels = v;
        }
        return Sequential(layers);
    }

    /// <summary>This architecture with every convolution width divided by <paramref name="divisor"/> (for small test networks).</summary>
    public VggArchitecture WithWidthDivisor(int divisor)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(divisor, 1);
        if (Layers.Any(v => v != MaxPool && v % divisor != 0))
            throw new ArgumentException($"width divisor {divisor} does not divide every width of {Name}", nameof(divisor));
        return this with { Layers = Layers.Select(v => v == MaxPool ? MaxPool : v / divisor).ToArray() };
    }
}
