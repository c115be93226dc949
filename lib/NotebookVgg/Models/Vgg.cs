using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace NotebookVgg.Models;

/// <summary>
/// VGG exactly as torchvision builds it: <c>features</c> (3×3 convolutions, optional batch norm, ReLU, 2×2 max-pools),
/// <c>avgpool</c> (adaptive 7×7), <c>classifier</c> (Linear 25088→4096, ReLU, Dropout, Linear 4096→4096, ReLU, Dropout,
/// Linear 4096→classes). Parameter and buffer names are torchvision's, so state dicts move between the two unchanged.
/// </summary>
/// <remarks>
/// Built here rather than with TorchSharp's TorchVision <c>vgg19()</c>: that constructor loads a weights file itself and,
/// by default (<c>skipfc: true</c>), silently leaves the head random instead of loading it; it reads only TorchSharp's format
/// and cannot make the reduced-width networks the tests use.
/// Construction does nothing but build and initialize; loading weights, replacing the head and freezing are separate calls.
/// </remarks>
public sealed class Vgg : Module<Tensor, Tensor>, ILocatesNonFiniteOutputs
{
    /// <summary>Convolutional base: torchvision's <c>features</c>.</summary>
    public readonly Sequential features;

    /// <summary>Adaptive average pool to 7×7: torchvision's <c>avgpool</c>.</summary>
    public readonly AdaptiveAvgPool2d avgpool;

    /// <summary>Fully connected part: torchvision's <c>classifier</c> (indices 0, 3, 6 are the linear layers).</summary>
    // Not readonly: ReplaceHead swaps in a Sequential with a new classifier.6 (TorchSharp's Sequential cannot replace an item).
    public Sequential classifier;

    private Vgg(string name, VggArchitecture architecture, Sequential features, Sequential classifier) : base(name)
    {
        Architecture = architecture;
        this.features = features;
        avgpool = AdaptiveAvgPool2d(new long[] { PooledSize, PooledSize });
        this.classifier = classifier;
        RegisterComponents();
    }

    /// <summary>The side of <c>avgpool</c>'s output (7): the classifier sees <see cref="VggArchitecture.LastWidth"/> × 7 × 7 values.</summary>
    public const int PooledSize = 7;

    /// <summary>The architecture this network was built from.</summary>
    public VggArchitecture Architecture { get; }

    /// <summary>Width of fc6 and fc7 (4,096; fewer in <see cref="CreateReducedWidth"/>'s networks): the values per image at the fc7 cut.</summary>
    public long HiddenUnits => ((Linear)classifier[3]).out_features;

    /// <summary>Names accepted by <see cref="Create"/>: vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn.</summary>
    public static IReadOnlyList<string> Architectures { get; } = VggArchitecture.All.Select(a => a.Name).ToArray();

    /// <summary>Number of outputs of the head (<c>classifier.6</c>).</summary>
    public long NumClasses => Head.out_features;

    /// <summary>The head, <c>classifier.6</c>.</summary>
    public Linear Head => (Linear)classifier[6];

    /// <summary>
    /// A freshly initialized VGG as torchvision's <c>vgg19()</c> etc. makes it: convolutions Kaiming-normal (fan-out, ReLU),
    /// linear layers normal(0, 0.01), biases zero, batch norm weight 1 / bias 0. Deterministic after <c>torch.manual_seed</c>.
    /// </summary>
    public static Vgg Create(string architecture = "vgg19", int numClasses = 1000, float dropout = 0.5f) =>
        Build(VggArchitecture.Get(architecture), hiddenUnits: 4096, numClasses, dropout);

    /// <summary>
    /// A small VGG with torchvision's exact key layout: every convolution width divided by <paramref name="widthDivisor"/>
    /// (512 → 512/divisor), <paramref name="hiddenUnits"/> instead of 4096 in fc6/fc7, the same 7×7 average pool.
    /// For tests and fixtures (tests/fixtures/make_fixtures.py builds the same networks in PyTorch).
    /// </summary>
    public static Vgg CreateReducedWidth(string architecture = "vgg19", int widthDivisor = 16, int hiddenUnits = 64, int numClasses = 10, float dropout = 0.5f) =>
        Build(VggArchitecture.Get(architecture).WithWidthDivisor(widthDivisor), hiddenUnits, numClasses, dropout);

    /// <summary>Builds the network from an architecture description: torchvision's <c>make_layers</c> plus its <c>VGG.__init__</c>.</summary>
    public static Vgg Build(VggArchitecture architecture, int hiddenUnits, int numClasses, float dropout)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentOutOfRangeException.ThrowIfLessThan(numClasses, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hiddenUnits, 1);
        if (dropout is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(dropout), dropout, "dropout must be in [0, 1]");

