namespace NotebookVgg.Weights;

/// <summary>
/// How inputs must be prepared for a set of weights: RGB scaled to [0,1], then per-channel
/// (x - mean) / std, at the resolution the network was trained on. Each weights entry carries one;
/// data transforms read it from there rather than repeating the numbers.
/// </summary>
public sealed record Preprocessing(float[] Mean, float[] Std, int InputSize, int ResizeSize)
{
    /// <summary>torchvision's ImageNet preprocessing: mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225), 224 crop of a 256 resize.</summary>
    public static Preprocessing ImageNet { get; } = new([0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f], 224, 256);

    /// <summary>
    /// Pixels in [0, 1] with no mean or std (mean 0, std 1): what the tutorial's companion notebook fed VGG19
    /// (skimage's resize output), kept to reproduce it.
    /// </summary>
    public static Preprocessing Unnormalized { get; } = new([0f, 0f, 0f], [1f, 1f, 1f], 224, 256);
}
