using NotebookVgg.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NotebookVgg.Inspection;

/// <summary>
/// Grad-CAM maps of a batch of images, and what the network predicted for them in the same fp32 forward pass.
/// Disposing it disposes <see cref="Maps"/>.
/// </summary>
/// <param name="Maps">N×S×S float32 on the CPU, in [0, 1], at the network's input size S (a map of zeros stays zeros).</param>
/// <param name="Classes">The class each map explains.</param>
/// <param name="Predicted">The class with the highest logit, per image.</param>
/// <param name="Probabilities">Softmax of the logits, per image.</param>
/// <param name="TargetLayer">The layer whose output the maps are made from, e.g. "features.35".</param>
/// <param name="ActivationShape">That output's size per image: channels, height, width (the map's resolution before upsampling).</param>
public sealed record ClassActivationMaps(Tensor Maps, int[] Classes, int[] Predicted, float[][] Probabilities, string TargetLayer,
    long[] ActivationShape) : IDisposable
{
    /// <summary>The probability of image <paramref name="index"/>'s predicted class.</summary>
    public float PredictedProbability(int index) => Probabilities[index][Predicted[index]];

    /// <summary>
    /// The runner-up of image <paramref name="index"/>: the class with the second highest probability (the lower class index
    /// on a tie), or the predicted class when there is only one class.
    /// </summary>
    public int RunnerUp(int index)
    {
        var p = Probabilities[index];
        int best = Predicted[index], second = -1;
        for (int c = 0; c < p.Length; c++)
            if (c != best && (second < 0 || p[c] > p[second]))
                second = c;
        return second < 0 ? best : second;
    }

    /// <summary>Disposes <see cref="Maps"/>.</summary>
    public void Dispose() => Maps.Dispose();
}

/// <summary>
/// Grad-CAM (R. R. Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based Localization",
/// ICCV 2017) on a VGG: where in the image is the evidence for one class?
/// </summary>
/// <remarks>
/// The target layer is the last convolution block's output before its max-pool (the ReLU after conv5_4, torchvision's
/// <c>features.35</c> in vgg19). With A_k its channels and y_c the class's logit (before the softmax):
/// w_k = spatial mean of ∂y_c/∂A_k; CAM = ReLU(Σ_k w_k A_k), upsampled bilinearly (align_corners = false) to the input
/// size and divided by its maximum. A map that is zero everywhere (no positive evidence) stays zero.
/// Computed in fp32 in eval mode (dropout off, batch norm on its running statistics); the model's training mode is restored
/// afterwards, and its parameters' <c>requires_grad</c> and <c>.grad</c> are never touched (the gradient is taken with
/// <c>torch.autograd.grad</c> with respect to the activation only).
/// </remarks>
public static class GradCam
{
    // Images per forward/backward pass: bounds memory at 224×224 without changing any result.
    private const int ChunkSize = 16;

    /// <summary>
    /// Index in <paramref name="features"/> of the Grad-CAM target: the layer just before the final max-pool (in a VGG the
    /// ReLU after the last convolution), read from the network's own layers so that it is right for every VGG variant.
    /// </summary>
    public static int TargetLayerIndex(Sequential features)
    {
        ArgumentNullException.ThrowIfNull(features);
        var layers = features.children().ToList();
        int lastPool = layers.FindLastIndex(layer => layer is MaxPool2d);
        if (lastPool < 1)
            throw new ArgumentException($"features has no max-pool after a convolution block ({layers.Count} layers)", nameof(features));
        return lastPool - 1;
    }

    /// <summary>
    /// Grad-CAM for a whole <see cref="Vgg"/> on prepared (resized, normalized) float N×3×S×S images: for each image the
    /// map of <paramref name="classes"/>[i], or of its predicted class when <paramref name="classes"/> is null.
    /// </summary>
    public static ClassActivationMaps Compute(Vgg model, Tensor input, IReadOnlyList<int>? classes = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Compute(model, model.features, pool5 => model.classifier.call(model.avgpool.call(pool5).flatten(1)), input, classes);
    }