        var features = architecture.MakeLayers();
        var classifier = Sequential(
            ("0", Linear((long)architecture.LastWidth * PooledSize * PooledSize, hiddenUnits)),
            ("1", ReLU(inplace: true)),
            ("2", Dropout(dropout)),
            ("3", Linear(hiddenUnits, hiddenUnits)),
            ("4", ReLU(inplace: true)),
            ("5", Dropout(dropout)),
            ("6", Linear(hiddenUnits, numClasses)));
        var model = new Vgg(architecture.Name, architecture, features, classifier);
        TorchvisionInit.Apply(model);
        return model;
    }

    /// <summary>
    /// Class scores (logits, N × <see cref="NumClasses"/>) for images N×3×H×W: <c>features</c>, <c>avgpool</c>, flatten,
    /// <c>classifier</c>. Intermediates are disposed; only the result is left to the caller.
    /// </summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        // call() rather than forward(): runs registered hooks (ModelSummary relies on them).
        return Classify(features.call(input)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <see cref="forward"/> with the convolutions computed as <paramref name="path"/> says. With
    /// <see cref="ConvolutionPath.WinogradWherePays"/> the layers run one by one, so hooks on <c>features</c> itself do not run.
    /// </summary>
    internal Tensor Logits(Tensor input, ConvolutionPath path)
    {
        using var scope = NewDisposeScope();
        return Classify(RunFeatures(input, path)).MoveToOuterDisposeScope();
    }

    /// <summary><c>features</c> on <paramref name="x"/>, each convolution computed as <paramref name="path"/> says.</summary>
    internal Tensor RunFeatures(Tensor x, ConvolutionPath path)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (path == ConvolutionPath.LibTorch)
            return features.call(x);
        var y = x;
        foreach (var layer in features.children())
            y = RunLayer((Module<Tensor, Tensor>)layer, y, path);
        return y;
    }

    /// <summary>One layer on <paramref name="x"/>: a convolution as <paramref name="path"/> says, any other layer through its module.</summary>
    internal static Tensor RunLayer(Module<Tensor, Tensor> layer, Tensor x, ConvolutionPath path) =>
        layer is Conv2d conv && path != ConvolutionPath.LibTorch
            && (path == ConvolutionPath.Winograd ? Winograd3x3.Computes(conv) : Winograd3x3.Pays(conv, x))
            ? Winograd3x3.Forward(conv, x)
            : layer.call(x);

    /// <summary>The rest of <see cref="forward"/> after <c>features</c>: <c>avgpool</c>, flatten, <c>classifier</c> — pool5 to logits.</summary>
    public Tensor Classify(Tensor pool5)
    {
        ArgumentNullException.ThrowIfNull(pool5);
        return classifier.call(avgpool.call(pool5).flatten(1));
    }

    /// <summary>
    /// Runs only a prefix of the network (see <see cref="FeatureCut"/>). Meant for eval mode (call <c>eval()</c> first,
    /// so dropout is off); the caller decides about <c>torch.no_grad()</c>.
    /// </summary>
    public Tensor ExtractFeatures(Tensor x, FeatureCut cut) => ExtractFeatures(x, cut, ConvolutionPath.LibTorch);

    /// <summary><see cref="ExtractFeatures(Tensor, FeatureCut)"/> with the convolutions computed as <paramref name="path"/> says.</summary>
    internal Tensor ExtractFeatures(Tensor x, FeatureCut cut, ConvolutionPath path)
    {
        ArgumentNullException.ThrowIfNull(x);
        using var scope = NewDisposeScope();
        return FromPool5(RunFeatures(x, path), cut).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// From <c>features</c>' output (pool5) on to <paramref name="cut"/>: pool5 itself, or for fc7 <c>avgpool</c>, flatten and
    /// <c>classifier.0</c> … <c>classifier.4</c> (fc6, ReLU, dropout, fc7, ReLU). The one place each cut is defined.
    /// </summary>
    public Tensor FromPool5(Tensor pool5, FeatureCut cut)
    {
        ArgumentNullException.ThrowIfNull(pool5);
        if (cut == FeatureCut.Pool5)
            return pool5;
        if (cut != FeatureCut.Fc7)
            throw new ArgumentOutOfRangeException(nameof(cut), cut, "unknown feature cut");
        var y = avgpool.call(pool5).flatten(1);
        for (int i = 0; i <= 4; i++)
            y = ((Module<Tensor, Tensor>)classifier[i]).call(y);
        return y;
    }

    /// <summary>Channels of the features at <paramref name="cut"/>, from the architecture: <see cref="HiddenUnits"/> at fc7, <see cref="VggArchitecture.LastWidth"/> at pool5.</summary>
    public long ChannelsAt(FeatureCut cut) => cut switch
    {
        FeatureCut.Fc7 => HiddenUnits,
        FeatureCut.Pool5 => Architecture.LastWidth,
        _ => throw new ArgumentOutOfRangeException(nameof(cut), cut, "unknown feature cut"),
    };

    /// <summary>
    /// Runs <paramref name="x"/> through the network layer by layer (eval mode, no gradients) and returns the name of
    /// the first layer whose output holds a NaN or an infinity (e.g. "features.10"), or null when every output is finite.
    /// </summary>
    public string? FirstNonFiniteLayer(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var y = x;
        foreach (var (name, layer) in features.named_children())
        {
            y = ((Module<Tensor, Tensor>)layer).call(y);
            if (!y.isfinite().all().item<bool>())
                return $"features.{name}";
        }
        y = avgpool.call(y).flatten(1);
        foreach (var (name, layer) in classifier.named_children())
        {
            y = ((Module<Tensor, Tensor>)layer).call(y);
            if (!y.isfinite().all().item<bool>())
                return $"classifier.{name}";
        }
        return null;
    }

    /// <summary>
    /// Replaces the head (<c>classifier.6</c>) with a new Linear(in_features → <paramref name="numClasses"/>), initialized
    /// like torchvision's (normal(0, 0.01), zero bias), trainable, on the same device and dtype as the old one. Returns it.
    /// </summary>
    public Linear ReplaceHead(int numClasses)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numClasses, 1);
        var old = Head;
        var head = Linear(old.in_features, numClasses);
        using (no_grad())
        {
            init.normal_(head.weight, 0, 0.01);
            init.zeros_(head.bias);
        }
        head.to(old.weight.device, old.weight.dtype);
        var items = Enumerable.Range(0, 6).Select(i => (i.ToString(System.Globalization.CultureInfo.InvariantCulture), (Module<Tensor, Tensor>)classifier[i])).ToList();
        items.Add(("6", head));
        var replaced = Sequential(items);
        if (!training)
            replaced.eval();
        classifier = replaced;
        // register_module refuses an existing name; the registry entry is replaced directly (same effect as
        // PyTorch's `model.classifier[6] = nn.Linear(...)`). The old Sequential is not disposed: it shares layers 0-5.
        _internal_submodules["classifier"] = replaced;
        old.Dispose();
        return head;
    }

    /// <summary>Freezes the convolutional base (<c>features.*</c>): its parameters stop requiring gradients. Returns how many parameters were frozen.</summary>
    /// <remarks>Batch-norm running statistics still update in training mode; call <c>features.eval()</c> to stop that too.</remarks>
    public long FreezeFeatures() => SetRequiresGrad(features.parameters(), false);

    /// <summary>
    /// Freezes every layer from the input up to and including <paramref name="layerName"/> (e.g. <c>"features.34"</c>,
    /// <c>"classifier.3"</c>); layers after it keep their state. Returns how many parameters were frozen.
    /// </summary>
    public long FreezeUpTo(string layerName)
    {
        ArgumentNullException.ThrowIfNull(layerName);
        var layers = LayerNames();
        int last = layers.IndexOf(layerName.Trim());
        if (last < 0)
            throw new ArgumentException($"no layer '{layerName}' in {Architecture.Name} (layers: {layers[0]} … {layers[^1]})", nameof(layerName));
        var modules = named_modules().ToDictionary(m => m.name, m => m.module);
        return SetRequiresGrad(layers.Take(last + 1).SelectMany(name => modules[name].parameters()), false);
    }

    /// <summary>Makes every parameter trainable again. Returns the number of parameters.</summary>
    public long Unfreeze() => SetRequiresGrad(parameters(), true);

    /// <summary>The layer names in forward order: features.0 … features.N, avgpool, classifier.0 … classifier.6.</summary>
    public List<string> LayerNames() =>
        features.named_children().Select(c => "features." + c.name)
            .Append("avgpool")
            .Concat(classifier.named_children().Select(c => "classifier." + c.name))
            .ToList();

    private static long SetRequiresGrad(IEnumerable<Parameter> parameters, bool requiresGrad)
    {
        long count = 0;
        foreach (var p in parameters)
        {
            p.requires_grad = requiresGrad;
            count += p.numel();
        }
        return count;
    }
}
