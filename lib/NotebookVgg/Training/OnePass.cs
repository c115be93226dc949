using System.Numerics;
using TorchSharp;
using static TorchSharp.torch;

// The classes are named Adam and SGD, as TorchSharp's: TorchSharp writes an optimizer's class name into its saved state
// and refuses a stream with another name, so checkpoints load both ways (written before, by TorchSharp's, or by these).
namespace NotebookVgg.Training.OnePass;

/// <summary>
/// TorchSharp's Adam, with an update that reads and writes each parameter's memory once and allocates nothing.
/// TorchSharp's runs eight tensor operations per parameter and makes two or three temporaries its size (√v, the
/// denominator, the decayed gradient), all alive until the step ends: for VGG's 140 M parameters (103 M in fc6, whatever
/// the input size) 1–1.7 GB each step, which grew malloc's heap, so the trainer's rule gave it back and the next steps
/// page-faulted it again. Measured (nvgg train, vgg19_bn from scratch at 112×112, Adam, batch 16, bf16, 200 images per
/// epoch, 2-core Zen 4): epochs of 34–37 s became 23, 17 and 13 s; page faults over one epoch 3.0 M → 1.5 M. libtorch's own
/// fused Adam exists, but TorchSharp 0.107 does not bind it: hence this loop. The state is TorchSharp's (step, exp_avg,
/// exp_avg_sq), so checkpoints are the same; what the loop does not cover (a GPU, AMSGrad, maximize, a parameter that is
/// not contiguous fp32 or is over 2 GiB) takes TorchSharp's own step.
/// </summary>
internal sealed class Adam(IEnumerable<TorchSharp.Modules.Adam.ParamGroup> groups) : TorchSharp.Modules.Adam(groups)
{
    public override Tensor step(Func<Tensor>? closure = null)
    {
        if (!_parameter_groups.All(g => g.Options is Options { amsgrad: false, maximize: false }) || !Updates.Covers(parameters()))
            return base.step(closure);
        return _step<ParamGroup>(group =>
        {
            var o = (Options)group.Options;
            double beta1 = o.beta1!.Value, beta2 = o.beta2!.Value, lr = o.LearningRate!.Value;
            foreach (var param in group.Parameters)
            {
                using var grad = param.grad;
                if (grad is null)
                    continue;
                var state = (State)_state[param.Handle];
                state.step += 1;
                double correction1 = 1 - Math.Pow(beta1, state.step), correction2 = 1 - Math.Pow(beta2, state.step);
                using var g = grad.is_contiguous() ? grad.alias() : grad.contiguous(); // a channels-last weight's gradient
                Updates.Adam(param, g, state.exp_avg, state.exp_avg_sq, (float)beta1, (float)beta2, (float)o.weight_decay!.Value,
                    (float)Math.Sqrt(correction2), (float)o.eps!.Value, (float)(-lr / correction1));
            }
        }, closure);
    }
}

/// <summary>
/// TorchSharp's SGD, with an update that reads and writes each parameter's memory once (TorchSharp's: three passes, and a
/// temporary the parameter's size for weight decay). Same state (momentum_buffer), so checkpoints are the same; what the
/// loop does not cover (a GPU, Nesterov, maximize, a parameter that is not contiguous fp32) takes TorchSharp's own step.
/// </summary>
internal sealed class SGD(IEnumerable<TorchSharp.Modules.SGD.ParamGroup> groups, double lr) : TorchSharp.Modules.SGD(groups, lr)
{
    public override Tensor step(Func<Tensor>? closure = null)
    {
        if (!_parameter_groups.All(g => g.Options is Options { nesterov: false, maximize: false }) || !Updates.Covers(parameters()))
            return base.step(closure);
        return _step<ParamGroup>(group =>
        {
            var o = group.Options;
            float momentum = (float)o.momentum!.Value;
            foreach (var param in group.Parameters)
            {
                using var grad = param.grad;
                if (grad is null)
                    continue;
                var state = (State)_state[param.Handle];
                bool first = momentum != 0 && state.momentum_buffer is null;
                if (first)
                    state.momentum_buffer = empty_like(param).DetachFromDisposeScope();
                using var g = grad.is_contiguous() ? grad.alias() : grad.contiguous();
                Updates.Sgd(param, g, momentum == 0 ? null : state.momentum_buffer, first, momentum, (float)o.dampening!.Value,
                    (float)o.weight_decay!.Value, (float)-o.LearningRate!.Value);
            }
        }, closure);
    }
}

/// <summary>The element-wise loops of <see cref="Adam"/> and <see cref="SGD"/>: SIMD, split over the threads libtorch uses.</summary>
internal static unsafe class Updates
{
    /// <summary>Elements per work item: 64 Ki floats, 256 KiB per tensor, so that a chunk's four streams stay in cache.</summary>
    private const int Chunk = 1 << 16;

