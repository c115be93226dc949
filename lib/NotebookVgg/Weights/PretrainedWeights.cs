namespace NotebookVgg.Weights;

/// <summary>
/// A published set of pretrained weights, like an entry of torchvision's weights enums: where to get the file, how to
/// check it, how inputs must be prepared, what the outputs mean and how good it is.
/// </summary>
/// <param name="Name">Registry name: the torchvision builder name (<c>vgg19</c>, <c>vgg19_bn</c>, …) of its IMAGENET1K_V1 weights.</param>
/// <param name="Architecture">The <see cref="Models.Vgg"/> architecture the file fits.</param>
/// <param name="Url">Download address.</param>
/// <param name="Sha256">SHA-256 of the file: all 64 hex digits where established, otherwise the 8-digit prefix torchvision puts in the file name (see <see cref="Sha256IsPrefix"/>).</param>
/// <param name="Bytes">File size in bytes, where established.</param>
/// <param name="Format">File format, where established (torchvision's 2017 uploads are in the legacy format).</param>
/// <param name="Preprocessing">Input preparation the weights expect.</param>
/// <param name="Categories">Output class names, in logit order.</param>
/// <param name="Top1">ImageNet-1K validation top-1 accuracy, percent (single 224 crop), as published by torchvision.</param>
/// <param name="Top5">ImageNet-1K validation top-5 accuracy, percent.</param>
/// <param name="Parameters">Parameter count of the network these weights fill.</param>
public sealed record PretrainedWeights(
    string Name,
    string Architecture,
    Uri Url,
    string Sha256,
    long? Bytes,
    WeightsFormat? Format,
    Preprocessing Preprocessing,
    IReadOnlyList<string> Categories,
    double Top1,
    double Top5,
    long Parameters)
{
    /// <summary>The file name (last segment of <see cref="Url"/>), also its name in the weights cache.</summary>
    public string FileName => Path.GetFileName(Url.AbsolutePath);

    /// <summary>True when only the first hex digits of the SHA-256 are known (they are still checked).</summary>
    public bool Sha256IsPrefix => Sha256.Length < 64;

    /// <summary>ImageNet-1K's 1000 category names in class-index order (torchvision's <c>_IMAGENET_CATEGORIES</c>).</summary>
    public static IReadOnlyList<string> ImageNetCategories { get; } = LoadCategories();

    // Facts: URLs, accuracies and parameter counts from torchvision's models/vgg.py (VGG*_Weights.IMAGENET1K_V1;
    // torchvision 0.14.1 as packaged by Debian); the 8-digit SHA-256 prefix is the suffix of each file name.
    // Full SHA-256, size and format are established for vgg19 only (shared/notes/weights.md).

    /// <summary>torchvision's VGG19 ImageNet weights (the tutorial's starting point): 72.376 % top-1.</summary>
    public static PretrainedWeights Vgg19ImageNet { get; } = new(
        "vgg19", "vgg19", new Uri("https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"),
        "dcbb9e9dad569fff7a846263a77324fc34978fea2bfb039c012d710e1776ae44", 574_673_361, WeightsFormat.LegacyTorch,
        Preprocessing.ImageNet, ImageNetCategories, 72.376, 90.876, 143_667_240);

    /// <summary>torchvision's VGG19 with batch norm: 74.218 % top-1.</summary>
    public static PretrainedWeights Vgg19BnImageNet { get; } = Torchvision("vgg19_bn", "c79401a0", 74.218, 91.842, 143_678_248);

    /// <summary>Every registered weights entry.</summary>
    public static IReadOnlyList<PretrainedWeights> All { get; } =
    [
        Torchvision("vgg11", "8a719046", 69.020, 88.628, 132_863_336),
        Torchvision("vgg11_bn", "6002323d", 70.370, 89.810, 132_868_840),
        Torchvision("vgg13", "19584684", 69.928, 89.246, 133_047_848),
        Torchvision("vgg13_bn", "abd245e5", 71.586, 90.374, 133_053_736),
        Torchvision("vgg16", "397923af", 71.592, 90.382, 138_357_544),
        Torchvision("vgg16_bn", "6c64b313", 73.360, 91.516, 138_365_992),
        Vgg19ImageNet,
        Vgg19BnImageNet,
    ];

    /// <summary>The entry called <paramref name="name"/> (case-insensitive, trimmed), or null.</summary>
    public static PretrainedWeights? Find(string? name) =>
        name is null ? null : All.FirstOrDefault(w => string.Equals(w.Name, name.Trim(), StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The registry entry whose published file has this SHA-256 (64 hex digits, any case): equal to the entry's checksum, or
    /// starting with it where only torchvision's 8-digit prefix is known. Null for any other file — a file converted,
    /// re-saved or trained elsewhere, even from the same weights, is not the registry's file.
    /// </summary>
    public static PretrainedWeights? WithSha256(string sha256)
    {
        ArgumentNullException.ThrowIfNull(sha256);
        if (sha256.Length != 64)
            throw new ArgumentException($"SHA-256 '{sha256}': expected 64 hex digits", nameof(sha256));
        return All.FirstOrDefault(w => w.Sha256IsPrefix
            ? sha256.StartsWith(w.Sha256, StringComparison.OrdinalIgnoreCase)
            : string.Equals(sha256, w.Sha256, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>The entry called <paramref name="name"/> (case-insensitive); throws listing the known names.</summary>
    public static PretrainedWeights Get(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return Find(name)
            ?? throw new ArgumentException($"unknown weights '{name}' (known: {string.Join(", ", All.Select(w => w.Name))})", nameof(name));
    }

    private static PretrainedWeights Torchvision(string arch, string shaPrefix, double top1, double top5, long parameters) =>
        new(arch, arch, new Uri($"https://download.pytorch.org/models/{arch}-{shaPrefix}.pth"), shaPrefix, null, null,
            Preprocessing.ImageNet, ImageNetCategories, top1, top5, parameters);

    private static string[] LoadCategories()
    {
        const string resource = "NotebookVgg.Weights.imagenet-categories.txt";
        using var stream = typeof(PretrainedWeights).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"embedded resource {resource} missing from the NotebookVgg assembly");
        using var reader = new StreamReader(stream);
        var names = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return names.Length == 1000 ? names : throw new InvalidOperationException($"{resource}: {names.Length} names, expected 1000");
    }
}
