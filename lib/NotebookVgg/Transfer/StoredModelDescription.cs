using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using NotebookVgg.Data;
using NotebookVgg.Models;
using NotebookVgg.Runtime;
using NotebookVgg.Training;
using NotebookVgg.Weights;

namespace NotebookVgg.Transfer;

/// <summary>
/// <see cref="ModelDescription"/> as a checkpoint's <c>state.json</c> stores it under <c>model</c>: one flat object, in the
/// same fields and words since before the description was typed (cut, interpolation and precision as lower-case names), so
/// checkpoints of every version read alike. The seed of random weights is the checkpoint's own (its options').
/// </summary>
internal sealed record StoredModelDescription(
    string Architecture,
    TrainingMode Mode,
    [property: JsonConverter(typeof(FeatureCutJson))] FeatureCut? FeatureCut,
    int NumClasses,
    string[] ClassNames,
    int ImageSize,
    [property: JsonConverter(typeof(InterpolationJson))] Interpolation Interpolation,
    float[] Mean,
    float[] Std,
    string? WeightsName,
    string? WeightsPath,
    string? WeightsSha256,
    string DataName,
    [property: JsonConverter(typeof(ComputePrecisionJson))] Precision Precision = Precision.Fp32)
{
    public static StoredModelDescription Of(ModelDescription d)
    {
        ArgumentNullException.ThrowIfNull(d);
        var b = d.Backbone;
        return new(b.Architecture, d.Mode, b.Cut, d.NumClasses, d.ClassNames, b.ImageSize, b.Interpolation, b.Mean, b.Std,
            b.Weights.Name, b.Weights.Path, b.Weights.Sha256, d.DataName, b.Precision);
    }

    /// <summary>
    /// The description, after checking every field a rebuilt model depends on: a nonsense value throws naming the field
    /// ("model.imageSize 0 is invalid (between 32 and 512)"). <paramref name="seed"/> is the checkpoint's.
    /// </summary>
    public ModelDescription ToDescription(int seed)
    {
        Validate();
        // Training from scratch never loads a file: older checkpoints named the --weights given anyway.
        var weights = WeightsPath is null || Mode == TrainingMode.Scratch ? WeightsReference.Random : new WeightsReference(WeightsName, WeightsPath, WeightsSha256);
        var backbone = new Backbone(Architecture, weights, Mode == TrainingMode.Features ? FeatureCut : null, ImageSize, Interpolation, Mean, Std, Precision, seed);
        return new ModelDescription(backbone, Mode, ClassNames, DataName);
    }

    private void Validate()
    {
        static void Fail(string field, object? value, string expected) =>
            throw new InvalidDataException($"model.{field} {value ?? "null"} is invalid ({expected})");
        if (!Vgg.Architectures.Contains(Architecture, StringComparer.OrdinalIgnoreCase))
            Fail("architecture", Architecture, $"one of {string.Join(", ", Vgg.Architectures)}");
        if (NumClasses < 2 || ClassNames is null || ClassNames.Length != NumClasses)
            Fail("numClasses", NumClasses, "at least 2, one name per class");
        if (ImageSize is < 32 or > 512)
            Fail("imageSize", ImageSize, "between 32 and 512");
        if (Mean is not { Length: 3 } || Mean.Any(v => !float.IsFinite(v)))
            Fail("mean", Mean is null ? null : $"[{string.Join(", ", Mean)}]", "three finite numbers");
        if (Std is not { Length: 3 } || Std.Any(v => !float.IsFinite(v) || v <= 0))
            Fail("std", Std is null ? null : $"[{string.Join(", ", Std)}]", "three positive numbers");
        if (Mode == TrainingMode.Features && FeatureCut is null)
            Fail("featureCut", null, "fc7 or pool5 in features mode");
    }
}

/// <summary>
/// Writes an enum as its lower-case name ("fc7", "bilinear", "bf16": the text checkpoints have always stored) and reads
/// it through the parser the same setting's user input goes through, so older names (pool5's "avgpool") still read.
/// </summary>
internal abstract class LowercaseEnumJson<T>(Func<string, T> parse, string expected) : JsonConverter<T>
    where T : struct, Enum
{
    public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        string text = reader.TokenType == JsonTokenType.String ? reader.GetString()! : Encoding.UTF8.GetString(reader.ValueSpan);
        try
        {
            var value = parse(text);
            return Enum.IsDefined(value) ? value : throw new ArgumentException(text);
        }
        catch (ArgumentException)
        {
            throw new InvalidJsonValueException(text, expected);
        }
    }

    public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStringValue(value.ToString().ToLowerInvariant());
    }
}

internal sealed class FeatureCutJson() : LowercaseEnumJson<FeatureCut>(TransferSettings.ParseCut, "fc7 or pool5");

internal sealed class InterpolationJson() : LowercaseEnumJson<Interpolation>(TransferSettings.ParseInterpolation, "nearest, bilinear or bicubic");

/// <summary>The precision a run computed in: fp32 or bf16 (never auto, which is a request, not a result).</summary>
internal sealed class ComputePrecisionJson() : LowercaseEnumJson<Precision>(
    text => PrecisionChoice.Parse(text) is var p && p != Precision.Auto ? p : throw new ArgumentException(text), "fp32 or bf16");

/// <summary>A stored value its type does not know (an interpolation "sideways"): the reader names the field it was in.</summary>
internal sealed class InvalidJsonValueException(string value, string expected) : JsonException($"'{value}': expected {expected}")
{
    public string Value { get; } = value;

    public string Expected { get; } = expected;

    /// <summary>The invalid value inside <paramref name="ex"/> (the serializer adds the JSON path, or wraps it), with its field ("model.interpolation").</summary>
    public static (string Field, string Value, string Expected)? In(JsonException ex)
    {
        ArgumentNullException.ThrowIfNull(ex);
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is InvalidJsonValueException bad)
                return ((ex.Path ?? bad.Path ?? "").TrimStart('$', '.'), bad.Value, bad.Expected);
        }
        return null;
    }
}