    /// <summary>
    /// Whether every parameter is a contiguous fp32 CPU tensor the loops can address (under 2 GiB: TorchSharp's span) and its
    /// gradient, if any, fp32 on the CPU too: checked before a step changes anything.
    /// </summary>
    public static bool Covers(IEnumerable<Tensor> parameters) => parameters.All(p =>
    {
        if (p.device_type != DeviceType.CPU || p.dtype != ScalarType.Float32 || !p.is_contiguous() || p.numel() >= int.MaxValue / sizeof(float))
            return false;
        using var grad = p.grad;
        return grad is null || grad.device_type == DeviceType.CPU && grad.dtype == ScalarType.Float32;
    });

    /// <summary>
    /// Adam's update, in the order of TorchSharp's tensor operations: g += wd·p; m = β1·m + (1−β1)·g;
    /// v = β2·v + (1−β2)·g²; p += step · m / (√v / √(1−β2ᵗ) + ε).
    /// </summary>
    public static void Adam(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, float beta1, float beta2, float weightDecay,
        float sqrtCorrection2, float eps, float step)
    {
        float* p = Address(param), g = Address(grad), m = Address(expAvg), v = Address(expAvgSq);
        float keep1 = 1 - beta1, keep2 = 1 - beta2;
        ForEachChunk(param.numel(), (start, n) =>
        {
            float* pc = p + start, gc = g + start, mc = m + start, vc = v + start;
            int i = 0;
            if (Vector.IsHardwareAccelerated)
            {
                var b1 = new Vector<float>(beta1); var k1 = new Vector<float>(keep1);
                var b2 = new Vector<float>(beta2); var k2 = new Vector<float>(keep2);
                var wd = new Vector<float>(weightDecay); var c2 = new Vector<float>(sqrtCorrection2);
                var e = new Vector<float>(eps); var s = new Vector<float>(step);
                for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
                {
                    var pv = Vector.Load(pc + i);
                    var gv = Vector.Load(gc + i);
                    if (weightDecay != 0)
                        gv += pv * wd;
                    var mv = Vector.Load(mc + i) * b1 + gv * k1;
                    var vv = Vector.Load(vc + i) * b2 + gv * gv * k2;
                    mv.Store(mc + i);
                    vv.Store(vc + i);
                    (pv + s * (mv / (Vector.SquareRoot(vv) / c2 + e))).Store(pc + i);
                }
            }
            for (; i < n; i++)
            {
                float gi = gc[i];
                if (weightDecay != 0)
                    gi += pc[i] * weightDecay;
                float mi = mc[i] * beta1 + gi * keep1, vi = vc[i] * beta2 + gi * gi * keep2;
                mc[i] = mi;
                vc[i] = vi;
                pc[i] += step * (mi / (MathF.Sqrt(vi) / sqrtCorrection2 + eps));
            }
        });
    }

    /// <summary>
    /// SGD's update, as TorchSharp's: g += wd·p; buf = g on the first step, else momentum·buf + (1−dampening)·g; p += alpha·buf
    /// (p += alpha·g without momentum, <paramref name="buffer"/> null).
    /// </summary>
    public static void Sgd(Tensor param, Tensor grad, Tensor? buffer, bool first, float momentum, float dampening, float weightDecay, float alpha)
    {
        float* p = Address(param), g = Address(grad), b = buffer is null ? null : Address(buffer);
        float keep = 1 - dampening;
        ForEachChunk(param.numel(), (start, n) =>
        {
            float* pc = p + start, gc = g + start, bc = b == null ? null : b + start;
            int i = 0;
            if (Vector.IsHardwareAccelerated)
            {
                var mo = new Vector<float>(momentum); var k = new Vector<float>(keep);
                var wd = new Vector<float>(weightDecay); var a = new Vector<float>(alpha);
                for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
                {
                    var pv = Vector.Load(pc + i);
                    var d = Vector.Load(gc + i);
                    if (weightDecay != 0)
                        d += pv * wd;
                    if (bc != null)
                    {
                        d = first ? d : Vector.Load(bc + i) * mo + d * k;
                        d.Store(bc + i);
                    }
                    (pv + d * a).Store(pc + i);
                }
            }
            for (; i < n; i++)
            {
                float d = gc[i];
                if (weightDecay != 0)
                    d += pc[i] * weightDecay;
                if (bc != null)
                {
                    d = first ? d : bc[i] * momentum + d * keep;
                    bc[i] = d;
                }
                pc[i] += d * alpha;
            }
        });
    }

    private static float* Address(Tensor t)
    {
        if (t.device_type != DeviceType.CPU || t.dtype != ScalarType.Float32 || !t.is_contiguous())
            throw new ArgumentException($"a one-pass update needs contiguous fp32 CPU tensors, not {t.dtype} on {t.device_type} (contiguous: {t.is_contiguous()})");
        fixed (byte* bytes = t.bytes) // native memory: it does not move once the span is gone
            return (float*)bytes;
    }

    private static void ForEachChunk(long count, Action<int, int> body)
    {
        int chunks = (int)((count + Chunk - 1) / Chunk);
        if (chunks <= 1)
        {
            body(0, (int)count);
            return;
        }
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, torch.get_num_threads()) },
            c => body(c * Chunk, (int)Math.Min(Chunk, count - (long)c * Chunk)));
    }
}
