using NotebookVgg.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Transfer;

/// <summary>The new layer(s) trained on cached features, sized from the features themselves (as fastai's <c>create_head</c> takes its width from the body).</summary>
internal static class FeatureHead
{
    /// <summary>
    /// fc7: Linear(<paramref name="channels"/> → classes). pool5: the cached C×h×w maps go through VGG's AdaptiveAvgPool2d(7),
    /// flatten (C × 7 × 7 values: 25,088 for a standard VGG) and a Linear to the classes — what VGG's own classifier sees,
    /// while the cache holds the smaller map from before the pool. <paramref name="channels"/>: <see cref="Vgg.ChannelsAt"/>.
    /// </summary>
    public static nn.Module<Tensor, Tensor> Create(FeatureCut cut, long channels, int numClasses) => cut switch
    {
        FeatureCut.Fc7 => nn.Sequential(("fc", nn.Linear(channels, numClasses))),
        FeatureCut.Pool5 => nn.Sequential(("avgpool", nn.AdaptiveAvgPool2d(Vgg.PooledSize)), ("flatten", nn.Flatten()),
            ("fc", nn.Linear(channels * Vgg.PooledSize * Vgg.PooledSize, numClasses))),
        _ => throw new ArgumentOutOfRangeException(nameof(cut), cut, "unknown feature cut"),
    };
}
