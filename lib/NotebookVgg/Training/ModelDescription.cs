using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using NotebookVgg.Data;
using NotebookVgg.Models;
using NotebookVgg.Runtime;

namespace NotebookVgg.Training;

/// <summary>
/// What a checkpoint says about its model, enough to rebuild it for evaluation and prediction:
/// the architecture, where the frozen pretrained part comes from (features mode stores only the head),
/// the input size and normalization, and the class names.
/// </summary>
/// <param name="Architecture">The VGG, one of <see cref="Vgg.Architectures"/>.</param>
/// <param name="Mode">Features (frozen network + trained head), fine-tuning or training from scratch.</param>
/// <param name="FeatureCut">Where the frozen network was cut (features mode); null for fine-tuning and training from scratch.</param>
/// <param name="NumClasses">Outputs of the trained head.</param>
/// <param name="ClassNames">What each output stands for, in label order.</param>
/// <param name="ImageSize">The side length the 32×32 images were resized to.</param>
/// <param name="Interpolation">How they were resized.</param>
/// <param name="Mean">Per-channel mean of the normalization.</param>
/// <param name="Std">Per-channel standard deviation of the normalization.</param>
/// <param name="WeightsName">The registry name of the pretrained weights, if any.</param>
/// <param name="WeightsPath">The weights file (full path), or null for seeded random weights.</param>
/// <param name="WeightsSha256">That file's SHA-256, so a file replaced since training is noticed.</param>
/// <param name="DataName">What the model was trained on, as labelled everywhere.</param>
/// <param name="Precision">What the network computed in: <see cref="Runtime.Precision.Fp32"/> or <see cref="Runtime.Precision.Bf16"/>.</param>
public sealed record ModelDescription(
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
    [property: JsonConverter(typeof(ComputePrecisionJson))] Precision Precision = Precision.Fp32);

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
