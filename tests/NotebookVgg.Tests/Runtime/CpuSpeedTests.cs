using NotebookVgg.Tests.TestSupport;
using NotebookVgg.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Tests.Runtime;

[Collection(GlobalRandomState.Name)]
public class CpuSpeedTests
{
    private static nn.Module<Tensor, Tensor> SmallConvNet()
    {
        torch.random.manual_seed(3);
        return nn.Sequential(
            ("conv1", nn.Conv2d(3, 8, 3, padding: 1)), ("relu1", nn.ReLU()),
            ("conv2", nn.Conv2d(8, 8, 3, padding: 1)), ("relu2", nn.ReLU()),
            ("pool", nn.AdaptiveAvgPool2d(1)), ("flat", nn.Flatten()), ("fc", nn.Linear(8, 5)));
    }

    [Fact]
    public void ChannelsLast_KeepsValuesAndShape_ChangesStrides()
    {
        using var x = randn(2, 3, 5, 7);
        using var cl = CpuSpeed.ToChannelsLast(x);
        Assert.Equal(x.shape, cl.shape);
        Assert.True(CpuSpeed.IsChannelsLast(cl));
        Assert.False(CpuSpeed.IsChannelsLast(x));
        Assert.True(cl.allclose(x, 0, 0));
    }

    [Fact]
    public void ChannelsLastModel_GivesTheSameOutputs()
    {
        var reference = SmallConvNet();
        var fast = SmallConvNet();
        CpuSpeed.ConvertToChannelsLast(fast);
        Assert.All(fast.parameters().Where(p => p.dim() == 4), p => Assert.True(CpuSpeed.IsChannelsLast(p)));
        Assert.All(fast.parameters(), p => Assert.True(p.requires_grad));
        using var x = randn(4, 3, 16, 16);
        using var expected = reference.forward(x);
        using var actual = fast.forward(CpuSpeed.ToChannelsLast(x));
        Assert.True(actual.allclose(expected, 1e-5, 1e-5));
    }

    [Fact]
    public void Autocast_ComputesInBf16_WithFp32Weights_AndSwitchesOff()
    {
        Assert.True(CpuAutocast.IsAvailable, "libtorch's CPU autocast exports should be found on Linux x64");
        var model = SmallConvNet();
        using var x = randn(2, 3, 16, 16);
        Assert.False(CpuAutocast.IsEnabledOnThisThread);
        using (CpuSpeed.Autocast())
        {
            Assert.True(CpuAutocast.IsEnabledOnThisThread);
            using var y = model.forward(x);
            Assert.Equal(ScalarType.BFloat16, y.dtype); // linear ran in bf16
            using var loss = y.to_type(ScalarType.Float32).sum();
            loss.backward();
        }
        Assert.False(CpuAutocast.IsEnabledOnThisThread);
        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.Float32, p.grad!.dtype));
        using var after = model.forward(x);
        Assert.Equal(ScalarType.Float32, after.dtype);
    }
}
