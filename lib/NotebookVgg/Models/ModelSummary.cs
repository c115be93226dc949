using System.Globalization;
using System.Text;
using Microsoft.Data.Analysis;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NotebookVgg.Models;

/// <summary>One layer of a <see cref="ModelSummary"/>.</summary>
/// <param name="Name">Dotted module name, as in the state dict (<c>features.0</c>).</param>
/// <param name="Kind">Module type (<c>Conv2d</c>, <c>ReLU</c>, …).</param>
/// <param name="OutputShape">Output shape for the summary's input (batch first).</param>
/// <param name="Parameters">Parameters the layer itself holds (buffers such as batch-norm statistics excluded).</param>
/// <param name="Trainable">True if all its parameters require gradients, false if all are frozen, null if it has none (or a mix).</param>
/// <param name="Macs">Multiply-accumulates for the whole batch: Conv2d = output elements × in_channels/groups × kernel area; Linear = output elements × in_features; 0 for everything else.</param>
public sealed record LayerSummary(string Name, string Kind, long[] OutputShape, long Parameters, bool? Trainable, long Macs)
{
    /// <summary>The output shape as text, e.g. <c>1×64×224×224</c>.</summary>
    public string OutputShapeText => string.Join("×", OutputShape.Select(d => d.ToString(CultureInfo.InvariantCulture)));
}

/// <summary>
/// Per-layer table of a network for one input size: name, kind, output shape, parameters, trainable or frozen,
/// multiply-accumulates (MACs). MACs count only convolutions and linear layers (the convention of torchvision's
/// published "GFLOPS" figures, which are in fact MACs): VGG19 at 224×224 is 19.63 G, of which features 19.51 G.
/// Pooling, ReLU, batch norm, dropout and bias additions are not counted.
/// </summary>
public sealed record ModelSummary(string Model, int InputSize, int Batch, IReadOnlyList<LayerSummary> Layers)
{
    /// <summary>All parameters of the model (each counted once).</summary>
    public long TotalParameters { get; init; }

    /// <summary>Parameters that require gradients.</summary>
    public long TrainableParameters { get; init; }

    /// <summary>Parameters that do not (frozen).</summary>
    public long FrozenParameters => TotalParameters - TrainableParameters;

    /// <summary>Sum of <see cref="LayerSummary.Macs"/>.</summary>
    public long TotalMacs => Layers.Sum(l => l.Macs);

    /// <summary>MACs of the layers whose name starts with <paramref name="prefix"/> (e.g. <c>"features"</c>).</summary>
    public long MacsUnder(string prefix) =>
        Layers.Where(l => l.Name == prefix || l.Name.StartsWith(prefix + ".", StringComparison.Ordinal)).Sum(l => l.Macs);

    /// <summary>
    /// Runs one forward pass of zeros (<paramref name="batch"/>×3×<paramref name="inputSize"/>², eval mode, no grad) and records
    /// every leaf module's output, in execution order. The model's training mode is restored afterwards.
    /// </summary>
    public static ModelSummary Of(nn.Module model, int inputSize, int batch = 1)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(inputSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        if (model is not nn.Module<Tensor, Tensor> runnable)
            throw new ArgumentException($"model {model.GetName()}: expected a module mapping one tensor to one tensor", nameof(model));

        var leaves = model.named_modules().Where(m => !m.module.named_children().Any() && m.name.Length > 0).ToList();
        var outputs = new Dictionary<string, long[]>();
        var callOrder = new List<string>(); // rows follow execution order, not registration order
        var handles = new List<nn.HookableModule<Func<nn.Module<Tensor, Tensor>, Tensor, Tensor>, Func<nn.Module<Tensor, Tensor>, Tensor, Tensor, Tensor>>.HookRemover>();
        foreach (var (name, module) in leaves)
        {
            if (module is nn.Module<Tensor, Tensor> leaf)
                handles.Add(leaf.register_forward_hook((_, _, output) =>
                {
                    if (outputs.TryAdd(name, output.shape))
                        callOrder.Add(name);
                    return output;
                }));
        }

        bool wasTraining = model.training;
        var device = model.parameters().FirstOrDefault()?.device ?? CPU;
        var dtype = model.parameters().FirstOrDefault()?.dtype ?? ScalarType.Float32;
        try
        {
            model.eval();
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            runnable.call(zeros(new long[] { batch, 3, inputSize, inputSize }, dtype, device));
        }
        finally
        {
            foreach (var h in handles)
                h.remove();
            model.train(wasTraining);
        }

        var layers = new List<LayerSummary>();
        var byName = leaves.ToDictionary(l => l.name, l => l.module);
        foreach (string name in callOrder)
        {
            var module = byName[name];
            var shape = outputs[name];
            var ps = module.parameters().ToList();
            bool? trainable = ps.Count == 0 ? null
                : ps.All(p => p.requires_grad) ? true
                : ps.All(p => !p.requires_grad) ? false : null;
            layers.Add(new LayerSummary(name, module.GetType().Name, shape, ps.Sum(p => p.numel()), trainable, Macs(module, shape)));
        }
        var all = model.parameters().ToList();
        return new ModelSummary(model.GetName(), inputSize, batch, layers)
        {
            TotalParameters = all.Sum(p => p.numel()),
            TrainableParameters = all.Where(p => p.requires_grad).Sum(p => p.numel()),
        };
    }

