using System.Text.Json.Serialization;

namespace NotebookVgg.Runtime;

/// <summary>The number format the network computes in on the CPU. Weights, gradients and optimizer state stay fp32 always.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<Precision>))]
public enum Precision
{
    /// <summary>
    /// bf16 where the CPU computes it natively (AVX512_BF16 or AMX) and a check on real images shows it agrees with
    /// fp32; fp32 everywhere else. The default.
    /// </summary>
    Auto,

    /// <summary>32-bit floats throughout: the reference.</summary>
    Fp32,

    /// <summary>bfloat16 compute (CPU autocast) without the check; slower than fp32 on a CPU without native bf16.</summary>
    Bf16,
}

/// <summary>The precision a run uses, and why (said in logs, <c>--json</c>, checkpoints and notebooks).</summary>
/// <param name="Requested">What was asked for.</param>
/// <param name="Bf16">True: bf16 compute (CPU autocast); false: fp32.</param>
/// <param name="Reason">One line: why this precision.</param>
public sealed record PrecisionChoice(Precision Requested, bool Bf16, string Reason)
{
    /// <summary>"bf16" or "fp32".</summary>
    public string Name => Bf16 ? "bf16" : "fp32";

    /// <summary>What the network computes in: <see cref="Precision.Bf16"/> or <see cref="Precision.Fp32"/> (never auto).</summary>
    public Precision Used => Bf16 ? Precision.Bf16 : Precision.Fp32;

    /// <summary>fp32 because it was asked for.</summary>
    public static PrecisionChoice Fp32 { get; } = new(Precision.Fp32, false, "fp32 asked for");

    /// <summary>e.g. "bf16 (checked on 32 images: …)".</summary>
    public override string ToString() => $"{Name} ({Reason})";

    /// <summary>Parses auto, fp32 or bf16 (any case); the error names the value.</summary>
    public static Precision Parse(string value) => value?.Trim().ToLowerInvariant() switch
    {
        "auto" or "" => Precision.Auto,
        "fp32" or "float32" => Precision.Fp32,
        "bf16" or "bfloat16" => Precision.Bf16,
        _ => throw new ArgumentException($"precision '{value}': expected auto, fp32 or bf16"),
    };
}
