namespace NotebookVgg.Models;

/// <summary>
/// Where <see cref="Vgg.ExtractFeatures(TorchSharp.torch.Tensor, FeatureCut)"/> stops, named as the authors' released Caffe models name the layers (conv5_4, pool5, fc6, fc7, fc8; the paper itself writes FC-4096);
/// each name says what a feature cache holds.
/// </summary>
public enum FeatureCut
{
    /// <summary>
    /// The output of <c>features</c>: the last convolution block after its max-pool, 512 × (size/32)² values per image
    /// (512 at 32×32, 25,088 at 224). Not yet through <c>avgpool</c>: the head applies it, so the cache stays small.
    /// </summary>
    Pool5,

    /// <summary>After <c>classifier.0</c> … <c>classifier.4</c> (fc6, ReLU, dropout, fc7, ReLU): 4,096 values per image.</summary>
    Fc7,
}
