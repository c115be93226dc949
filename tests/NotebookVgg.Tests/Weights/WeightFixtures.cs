using System.Text.Json;
using NotebookVgg.Models;
using NotebookVgg.Tests.TestSupport;
using NotebookVgg.Weights;
using static TorchSharp.torch;

namespace NotebookVgg.Tests.Weights;

/// <summary>
/// The files tests/fixtures/make_fixtures.py wrote with real PyTorch (reduced-width VGGs, their input and logits).
/// Tests never need PyTorch; a missing fixture fails loudly.
/// </summary>
public static class WeightFixtures
{
    public const int WidthDivisor = 32;
    public const int Hidden = 16;
    public const int Classes = 10;

    public static string Path(string name)
    {
        string path = RepoFiles.Path("tests", "fixtures", "weights", name);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: fixture missing; run /usr/bin/python3 tests/fixtures/make_fixtures.py");
        return path;
    }

    public static JsonElement Manifest { get; } = JsonDocument.Parse(File.ReadAllText(Path("manifest.json"))).RootElement;

    /// <summary>(file, format, architecture) of every model fixture.</summary>
    public static TheoryData<string, string, string> Files()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var f in Manifest.GetProperty("files").EnumerateArray())
            data.Add(f.GetProperty("file").GetString()!, f.GetProperty("format").GetString()!, f.GetProperty("architecture").GetString()!);
        return data;
    }

    public static Vgg Model(string architecture) => Vgg.CreateReducedWidth(architecture, WidthDivisor, Hidden, Classes);

    public static Tensor Input()
    {
        using var sd = StateDict.Read(Path("input.safetensors"));
        return sd["input"].clone();
    }

    public static Tensor Expected(string key)
    {
        using var sd = StateDict.Read(Path("expected.safetensors"));
        return sd[key].clone();
    }

    /// <summary>The tolerance: max |a - b| ≤ 1e-5 × max |expected|.</summary>
    public static void AssertClose(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.shape, actual.shape);
        double scale = expected.abs().max().item<float>();
        double diff = (expected - actual).abs().max().item<float>();
        Assert.True(diff <= 1e-5 * scale, $"max abs difference {diff:g3} exceeds 1e-5 × {scale:g3}");
    }
}
