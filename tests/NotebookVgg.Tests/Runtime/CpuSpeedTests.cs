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

    private static readonly HashSet<string> Zen4 = ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_bf16"];
    private static readonly HashSet<string> Zen3 = ["avx2", "fma"];

    [Theory]
    [InlineData(null, null, nameof(CpuIsa.Avx512Bf16), nameof(CpuIsa.Avx512Bf16))]
    [InlineData("AVX2", "AVX2", nameof(CpuIsa.Avx2), nameof(CpuIsa.Avx2))]      // the AVX2 emulation the README uses
    [InlineData("AVX2", null, nameof(CpuIsa.Avx2), nameof(CpuIsa.Avx2))]
    [InlineData(null, "AVX2", nameof(CpuIsa.Avx512Bf16), nameof(CpuIsa.Avx2))]   // MKL alone held back: bf16 matmuls would be emulated
    [InlineData("avx512_core", null, nameof(CpuIsa.Avx512), nameof(CpuIsa.Avx512))]
    [InlineData("AVX512_CORE_BF16", "AVX512_E3", nameof(CpuIsa.Avx512Bf16), nameof(CpuIsa.Avx512Bf16))]
    [InlineData("DEFAULT", null, nameof(CpuIsa.Avx512Bf16), nameof(CpuIsa.Avx512Bf16))]
    public void Isa_FollowsTheCpu_LessWhatOneDnnAndMklAreHeldTo(string? oneDnn, string? mkl, string oneDnnLevel, string effectiveLevel)
    {
        var expectedOneDnn = Enum.Parse<CpuIsa>(oneDnnLevel);
        var expectedEffective = Enum.Parse<CpuIsa>(effectiveLevel);
        var isa = CpuIsaReport.FromFlagsAndEnvironment(Zen4, name => name switch
        {
            "ONEDNN_MAX_CPU_ISA" => oneDnn,
            "MKL_ENABLE_INSTRUCTIONS" => mkl,
            _ => null,
        });
        Assert.Equal(CpuIsa.Avx512Bf16, isa.Cpu);
        Assert.Equal(expectedOneDnn, isa.OneDnn);
        Assert.Equal(expectedEffective, isa.Effective);
        if (oneDnn is not null && expectedOneDnn < isa.Cpu)
            Assert.Contains($"ONEDNN_MAX_CPU_ISA={oneDnn}", isa.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Isa_OfAnAvx2Cpu_IsAvx2_AndACapAboveItChangesNothing()
    {
        var isa = CpuIsaReport.FromFlagsAndEnvironment(Zen3, name => name == "DNNL_MAX_CPU_ISA" ? "AVX512_CORE_BF16" : null);
        Assert.Equal(CpuIsa.Avx2, isa.Effective);
        Assert.Equal("AVX2", isa.ToString());
        Assert.Equal(CpuIsa.Older, CpuIsaReport.FromFlagsAndEnvironment(new HashSet<string> { "sse4_2" }, _ => null).Effective);
    }

    [Fact]
    public void ForConvolutions_IsNchwForFp32Training_ChannelsLastOtherwise()
    {
        using var x = randn(2, 3, 5, 7);
        using var cl = CpuSpeed.ToChannelsLast(x);
        using var nchw = CpuSpeed.ForConvolutions(cl, training: true, bf16: false);
        Assert.True(nchw.is_contiguous());
        Assert.True(nchw.allclose(x, 0, 0));
        Assert.Same(x, CpuSpeed.ForConvolutions(x, training: true, bf16: false)); // already NCHW: the same tensor
        Assert.Same(cl, CpuSpeed.ForConvolutions(cl, training: true, bf16: true));
        Assert.Same(cl, CpuSpeed.ForConvolutions(cl, training: false, bf16: false));
        using var made = CpuSpeed.ForConvolutions(x, training: false, bf16: false);
        Assert.True(CpuSpeed.IsChannelsLast(made) && made.allclose(x, 0, 0));
        using var flat = randn(4, 8);
        Assert.Same(flat, CpuSpeed.ForConvolutions(flat, training: true, bf16: false)); // cached features: not images
    }

    [Fact]
    public void KernelProbe_ReadsOneDnnsOwnLines_ForInferenceAndTraining()
    {
        var report = KernelProbe.Run();
        Assert.Null(report.Error);
        Assert.StartsWith("oneDNN v", report.OneDnnVersion, StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(report.OneDnnIsa));
        Assert.Contains(report.Kernels, k => k.Path.StartsWith("inference", StringComparison.Ordinal) && k.DataLayout == "acdb");
        var training = report.Kernels.Where(k => k.Path.StartsWith("fp32 training", StringComparison.Ordinal)).ToList();
        Assert.Contains(training, k => k.Pass == "backward_weights");
        Assert.Contains(training, k => k.Pass == "backward_data");
        Assert.DoesNotContain(training, k => k.DataLayout == "acdb"); // fp32 training runs NCHW: no channels-last kernel
        Assert.Equal(CpuSpeed.HasNativeBf16 && CpuAutocast.IsAvailable, report.Kernels.Any(k => k.Path.StartsWith("bf16 training", StringComparison.Ordinal)));
    }

    [Fact]
    public void KernelProbe_Parse_ReadsVersionIsaAndEachPathsKernels()
    {
        string[] lines =
        [
            "onednn_verbose,v1,info,oneDNN v3.7.1 (commit 8d263e6)",
            "onednn_verbose,v1,info,cpu,isa:Intel AVX-512 with AVX512BW, AVX512VL, and AVX512DQ extensions",
            "onednn_verbose,v1,primitive,exec,cpu,convolution,brg_conv_fwd:avx2,forward_training,src:f32::blocked:acdb::f0 wei:f32:a:blocked:Acdb8a::f0 dst:f32::blocked:acdb::f0,attr-scratchpad:user,alg:convolution_direct,mb2_ic128oc128_ih28oh28kh3sh1dh0ph1_iw28ow28kw3sw1dw0pw1,0.5",
            "onednn_verbose,v1,primitive,exec,cpu,reorder,jit:uni,undef,src:f32::blocked:abcd::f0 dst:f32::blocked:aBcd8b::f0,,,2x128x28x28,0.1",
            "onednn_verbose,v1,primitive,exec,cpu,convolution,jit:avx2,backward_weights,src:f32:a:blocked:aBcd8b::f0 wei:f32:a:blocked:ABcd8b8a::f0 dst:f32:a:blocked:aBcd8b::f0,attr-scratchpad:user,alg:convolution_direct,mb2_ic128oc128_ih28oh28kh3sh1dh0ph1_iw28ow28kw3sw1dw0pw1,1.0",
            "onednn_verbose,exec,cpu,convolution,jit:avx2,backward_data,diff_src_f32::blocked:aBcd8b:f0 wei_f32::blocked:ABcd8b8a:f0 diff_dst_f32::blocked:aBcd8b:f0,,alg:convolution_direct,mb2,1.0", // oneDNN 2.x
        ];
        var report = KernelProbe.Parse(lines, [("inference", 0), ("training", 3)]);
        Assert.Equal("oneDNN v3.7.1 (commit 8d263e6)", report.OneDnnVersion);
        Assert.Equal("Intel AVX-512 with AVX512BW, AVX512VL, and AVX512DQ extensions", report.OneDnnIsa);
        Assert.Equal(
            [new KernelUse("inference", "forward_training", "brg_conv_fwd:avx2", "acdb"), new KernelUse("training", "backward_weights", "jit:avx2", "aBcd8b"),
             new KernelUse("training", "backward_data", "jit:avx2", "aBcd8b")],
            report.Kernels);
    }
}
