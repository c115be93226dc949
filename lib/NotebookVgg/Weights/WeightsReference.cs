using System.Text.Json.Serialization;

namespace NotebookVgg.Weights;

/// <summary>
/// Which weights a network starts from: a file, named by its full path and pinned by the SHA-256 of its bytes, with the
/// registry name it was published under (<c>vgg19</c>) when there is one; or <see cref="Random"/>, the seeded random
/// initialization. A value: two references are equal when they name the same file with the same checksum.
/// </summary>
/// <param name="Name">The <see cref="PretrainedWeights"/> entry the file belongs to (e.g. <c>vgg19</c>), or null.</param>
/// <param name="Path">The file's full path; null for random weights.</param>
/// <param name="Sha256">The file's SHA-256 (lower-case hex) when it was chosen; null for random weights.</param>
public sealed record WeightsReference(string? Name, string? Path, string? Sha256)
{
    /// <summary>No file: the network keeps its (seeded) random initialization.</summary>
    public static WeightsReference Random { get; } = new(null, null, null);

    /// <summary>True for <see cref="Random"/>.</summary>
    [JsonIgnore]
    public bool IsRandom => Path is null;

    /// <summary>
    /// The registry entry whose published file these bytes are (<see cref="PretrainedWeights.WithSha256"/> of
    /// <see cref="Sha256"/>), or null: random weights, a reference without a full checksum, or any other file, whatever its
    /// name. The one test behind every "ImageNet-pretrained" label.
    /// </summary>
    [JsonIgnore]
    public PretrainedWeights? Registered => Sha256 is { Length: 64 } sha ? PretrainedWeights.WithSha256(sha) : null;

    /// <summary>
    /// "ImageNet-pretrained vgg19 (torchvision's file)" where the file's SHA-256 is the registry's, "random weights (not
    /// pretrained)", or "weights from FILE (not torchvision's ImageNet file)" for any other file: a file of unknown origin is
    /// never called pretrained.
    /// </summary>
    [JsonIgnore]
    public string Label => IsRandom ? "random weights (not pretrained)"
        : Registered is { } w ? $"ImageNet-pretrained {w.Name} (torchvision's file)"
        : $"weights from {System.IO.Path.GetFileName(Path)} (not torchvision's ImageNet file)";

    /// <summary>How inputs are prepared for these weights: the registry entry's, else ImageNet's (every VGG file and random weights).</summary>
    [JsonIgnore]
    public Preprocessing Preprocessing => PretrainedWeights.Find(Name)?.Preprocessing ?? Preprocessing.ImageNet;

    /// <summary>
    /// The file at <paramref name="path"/>, pinned by the SHA-256 of its bytes as they are now (about a second for VGG19's
    /// 548 MB), labelled <paramref name="name"/> (a registry name, or null).
    /// </summary>
    public static WeightsReference OfFile(string path, string? name)
    {
        ArgumentNullException.ThrowIfNull(path);
        return new(name, System.IO.Path.GetFullPath(path), WeightsStore.Sha256Of(path));
    }

    /// <summary>
    /// The file at <paramref name="path"/>, hashed once and named by what its bytes are: the registry entry whose published
    /// file it is (<c>vgg19</c>), or no name for any other file — a file is never named after a registry entry by its
    /// file name or by the profile that asked for it.
    /// </summary>
    public static WeightsReference Identify(string path)
    {
        var file = OfFile(path, null);
        return file.Registered is { } entry ? file with { Name = entry.Name } : file;
    }

    /// <summary>
    /// Throws unless the file is still there with the checksum it was pinned with: what <paramref name="owner"/> (e.g. a
    /// checkpoint) was computed from. Random weights and a reference without a full checksum pass.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file is gone.</exception>
    /// <exception cref="InvalidDataException">The file was replaced: its SHA-256 differs.</exception>
    public void EnsureUnchanged(string owner)
    {
        if (Path is null)
            return;
        if (!File.Exists(Path))
            throw new FileNotFoundException($"{owner}: needs the pretrained weights it was trained on, {Path}, which is missing", Path);
        if (Sha256 is { Length: 64 } pinned && WeightsStore.Sha256Of(Path) is var now && !string.Equals(now, pinned, StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"{owner}: was trained from {Path} with SHA-256 {pinned}; that file now has SHA-256 {now} (replaced since training)");
    }
}
