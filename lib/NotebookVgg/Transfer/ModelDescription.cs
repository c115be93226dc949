using System.Text.Json;
using System.Text.Json.Nodes;
using NotebookVgg.Data;
using NotebookVgg.Training;

namespace NotebookVgg.Transfer;

/// <summary>
/// What a checkpoint says about its model, enough to rebuild it (<see cref="TrainedModel.Load"/>): the
/// <see cref="Transfer.Backbone"/> (network, weights, cut, input preparation, precision), how it was trained, and the
/// classes. Features mode stores only the head's tensors: the rest comes from the backbone's weights again.
/// </summary>
/// <param name="Backbone">What produces the features (or, without a cut, the network trained whole).</param>
/// <param name="Mode">Features (frozen network + trained head), fine-tuning or training from scratch.</param>
/// <param name="ClassNames">What each output stands for, in label order.</param>
/// <param name="DataName">What the model was trained on, as labelled everywhere (a label: not compared on resume).</param>
public sealed record ModelDescription(Backbone Backbone, TrainingMode Mode, string[] ClassNames, string DataName) : ICheckpointDescription
{
    /// <summary>Outputs of the trained head.</summary>
    public int NumClasses => ClassNames.Length;

    /// <summary>
    /// What a run of <paramref name="settings"/> on <paramref name="data"/> trains (its backbone in fp32 until the run has
    /// chosen its precision).
    /// </summary>
    internal static ModelDescription For(TransferSettings settings, Cifar10Dataset data)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(data);
        var backbone = Backbone.Of(settings);
        // Named with the weights unless they are torchvision's ImageNet file (or the run trains from scratch), so a
        // caption that shows the data name never passes other weights off as pretrained.
        string dataName = backbone.Weights.Registered is null && settings.Options.Mode != TrainingMode.Scratch
            ? $"{data.SourceName}, {backbone.Weights.Label}"
            : data.SourceName;
        return new ModelDescription(backbone, settings.Options.Mode, data.ClassNames, dataName);
    }

    /// <summary>The description in the checkpoint at <paramref name="checkpointPath"/>, every field checked.</summary>
    /// <exception cref="InvalidDataException">The checkpoint has no description, or a field of it is invalid (named, with the file).</exception>
    public static ModelDescription Read(string checkpointPath)
    {
        var state = Checkpoint.ReadState(checkpointPath);
        var stored = state.Model ?? throw new InvalidDataException($"{checkpointPath}: the checkpoint does not describe its model (written without metadata)");
        return FromJson(stored, state.Options, checkpointPath);
    }

    /// <inheritdoc />
    public JsonObject ToJson() => JsonSerializer.SerializeToNode(StoredModelDescription.Of(this), Checkpoint.Json)!.AsObject();

    /// <inheritdoc />
    public (string Setting, string Stored, string Now)? DifferenceFrom(JsonObject stored, TrainingOptions storedOptions)
    {
        ArgumentNullException.ThrowIfNull(storedOptions);
        return FirstDifference(FromJson(stored, storedOptions, "the checkpoint"), this);
    }

    /// <summary>Equal when both describe the same model: the same backbone, mode and classes (the data's name is a label).</summary>
    public bool Equals(ModelDescription? other) => other is not null && FirstDifference(this, other) is null;

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Backbone, Mode, ClassNames.Length);

    /// <summary>
    /// The first setting in which <paramref name="b"/> differs from <paramref name="a"/>, with both values in words, in the
    /// order a user changes them; null when they describe the same model.
    /// </summary>
    private static (string Setting, string A, string B)? FirstDifference(ModelDescription a, ModelDescription b)
    {
        static string Words(object? value) => value switch
        {
            null => "none",
            Enum e when e is Data.Interpolation or Runtime.Precision => Backbone.Lower(e),
            float[] f => $"[{string.Join(", ", f)}]",
            string[] names => string.Join(", ", names),
            _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "none",
        };
        var (x, y) = (a.Backbone, b.Backbone);
        (string Name, object? A, object? B, bool Same)[] settings =
        [
            ("architecture", x.Architecture, y.Architecture, x.Architecture == y.Architecture),
            ("mode", a.Mode, b.Mode, a.Mode == b.Mode),
            ("feature cut", x.Cut, y.Cut, x.Cut == y.Cut),
            ("image size", x.ImageSize, y.ImageSize, x.ImageSize == y.ImageSize),
            ("interpolation", x.Interpolation, y.Interpolation, x.Interpolation == y.Interpolation),
            ("weights file", x.Weights.Path, y.Weights.Path, x.Weights.Path == y.Weights.Path),
            ("weights SHA-256", x.Weights.Sha256, y.Weights.Sha256, x.Weights.Sha256 == y.Weights.Sha256),
            ("weights name", x.Weights.Name, y.Weights.Name, x.Weights.Name == y.Weights.Name),
            ("classes", a.NumClasses, b.NumClasses, a.NumClasses == b.NumClasses),
            ("class names", a.ClassNames, b.ClassNames, a.ClassNames.SequenceEqual(b.ClassNames)),
            ("precision", x.Precision, y.Precision, x.Precision == y.Precision),
            ("normalization mean", x.Mean, y.Mean, x.Mean.SequenceEqual(y.Mean)),
            ("normalization std", x.Std, y.Std, x.Std.SequenceEqual(y.Std)),
            ("seed", x.Seed, y.Seed, x.Seed == y.Seed),
        ];
        return settings.FirstOrDefault(s => !s.Same) is { Name: not null } d ? (d.Name, Words(d.A), Words(d.B)) : null;
    }

    /// <summary>A stored description read back (<paramref name="where"/> names the checkpoint in errors).</summary>
    internal static ModelDescription FromJson(JsonObject stored, TrainingOptions options, string where)
    {
        ArgumentNullException.ThrowIfNull(stored);
        ArgumentNullException.ThrowIfNull(options);
        try
        {
            var d = stored.Deserialize<StoredModelDescription>(Checkpoint.Json) ?? throw new InvalidDataException("model: null");
            return d.ToDescription(options.Seed);
        }
        catch (JsonException ex) when (InvalidJsonValueException.In(ex) is { } bad)
        {
            // A value its type does not know ("sideways" for an interpolation): named like every other invalid field.
            throw new InvalidDataException($"{where}: {Checkpoint.StateEntry}: model.{bad.Field} {bad.Value} is invalid ({bad.Expected})", ex);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{where}: {Checkpoint.StateEntry} is corrupt: {ex.Message}", ex);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"{where}: {Checkpoint.StateEntry}: {ex.Message}", ex);
        }
    }
}
