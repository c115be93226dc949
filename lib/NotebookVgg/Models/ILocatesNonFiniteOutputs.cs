using static TorchSharp.torch;

namespace NotebookVgg.Models;

/// <summary>A model that can say which of its layers first produces NaN or infinite values (for error messages).</summary>
internal interface ILocatesNonFiniteOutputs
{
    /// <summary>The name of the first layer whose output for <paramref name="input"/> is not finite; null when all are.</summary>
    string? FirstNonFiniteLayer(Tensor input);
}
