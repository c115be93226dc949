namespace NotebookVgg.Cli.Benchmarks;

/// <summary>One layer of the VGG19 train step timed alone: its forward, and each gradient its backward computes.</summary>
/// <param name="Configuration">The layout it ran in: fp32 NCHW or fp32 channels-last (PyTorch's reference: fp32 NCHW).</param>
/// <param name="Layer">torchvision's name: features.0, avgpool, flatten, classifier.3 …</param>
/// <param name="Kind">The module's type: Conv2d, ReLU, MaxPool2d, AdaptiveAvgPool2d, Flatten, Linear, Dropout.</param>
/// <param name="Output">The output's shape, e.g. 16×64×224×224.</param>
/// <param name="ForwardSeconds">Median forward time, recording autograd's graph as training does.</param>
/// <param name="DataGradientSeconds">Median time of the gradient with respect to the layer's input alone; null for the first layer, whose input needs none in a train step.</param>
/// <param name="WeightGradientSeconds">Median time of the gradients with respect to weight and bias alone; null for layers without parameters.</param>
public sealed record LayerTiming(string Configuration, string Layer, string Kind, string Output, double ForwardSeconds,
    double? DataGradientSeconds, double? WeightGradientSeconds)
{
    /// <summary>Forward plus the gradients a train step computes.</summary>
    public double TotalSeconds => ForwardSeconds + (DataGradientSeconds ?? 0) + (WeightGradientSeconds ?? 0);
}

/// <summary>A whole train step split where a training loop sees it (medians over the timed steps; the parts need not add up to the total's median).</summary>
/// <param name="Configuration">The layout: fp32 NCHW or fp32 channels-last.</param>
/// <param name="ZeroGradSeconds">optimizer.zero_grad().</param>
/// <param name="ForwardSeconds">The model's forward and the cross-entropy loss.</param>
/// <param name="BackwardSeconds">loss.backward(): every layer's gradients, and accumulating them into the parameters' .grad.</param>
/// <param name="OptimizerSeconds">optimizer.step(): SGD with momentum over all parameters.</param>
/// <param name="TotalSeconds">The whole step.</param>
public sealed record StepTiming(string Configuration, double ZeroGradSeconds, double ForwardSeconds, double BackwardSeconds, double OptimizerSeconds, double TotalSeconds);