    /// <summary>
    /// Grad-CAM for any network that starts with a VGG's <paramref name="features"/>: <paramref name="afterFeatures"/>
    /// takes their output (pool5) to the logits. <paramref name="model"/> is the whole network: it is put in eval mode for
    /// the call and its modules' training flags are restored afterwards.
    /// </summary>
    public static ClassActivationMaps Compute(nn.Module model, Sequential features, Func<Tensor, Tensor> afterFeatures, Tensor input,
        IReadOnlyList<int>? classes = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(afterFeatures);
        ArgumentNullException.ThrowIfNull(input);
        if (input.dim() != 4 || input.shape[1] != 3 || !input.is_floating_point())
            throw new ArgumentException($"Grad-CAM expects prepared float N×3×S×S images, got {input.dtype} [{string.Join("×", input.shape)}]", nameof(input));
        int count = (int)input.shape[0];
        if (classes is not null && classes.Count != count)
            throw new ArgumentException($"{classes.Count} classes for {count} images", nameof(classes));

        int target = TargetLayerIndex(features);
        var layers = features.children().Cast<nn.Module<Tensor, Tensor>>().ToList();
        // named_modules is pre-order (the model itself first), so restoring in this order leaves every module as it was
        // even though train() also sets the module's children.
        var trainingFlags = model.named_modules().Select(m => (m.module, m.module.training)).ToList();
        var device = model.parameters().FirstOrDefault()?.device ?? input.device;
        try
        {
            model.eval();
            using var scope = NewDisposeScope();
            var maps = new List<Tensor>();
            var logits = new List<Tensor>();
            var chosen = new List<int>();
            long[] activationShape = [];
            for (int start = 0; start < count; start += ChunkSize)
            {
                int length = Math.Min(ChunkSize, count - start);
                var x = input.narrow(0, start, length).to(ScalarType.Float32, device);
                var (map, chunkLogits, chunkClasses, shape) = ComputeChunk(layers, target, afterFeatures, x, classes?.Skip(start).Take(length).ToArray());
                maps.Add(map);
                logits.Add(chunkLogits);
                chosen.AddRange(chunkClasses);
                activationShape = shape;
            }
            var allLogits = cat(logits, 0);
            var probabilities = allLogits.softmax(1);
            float[][] p = [.. Enumerable.Range(0, count).Select(i => probabilities[i].data<float>().ToArray())];
            int[] predicted = [.. allLogits.argmax(1).data<long>().ToArray().Select(i => (int)i)];
            var all = cat(maps, 0).cpu().MoveToOuterDisposeScope();
            return new ClassActivationMaps(all, [.. chosen], predicted, p, $"features.{target}", activationShape);
        }
        finally
        {
            foreach (var (module, wasTraining) in trainingFlags)
                module.train(wasTraining);
        }
    }

    private static (Tensor Maps, Tensor Logits, int[] Classes, long[] ActivationShape) ComputeChunk(
        List<nn.Module<Tensor, Tensor>> layers, int target, Func<Tensor, Tensor> afterFeatures, Tensor x, int[]? classes)
    {
        // Up to the target layer no gradient is needed: the map is a function of the activation, not of the input.
        Tensor activation;
        using (no_grad())
        {
            activation = x;
            for (int i = 0; i <= target; i++)
                activation = layers[i].call(activation);
        }
        activation = activation.detach().requires_grad_(true);

        Tensor logits, gradient;
        using (enable_grad())
        {
            var y = activation;
            for (int i = target + 1; i < layers.Count; i++)
                y = layers[i].call(y);
            logits = afterFeatures(y).to_type(ScalarType.Float32);
            classes ??= [.. logits.argmax(1).data<long>().ToArray().Select(i => (int)i)];
            long classCount = logits.shape[1];
            foreach (int c in classes)
            {
                if (c < 0 || c >= classCount)
                    throw new ArgumentOutOfRangeException(nameof(classes), c, $"class index {c} is out of range: the model has {classCount} classes (0–{classCount - 1})");
            }
            // Each image's logit depends on its own activation only (eval mode), so one gradient of the sum gives every
            // image's ∂y_c/∂A; autograd.grad, unlike backward(), leaves the parameters' .grad alone.
            using var index = tensor(classes.Select(c => (long)c).ToArray(), device: logits.device).unsqueeze(1);
            var score = logits.gather(1, index).sum();
            gradient = torch.autograd.grad([score], [activation])[0];
        }

        using (no_grad())
        {
            var weights = gradient.mean([2, 3], keepdim: true);                      // w_k: one per channel and image
            var cam = (weights * activation).sum(1, keepdim: true).relu();            // ReLU(Σ_k w_k A_k)
            cam = nn.functional.interpolate(cam, [x.shape[2], x.shape[3]], mode: InterpolationMode.Bilinear, align_corners: false);
            var max = cam.amax([2, 3], keepdim: true);
            cam = where(max > 0, cam / max, zeros_like(cam));                         // an all-zero map stays zero
            long[] shape = [activation.shape[1], activation.shape[2], activation.shape[3]];
            return (cam.squeeze(1), logits.detach(), classes, shape);
        }
    }
}
