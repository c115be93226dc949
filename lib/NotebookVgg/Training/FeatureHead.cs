using NotebookVgg.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Training;

/// <summary>The new layer(s) trained on cached features.</summary>
internal static class FeatureHead
{
    /// <summary>
    /// fc7: Linear(4096 → classes). pool5: the cached 512×h×w maps go through VGG's AdaptiveAvgPool2d(7),
    /// flatten (25,088 values) and Linear(25088 → classes) — what VGG's own classifier sees, while the cache holds
    /// the smaller map from before the pool.
    /// </summary>
    public static nn.Module<Tensor, Tensor> Create(FeatureCut cut, Tensor exampleFeatures, int numClasses)
    {
        ArgumentNullException.ThrowIfNull(exampleFeatures);
        return cut == FeatureCut.Fc7
            ? nn.Sequential(("fc", nn.Linear(exampleFeatures.shape[1], numClasses)))
            : nn.Sequential(("avgpool", nn.AdaptiveAvgPool2d(7)), ("flatten", nn.Flatten()), ("fc", nn.Linear(512 * 7 * 7, numClasses)));
    }
}