    private static long Macs(nn.Module module, long[] outputShape)
    {
        long outputs = outputShape.Aggregate(1L, (a, b) => a * b);
        return module switch
        {
            Conv2d conv => outputs * (conv.in_channels / conv.groups) * conv.kernel_size.Aggregate(1L, (a, b) => a * b),
            Linear linear => outputs * linear.in_features,
            _ => 0,
        };
    }

    /// <summary>The rows as a DataFrame (columns Name, Kind, OutputShape, Parameters, Trainable, MACs) for notebooks.</summary>
    public DataFrame ToDataFrame()
    {
        var trainable = new BooleanDataFrameColumn("Trainable", Layers.Count);
        for (int i = 0; i < Layers.Count; i++)
            trainable[i] = Layers[i].Trainable;
        return new DataFrame(
            new StringDataFrameColumn("Name", Layers.Select(l => l.Name)),
            new StringDataFrameColumn("Kind", Layers.Select(l => l.Kind)),
            new StringDataFrameColumn("OutputShape", Layers.Select(l => l.OutputShapeText)),
            new Int64DataFrameColumn("Parameters", Layers.Select(l => l.Parameters)),
            trainable,
            new Int64DataFrameColumn("MACs", Layers.Select(l => l.Macs)));
    }

    /// <summary>
    /// The same rows, shorter, for reading: the layers of <c>features</c> grouped into blocks (each block ends at its
    /// max-pool: "features.0–4"), every other layer on its own row — so VGG's classifier fits on the first page of a
    /// notebook's table. Parameters with thousands separators, MACs in millions or billions (M, G).
    /// </summary>
    public DataFrame ByBlock()
    {
        var rows = new List<(string Name, string Kind, string Shape, long Parameters, long Macs)>();
        var block = new List<LayerSummary>();
        int blocks = 0;
        var lastFeature = Layers.LastOrDefault(l => l.Name.StartsWith("features.", StringComparison.Ordinal));
        foreach (var layer in Layers)
        {
            if (!layer.Name.StartsWith("features.", StringComparison.Ordinal))
            {
                rows.Add((layer.Name, layer.Kind, layer.OutputShapeText, layer.Parameters, layer.Macs));
                continue;
            }
            block.Add(layer);
            if (layer.Kind != nameof(MaxPool2d) && !ReferenceEquals(layer, lastFeature))
                continue;
            int convs = block.Count(l => l.Kind == nameof(Conv2d));
            string first = block[0].Name["features.".Length..], last = block[^1].Name["features.".Length..];
            string kinds = string.Join(", ", block.GroupBy(l => l.Kind).Select(g => g.Count() == 1 ? g.Key : $"{g.Count()} {g.Key}"));
            rows.Add(($"features.{first}–{last} (block {++blocks}, {convs} conv)", kinds, block[^1].OutputShapeText,
                block.Sum(l => l.Parameters), block.Sum(l => l.Macs)));
            block.Clear();
        }
        return new DataFrame(
            new StringDataFrameColumn("layers", rows.Select(r => r.Name)),
            new StringDataFrameColumn("kind", rows.Select(r => r.Kind)),
            new StringDataFrameColumn("output shape", rows.Select(r => r.Shape)),
            new StringDataFrameColumn("parameters", rows.Select(r => r.Parameters.ToString("N0", CultureInfo.InvariantCulture))),
            new StringDataFrameColumn("MACs", rows.Select(r => FormatMacs(r.Macs))));
    }

    /// <summary>"1.85 G", "102.8 M", "40,960" or "" (none): multiply-accumulates for reading.</summary>
    public static string FormatMacs(long macs) => macs switch
    {
        0 => "",
        >= 1_000_000_000 => (macs / 1e9).ToString("0.00", CultureInfo.InvariantCulture) + " G",
        >= 1_000_000 => (macs / 1e6).ToString("0.0", CultureInfo.InvariantCulture) + " M",
        _ => macs.ToString("N0", CultureInfo.InvariantCulture),
    };

    /// <summary>A fixed-width text table with totals, for the CLI.</summary>
    public string ToText()
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        int nameWidth = Math.Max(5, Layers.Count == 0 ? 0 : Layers.Max(l => l.Name.Length));
        int kindWidth = Math.Max(4, Layers.Count == 0 ? 0 : Layers.Max(l => l.Kind.Length));
        int shapeWidth = Math.Max(12, Layers.Count == 0 ? 0 : Layers.Max(l => l.OutputShapeText.Length));
        string Row(string n, string k, string s, string p, string t, string m) =>
            $"{n.PadRight(nameWidth)}  {k.PadRight(kindWidth)}  {s.PadRight(shapeWidth)}  {p,13}  {t,-9}  {m,16}";
        sb.AppendLine(c, $"{Model} at {InputSize}×{InputSize}, batch {Batch}");
        sb.AppendLine(Row("layer", "kind", "output shape", "parameters", "trainable", "MACs"));
        foreach (var l in Layers)
        {
            string t = l.Trainable switch { true => "yes", false => "frozen", null => "" };
            sb.AppendLine(Row(l.Name, l.Kind, l.OutputShapeText, l.Parameters == 0 ? "" : l.Parameters.ToString("N0", c), t, l.Macs == 0 ? "" : l.Macs.ToString("N0", c)));
        }
        sb.AppendLine(c, $"parameters: {TotalParameters:N0} ({TrainableParameters:N0} trainable, {FrozenParameters:N0} frozen)");
        sb.AppendLine(c, $"MACs: {TotalMacs:N0} ({TotalMacs / 1e9:0.00} G; convolutions and linear layers only)");
        return sb.ToString();
    }
}
