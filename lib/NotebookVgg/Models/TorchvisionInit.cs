using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using TorchSharp.Modules;

namespace NotebookVgg.Models;

/// <summary>
/// torchvision's VGG initialization (<c>VGG.__init__</c>): convolutions Kaiming-normal (fan-out, ReLU), linear layers
/// normal(0, 0.01), biases zero, batch norm weight 1 and bias 0.
/// </summary>
internal static class TorchvisionInit
{
    /// <summary>Initializes every convolution, batch norm and linear layer of <paramref name="model"/> in place.</summary>
    public static void Apply(Module model)
    {
        using var _ = no_grad();
        foreach (var (_, module) in model.named_modules())
        {
            switch (module)
            {
                case Conv2d conv:
                    init.kaiming_normal_(conv.weight, mode: init.FanInOut.FanOut, nonlinearity: init.NonlinearityType.ReLU);
                    if (conv.bias is not null)
                        init.zeros_(conv.bias);
                    break;
                case BatchNorm2d bn:
                    init.ones_(bn.weight);
                    init.zeros_(bn.bias);
                    break;
                case Linear linear:
                    init.normal_(linear.weight, 0, 0.01);
                    if (linear.bias is not null)
                        init.zeros_(linear.bias);
                    break;
            }
        }
    }
}
