using NotebookVgg.Cli.Benchmarks;

namespace NotebookVgg.Cli.Tests.Benchmarks;

public class LayerTableTests
{
    private static LayerTiming L(string configuration, string layer, string kind, double f, double? d, double? w) =>
        new(configuration, layer, kind, "16×64×224×224", f, d, w);

    private static List<LayerTiming> Layers(string configuration, double scale) =>
    [
        L(configuration, "features.0", "Conv2d", 0.1 * scale, null, 0.2 * scale),
        L(configuration, "features.1", "ReLU", 0.01, 0.02, null),
        L(configuration, "features.2", "Conv2d", 0.5 * scale, 0.6 * scale, 0.7 * scale),
        L(configuration, "features.3", "ReLU", 0.01, 0.02, null),
        L(configuration, "features.4", "MaxPool2d", 0.03, 0.04, null),
        L(configuration, "avgpool", "AdaptiveAvgPool2d", 0.001, 0.001, null),
        L(configuration, "classifier.0", "Linear", 0.05, 0.06, 0.07),
        L(configuration, "classifier.2", "Dropout", 0.002, 0.001, null),
    ];

    [Fact]
    public void Rows_ListConvolutionsAndLinearLayers_SumTheRest_AndPutTheDefaultLayoutFirst()
    {
        var columns = LayerTable.Columns([.. Layers("fp32 channels-last", 2), .. Layers("fp32 NCHW", 1)],
            [new StepTiming("fp32 NCHW", 0.01, 1, 2, 0.1, 3.2), new StepTiming("fp32 channels-last", 0.01, 1.5, 3, 0.1, 4.7)],
            "fp32 NCHW", Layers("fp32 NCHW", 1.5), [new StepTiming("fp32 NCHW", 0.02, 1.2, 2.5, 0.2, 4.0)], "PyTorch 1.13.0a0");
        Assert.Equal(["nvgg fp32 NCHW (default)", "nvgg fp32 channels-last", "PyTorch 1.13.0a0 fp32 NCHW"], columns.Select(c => c.Title));

        var rows = LayerTable.Rows(columns);
        Assert.Equal(["features.0 Conv2d", "features.2 Conv2d", "classifier.0 Linear"], rows.Take(3).Select(r => r.Label.Split(" →")[0]));
        var conv = rows[1];
        Assert.Equal((0.5, 0.6, 0.7), conv.Cells[0]);
        Assert.Equal((1.0, 1.2, 1.4), conv.Cells[1]);
        Assert.Null(rows[0].Cells[0].Data); // the first layer's input needs no gradient
        var relu = Assert.Single(rows, r => r.Label == "ReLU in features");
        Assert.Equal(0.02, relu.Cells[0].Forward!.Value, 12);
        Assert.Null(relu.Cells[0].Weight);
        var sum = Assert.Single(rows, r => r.Label == "sum of the layers");
        Assert.Equal(0.1 + 0.01 + 0.5 + 0.01 + 0.03 + 0.001 + 0.05 + 0.002, sum.Cells[0].Forward!.Value, 12);
        var whole = Assert.Single(rows, r => r.Label == "step: whole");
        Assert.Equal([3.2, 4.7, 4.0], whole.Cells.Select(c => c.Forward!.Value));

        string md = LayerTable.Markdown(columns);
        Assert.Contains("| features.2 Conv2d → 16×64×224×224 | 500 | 600 | 700 | 1,000 | 1,200 | 1,400 | 750 | 900 | 1,050 |", md, StringComparison.Ordinal);
    }

    [Fact]
    public void PyTorchReport_WithLayers_IsReadAndMergedCaseByCase()
    {
        const string json = """
            {"framework": "PyTorch 1.13.0a0", "threads": 2, "blas": ["/usr/lib/libopenblas.so"], "results": [],
             "layers": [{"configuration": "fp32 NCHW", "layer": "features.0", "kind": "Conv2d", "output": "16×64×224×224",
                         "forwardSeconds": 0.1, "dataGradientSeconds": null, "weightGradientSeconds": 0.2}],
             "steps": [{"configuration": "fp32 NCHW", "zeroGradSeconds": 0.01, "forwardSeconds": 1, "backwardSeconds": 2, "optimizerSeconds": 0.1, "totalSeconds": 3.2}]}
            """;
        var layers = PyTorchReference.Parse(json, "test");
        var train = PyTorchReference.Parse("""{"framework": "PyTorch 1.13.0a0", "threads": 2, "blas": [], "results": [{"case": "train", "name": "t", "images": 16, "imagesPerSecond": 1.0, "gflopsPerSecond": 100, "seconds": 16, "peakRssMb": 1}]}""", "test");
        Assert.Null(train.Layers);
        var merged = PyTorchReference.Merge([train, layers])!;
        Assert.Equal("PyTorch 1.13.0a0", merged.Framework);
        Assert.Equal("train", Assert.Single(merged.Results).Case);
        Assert.Equal(0.2, Assert.Single(merged.Layers!).WeightGradientSeconds);
        Assert.Equal(3.2, Assert.Single(merged.Steps!).TotalSeconds);
        Assert.Null(PyTorchReference.Merge([]));
    }

    [Fact]
    public void PyTorchReport_SaysWhichKernelsItRan()
    {
        const string json = """
            {"framework": "PyTorch 1.13.0a0", "threads": 2, "blas": ["/usr/lib/libopenblasp-r0.3.21.so"], "results": [],
             "blasCore": "Haswell", "oneDnn": "oneDNN v2.6.3 (commit N/A), Intel AVX2; fp32 convolution kernel jit:avx2"}
            """;
        var report = PyTorchReference.Parse(json, "test");
        Assert.Equal("Haswell", report.BlasCore);
        Assert.Equal("PyTorch 1.13.0a0, 2 threads, BLAS /usr/lib/libopenblasp-r0.3.21.so (Haswell kernels); oneDNN v2.6.3 (commit N/A), Intel AVX2; fp32 convolution kernel jit:avx2",
            report.Describe());
        // An older script's report has neither: it says so rather than guessing.
        Assert.EndsWith("BLAS /usr/lib/libopenblas.so; oneDNN: not seen",
            PyTorchReference.Parse("""{"framework": "PyTorch", "threads": 2, "blas": ["/usr/lib/libopenblas.so"], "results": []}""", "test").Describe(), StringComparison.Ordinal);
    }
}
