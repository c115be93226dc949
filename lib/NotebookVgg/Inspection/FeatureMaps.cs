using Microsoft.Data.Analysis;
using NotebookVgg.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NotebookVgg.Inspection;

/// <summary>One layer's output for one image: <see cref="Output"/> is 1×C×H×W float32 on the CPU.</summary>
/// <param name="Layer">The layer's name, e.g. <c>features.3</c>.</param>
/// <param name="Block">The convolution block the layer belongs to, 1 for the first (the layers up to and including its max-pool).</param>
/// <param name="Output">The layer's output, a copy that later layers cannot change (VGG's ReLUs work in place).</param>
public sealed record LayerOutput(string Layer, int Block, Tensor Output)
{
    /// <summary>Channels of the output.</summary>
    public long Channels => Output.shape[1];

    /// <summary>The side of the output's square map (its height).</summary>
    public long Side => Output.shape[2];
}

/// <summary>
/// What the convolutional part of a VGG computes, made visible: the first layer's filters, and the outputs of chosen
/// layers for one image. Works for every VGG (vgg11 … vgg19_bn, reduced widths too): block boundaries are read from the
/// network's own layers, not assumed.
/// </summary>
public static class FeatureMaps
{
    /// <summary>
    /// The filters of the first convolution (<c>features.0</c>): C×3×3×3 for C filters of 3×3 pixels in 3 colours, float32 on
    /// the CPU, each filter min-max normalised on its own to [0, 1] so that it can be drawn as a tiny RGB image (bright: a
    /// large positive weight for that colour at that position). A filter whose weights are all equal is drawn mid-grey.
    /// </summary>
    public static Tensor FirstLayerFilters(Vgg model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var first = model.features.children().OfType<Conv2d>().FirstOrDefault()
            ?? throw new ArgumentException("the network has no convolution in features", nameof(model));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var w = first.weight!.detach().to(CPU).to_type(ScalarType.Float32);
        var flat = w.flatten(1);
        var low = flat.amin([1], keepdim: true);
        var range = flat.amax([1], keepdim: true) - low;
        var normalised = where(range > 0, (flat - low) / range.clamp_min(1e-12), full_like(flat, 0.5));
        return normalised.view(w.shape).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The name of the layer that ends each convolution block, in order (block 1 first): the ReLU just before each
    /// max-pool (the block's last activation, at the block's full resolution), or with <paramref name="afterPool"/> the
    /// max-pool itself (half the side). vgg19: features.3, 8, 17, 26, 35 (pools: 4, 9, 18, 27, 36); vgg11: features.1, 4,
    /// 9, 14, 19.
    /// </summary>
    public static IReadOnlyList<string> BlockEnds(Vgg model, bool afterPool = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        var ends = new List<string>();
        string? previous = null;
        foreach (var (name, layer) in model.features.named_children())
        {
            if (layer is MaxPool2d)
                ends.Add(afterPool ? $"features.{name}" : previous ?? throw new InvalidOperationException("a max-pool before any layer"));
            previous = $"features.{name}";
        }
        return ends;
    }

    /// <summary>
    /// Runs one prepared image (3×H×W or 1×3×H×W, normalised as the weights expect: <c>ImageTransforms.Prepare</c>) through
    /// <c>features</c>, layer by layer, in eval mode and without gradients, and returns the outputs of
    /// <paramref name="layerNames"/> (e.g. <c>features.3</c>; see <see cref="BlockEnds"/>) in the order asked. Stops after the
    /// last layer asked for. The model's training/eval mode is restored afterwards.
    /// </summary>
    /// <exception cref="ArgumentException">A name that is not a layer of <c>features</c>, or an image of another shape.</exception>
    public static IReadOnlyList<LayerOutput> After(Vgg model, Tensor preparedImage, params string[] layerNames)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(preparedImage);
        ArgumentNullException.ThrowIfNull(layerNames);
        if (layerNames.Length == 0)
            throw new ArgumentException("name at least one layer, e.g. FeatureMaps.BlockEnds(model)", nameof(layerNames));
        var x = preparedImage.dim() == 3 ? preparedImage.unsqueeze(0) : preparedImage.alias();
        if (x.dim() != 4 || x.shape[0] != 1 || x.shape[1] != 3 || !x.is_floating_point())
            throw new ArgumentException($"expected one prepared float image, 3×H×W or 1×3×H×W; got {x.dtype} [{string.Join("×", preparedImage.shape)}]",
                nameof(preparedImage));

        var layers = model.features.named_children().ToList();
        var index = layers.Select((l, i) => (name: $"features.{l.name}", i)).ToDictionary(t => t.name, t => t.i);
        foreach (string name in layerNames)
        {
            if (!index.ContainsKey(name))
                throw new ArgumentException($"'{name}' is not a layer of {model.Architecture.Name}'s features (features.0 … features.{layers.Count - 1}; " +
                    $"block ends: {string.Join(", ", BlockEnds(model))})", nameof(layerNames));
        }
        int last = layerNames.Max(n => index[n]);
        var blockOf = BlockNumbers(layers.Select(l => l.module));

        bool wasTraining = model.training;
        model.eval();
        var captured = new Dictionary<string, Tensor>();
        try
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var device = model.features.parameters().First().device;
            var y = x.to(device).to_type(ScalarType.Float32);
            for (int i = 0; i <= last; i++)
            {
                y = ((nn.Module<Tensor, Tensor>)layers[i].module).call(y);
                string name = $"features.{layers[i].name}";
                if (layerNames.Contains(name))
                    captured[name] = y.to(CPU).clone().contiguous().MoveToOuterDisposeScope();
            }
        }
        finally
        {
            x.Dispose();
            if (wasTraining)
                model.train();
        }
        return [.. layerNames.Select(n => new LayerOutput(n, blockOf[index[n]], captured[n]))];
    }

    /// <summary>
    /// The mean over channels of a layer output (1×C×H×W or C×H×W): one H×W map, where a bright place is one many of
    /// the layer's filters respond to.
    /// </summary>
    public static Tensor ChannelMean(Tensor output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var map = output.dim() == 4 ? output[0] : output;
        return map.mean([0]);
    }

    /// <summary>
    /// Where a layer of <c>features</c> sits on its input image, read from the layers up to it: <c>Stride</c>, the input
    /// pixels between neighbouring cells of its map (each max-pool multiplies it by its stride), and
    /// <c>ReceptiveField</c>, the side of the square of input pixels one cell depends on (each k×k convolution or pool adds
    /// (k − 1)·stride of the layers before it). vgg19: features.3 (1, 5), features.17 (4, 48), features.35 (16, 252).
    /// </summary>
    /// <exception cref="ArgumentException">A name that is not a layer of <c>features</c>.</exception>
    public static (int Stride, int ReceptiveField) Geometry(Vgg model, string layerName)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(layerName);
        int stride = 1, field = 1;
        foreach (var (name, layer) in model.features.named_children())
        {
            (long kernel, long step) = layer switch
            {
                Conv2d conv => (conv.weight!.shape[2], conv.stride[0]),
                MaxPool2d pool => (pool.kernel_size[0], pool.stride?[0] ?? pool.kernel_size[0]),
                _ => (1L, 1L),
            };
            field += (int)(kernel - 1) * stride;
            stride *= (int)step;
            if ($"features.{name}" == layerName)
                return (stride, field);
        }
        throw new ArgumentException($"{layerName} is not a layer of features", nameof(layerName));
    }

    /// <summary>
    /// A table comparing the same layers for two inputs (e.g. one image prepared at 32×32 and at 224×224): per layer, the
    /// map's side for each input and the share of the map's values the ReLU left above zero; given the
    /// <paramref name="model"/>, also each layer's stride and receptive field in input pixels (<see cref="Geometry"/>), the
    /// same for both inputs. <paramref name="a"/> and <paramref name="b"/> hold the same layers in the same order
    /// (<see cref="After"/> twice).
    /// </summary>
    public static DataFrame Compare(IReadOnlyList<LayerOutput> a, string aName, IReadOnlyList<LayerOutput> b, string bName,
        Vgg? model = null)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Count != b.Count || a.Zip(b).Any(p => p.First.Layer != p.Second.Layer))
            throw new ArgumentException("compare the same layers: call After with the same layer names for both inputs");
        static double Active(Tensor t) => t.gt(0).to_type(ScalarType.Float32).mean().item<float>();
        string Side(LayerOutput o) => $"{o.Side}×{o.Side}";
        var table = new DataFrame(
            new StringDataFrameColumn("layer", a.Select(o => o.Layer)),
            new Int32DataFrameColumn("block", a.Select(o => o.Block)),
            new Int64DataFrameColumn("channels", a.Select(o => o.Channels)),
            new StringDataFrameColumn($"map, {aName}", a.Select(Side)),
            new StringDataFrameColumn($"map, {bName}", b.Select(Side)),
            new DoubleDataFrameColumn($"share > 0, {aName}", a.Select(o => Math.Round(Active(o.Output), 3))),
            new DoubleDataFrameColumn($"share > 0, {bName}", b.Select(o => Math.Round(Active(o.Output), 3))));
        if (model is not null)
        {
            var geometry = a.Select(o => Geometry(model, o.Layer)).ToList();
            table.Columns.Add(new Int32DataFrameColumn("stride, input px", geometry.Select(g => g.Stride)));
            table.Columns.Add(new Int32DataFrameColumn("receptive field, input px", geometry.Select(g => g.ReceptiveField)));
        }
        return table;
    }

    /// <summary>The block (1-based) of each layer of <c>features</c>: a block ends with its max-pool.</summary>
    private static int[] BlockNumbers(IEnumerable<nn.Module> layers)
    {
        var blocks = new List<int>();
        int block = 1;
        foreach (var layer in layers)
        {
            blocks.Add(block);
            if (layer is MaxPool2d)
                block++;
        }
        return [.. blocks];
    }
}
