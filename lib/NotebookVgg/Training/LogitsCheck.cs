using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Training;

/// <summary>
/// Catches the tutorial's classic bug: a model that already applies softmax, fed to a loss that applies
/// (log-)softmax again. Gradients then nearly vanish and training stalls without any error.
/// </summary>
public static class LogitsCheck
{
    /// <summary>
    /// True when every row of <paramref name="output"/> (N×C) lies in [0,1] and sums to 1: almost surely
    /// probabilities, not logits. (Logits can pass by chance only with C=1 or contrived values.)
    /// </summary>
    public static bool LooksLikeProbabilities(Tensor output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (output.dim() != 2 || output.shape[1] < 2)
            return false;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var o = output.detach().to_type(ScalarType.Float64);
        bool inRange = o.min().item<double>() >= 0 && o.max().item<double>() <= 1;
        bool sumsToOne = (o.sum(1) - 1).abs().max().item<double>() < 1e-4;
        return inRange && sumsToOne;
    }

    /// <summary>Throws with an explanation when <paramref name="output"/> looks like softmax output.</summary>
    public static void EnsureLogits(Tensor output, string where)
    {
        if (LooksLikeProbabilities(output))
            throw new InvalidOperationException(
                $"{where}: the model's outputs look like probabilities (each row in [0,1], summing to 1), but cross-entropy expects logits " +
                "and applies log-softmax itself; remove the final softmax (use it only to display probabilities)");
    }
}
