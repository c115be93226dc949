using OnePass = NotebookVgg.Training.OnePass;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NotebookVgg.Tests.Training;

/// <summary>The one-pass updates against TorchSharp's own optimizers, step by step, on the same gradients.</summary>
public class OnePassTests
{
    /// <summary>
    /// Parameters of the kinds a VGG has: a convolution weight whose gradient comes channels-last, a bias, and a matrix
    /// of several work items with a tail no SIMD vector fills (300,007 elements).
    /// </summary>
    private static List<Parameter> Parameters(int seed)
    {
        using var g = new Generator((ulong)seed);
        return [new Parameter(randn(8, 3, 3, 3, generator: g)), new Parameter(randn(8, generator: g)),
            new Parameter(randn(300_007, generator: g).reshape(300_007, 1))];
    }

    /// <summary>Runs <paramref name="steps"/> steps of both optimizers on the same gradients; returns the largest difference of any parameter.</summary>
    private static double LargestDifference(Func<List<Parameter>, OptimizerHelper> ours, Func<List<Parameter>, OptimizerHelper> theirs, int steps)
    {
        List<Parameter> a = Parameters(1), b = Parameters(1);
        using var oa = ours(a);
        using var ob = theirs(b);
        using var g = new Generator(7);
        for (int step = 0; step < steps; step++)
        {
            foreach (var (pa, pb) in a.Zip(b))
            {
                var grad = randn(pa.shape, generator: g);
                if (grad.dim() == 4)
                    grad = NotebookVgg.Runtime.CpuSpeed.ToChannelsLast(grad); // as a channels-last convolution returns it
                pa.grad = grad.alias();
                pb.grad = grad.clone(); // TorchSharp's weight decay and momentum must not see the one-pass step's writes
                Assert.Equal(grad.dim() == 4, !pa.grad.is_contiguous());
            }
            oa.step();
            ob.step();
        }
        using var _ = no_grad();
        return a.Zip(b).Max(p => (p.First - p.Second).abs().max().item<float>());
    }

    [Fact]
    public void Adam_MatchesTorchSharpsAdam_WithWeightDecayAndTwoGroups()
    {
        static IEnumerable<Adam.ParamGroup> Groups(List<Parameter> p) =>
            [new(p.Take(2), 1e-3, 0.9, 0.999, 1e-8, 1e-4, false, false), new(p.Skip(2), 1e-2, 0.8, 0.99, 1e-8, 0, false, false)];

        double difference = LargestDifference(p => new OnePass.Adam(Groups(p)), p => optim.Adam(Groups(p)), steps: 5);

        Assert.True(difference < 1e-6, $"parameters differ by up to {difference} after 5 steps");
    }

    [Fact]
    public void Sgd_MatchesTorchSharpsSgd_WithMomentumWeightDecayAndWithout()
    {
        static IEnumerable<SGD.ParamGroup> Groups(List<Parameter> p) =>
            [new(p.Take(2), 0.1, 0.9, 0, 5e-4, false, false), new(p.Skip(2), 0.01, 0, 0, 0, false, false)];

        double difference = LargestDifference(p => new OnePass.SGD(Groups(p), 0.1), p => optim.SGD(Groups(p), 0.1), steps: 5);

        Assert.True(difference < 1e-6, $"parameters differ by up to {difference} after 5 steps");
    }

    [Fact]
    public void Sgd_WithNesterov_TakesTorchSharpsStep()
    {
        static IEnumerable<SGD.ParamGroup> Groups(List<Parameter> p) => [new(p, 0.1, 0.9, 0, 0, true, false)];

        Assert.Equal(0, LargestDifference(p => new OnePass.SGD(Groups(p), 0.1), p => optim.SGD(Groups(p), 0.1), steps: 3));
    }

    [Fact]
    public void Adam_KeepsTorchSharpsStateFormat_ItsSavedStateLoadsIntoTorchSharpsAdam()
    {
        static IEnumerable<Adam.ParamGroup> Groups(List<Parameter> p) => [new(p, 1e-3, 0.9, 0.999, 1e-8, 0, false, false)];
        var ps = Parameters(2);
        using var ours = new OnePass.Adam(Groups(ps));
        foreach (var p in ps)
            p.grad = ones_like(p);
        ours.step();
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
            ours.save_state_dict(writer);

        stream.Position = 0;
        using var theirs = optim.Adam(Groups(Parameters(2)));
        using (var reader = new BinaryReader(stream))
            theirs.load_state_dict(reader);

        var (a, b) = (ours.state_dict().State, theirs.state_dict().State);
        Assert.Equal(a.Count, b.Count);
        Assert.All(a.Zip(b), s => Assert.True(s.First.ApproximatelyEquals(s.Second)));
        Assert.Equal(1, ((Adam.State)b[0]).step);
    }
}
