using System.Globalization;
using System.Text.Json;
using NotebookVgg.Charts;
using NotebookVgg.Data;
using NotebookVgg.Inspection;
using NotebookVgg.Runtime;
using NotebookVgg.Tests.TestSupport;
using NotebookVgg.Training;
using NotebookVgg.Transfer;
using static TorchSharp.torch;

namespace NotebookVgg.Tests.Inspection;

/// <summary>Issue 16, item 2: the feature space before training — a PCA picture and a k-nearest-neighbour accuracy.</summary>
[Collection(GlobalRandomState.Name)]
public sealed class FeatureSpaceTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    // ---- PCA ----

    [Fact]
    public void Pca2D_RecoversADominantDirection_AndItsCoordinates()
    {
        using var generator = new Generator(11);
        var u = tensor(new[] { 3f, -1f, 2f, 0.5f, 0f });
        u /= u.norm();
        var t = linspace(-10, 10, 201);
        var x = t.unsqueeze(1) * u + 0.01f * randn([201, 5], generator: generator) + tensor(new[] { 5f, 5f, -2f, 0f, 1f });

        using var pca = FeatureSpace.Pca2D(x);

        Assert.True(allclose(pca.Components[0], u, atol: 1e-3), $"first component {Row(pca.Components[0])}, expected {Row(u)}");
        Assert.True(pca.ExplainedVarianceRatio[0] > 0.999, $"explained {pca.ExplainedVarianceRatio[0]}");
        Assert.True(allclose(pca.Points.select(1, 0), t, atol: 0.05), "the coordinate along the first component is t");
        Assert.InRange(pca.Points.select(1, 1).abs().max().item<float>(), 0, 0.1f); // the rest is noise
    }

    [Fact]
    public void Pca2D_SignsAreFixed_SoTheSameDataGivesTheSamePicture()
    {
        var x = Anisotropic(60, 8, seed: 2);
        using var pca = FeatureSpace.Pca2D(x);
        using var negated = FeatureSpace.Pca2D(-x);

        Assert.True(allclose(pca.Components, negated.Components, atol: 1e-5), "components do not depend on the sign of the data");
        Assert.True(allclose(pca.Points, -negated.Points, atol: 1e-4));
        for (int c = 0; c < 2; c++)
            Assert.True(pca.Components[c].max().item<float>() >= -pca.Components[c].min().item<float>(), "the largest entry is positive");
    }

    [Trait("Category", "PyTorch")]
    [Theory]
    [InlineData(80, 12)]    // exact: svd of the centred data
    [InlineData(700, 300)]  // above ExactPcaLimit: subspace iteration
    public void Pca2D_MatchesNumpysExactSvd(int n, int d)
    {
        Assert.Equal(n == 80, Math.Min(n, d) <= FeatureSpace.ExactPcaLimit);
        var x = Anisotropic(n, d, seed: 3);

        using var pca = FeatureSpace.Pca2D(x);
        var (points, ratio) = NumpyPca(x);

        float scale = points.abs().max().item<float>();
        float worst = (pca.Points - points).abs().max().item<float>();
        Assert.True(worst <= 1e-4 * scale, $"largest difference from numpy {worst} (coordinates up to {scale})");
        Assert.Equal(ratio[0], pca.ExplainedVarianceRatio[0], 4);
        Assert.Equal(ratio[1], pca.ExplainedVarianceRatio[1], 4);
    }

    // ---- k nearest neighbours ----

    [Theory]
    [InlineData(KnnMetric.Cosine)]
    [InlineData(KnnMetric.L2)]
    public void Knn_SeparatedClusters_AreAllRight_ShuffledLabels_AreNearChance(KnnMetric metric)
    {
        var (reference, referenceLabels) = Clusters(perClass: 100, seed: 1);
        var (queries, queryLabels) = Clusters(perClass: 100, seed: 2);

        Assert.Equal(1.0, FeatureSpace.KnnAccuracy(reference, referenceLabels, queries, queryLabels, k: 10, metric));

        using var g = new Generator(9);
        var shuffled = referenceLabels[randperm(referenceLabels.shape[0], generator: g)];
        double chance = FeatureSpace.KnnAccuracy(reference, shuffled, queries, queryLabels, k: 10, metric);
        Assert.InRange(chance, 0.03, 0.2);
    }

    [Theory]
    [InlineData(KnnMetric.Cosine, 7)]
    [InlineData(KnnMetric.L2, 7)]
    [InlineData(KnnMetric.L2, 1)]
    public void Knn_EqualsABruteForceReference(KnnMetric metric, int k)
    {
        using var g = new Generator(21);
        var reference = randn([300, 16], generator: g);
        var labels = randint(0, 5, [300], generator: g);
        var queries = randn([1500, 16], generator: g); // more than one chunk of queries
        var queryLabels = randint(0, 5, [1500], generator: g);

        long[] predicted = FeatureSpace.KnnPredict(reference, labels, queries, k, metric).data<long>().ToArray();
        long[] expected = BruteForceKnn(reference, labels, queries, k, metric);

        Assert.Equal(expected, predicted);
        long[] truth = queryLabels.data<long>().ToArray();
        double accuracy = expected.Zip(truth).Count(p => p.First == p.Second) / (double)truth.Length;
        Assert.Equal(accuracy, FeatureSpace.KnnAccuracy(reference, labels, queries, queryLabels, k, metric), 12);
    }

    [Fact]
    public void Knn_ATiedVote_GoesToTheClassOfTheNearest_AndKBeyondTheReferenceUsesAll()
    {
        // Along a line from the query at 0: class 1 at 1, class 0 at 2 and 3, class 1 at 4. Two votes each with k = 4.
        var reference = tensor(new float[,] { { 2, 0 }, { 3, 0 }, { 1, 0 }, { 4, 0 } });
        var labels = tensor(new long[] { 0, 0, 1, 1 });
        var query = zeros(1, 2);

        Assert.Equal(1L, FeatureSpace.KnnPredict(reference, labels, query, 4, KnnMetric.L2)[0].item<long>());
        Assert.Equal(0L, FeatureSpace.KnnPredict(reference, labels, query, 3, KnnMetric.L2)[0].item<long>());
        Assert.Equal(FeatureSpace.KnnPredict(reference, labels, query, 4, KnnMetric.L2).data<long>().ToArray(),
            FeatureSpace.KnnPredict(reference, labels, query, 50, KnnMetric.L2).data<long>().ToArray());
    }

    [Fact]
    public void Pixels_AreOneRowOfFloatsPerImage()
    {
        using var images = arange(2 * 3 * 4 * 4, dtype: ScalarType.Byte).reshape(2, 3, 4, 4);
        using var rows = FeatureSpace.Pixels(images);
        Assert.Equal(new long[] { 2, 48 }, rows.shape);
        Assert.Equal(95f / 255f, rows[1, 47].item<float>(), 6);
    }

    // ---- the chart ----

    [Fact]
    public void ClassScatter_ColoursEachClass_WithOneLegendEntryPerClass()
    {
        var points = tensor(new float[,] { { 0, 0 }, { 1, 1 }, { 2, 0 }, { 3, 1 } });
        var labels = tensor(new long[] { 0, 1, 0, 2 });
        string[] names = ["airplane", "automobile", "bird"];

        var chart = FeatureCharts.ClassScatter([("fc7 features", points), ("raw pixels", points * 2)], labels, names,
            "PCA (synthetic data, random weights)");

        var figure = JsonDocument.Parse(OfflineHtml.FigureJson(chart)).RootElement;
        var traces = figure.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(6, traces.Count); // 3 classes × 2 panels
        Assert.Equal(names, traces.Take(3).Select(t => t.GetProperty("name").GetString()));
        Assert.All(traces.Take(3), t => Assert.True(t.GetProperty("showlegend").GetBoolean()));
        Assert.All(traces.Skip(3), t => Assert.False(t.GetProperty("showlegend").GetBoolean()));
        Assert.Equal(traces[0].GetProperty("legendgroup").GetString(), traces[3].GetProperty("legendgroup").GetString());
        Assert.Equal([0.0, 2.0], traces[0].GetProperty("x").EnumerateArray().Select(v => v.GetDouble()));
        Assert.Equal([0.0, 4.0], traces[3].GetProperty("x").EnumerateArray().Select(v => v.GetDouble()));
        Assert.Contains("random weights", figure.GetProperty("layout").GetProperty("title").GetProperty("text").GetString(), StringComparison.Ordinal);
    }

    // ---- the run's cached features ----

    [Fact]
    public void Features_FillTheCacheThatRunThenReads()
    {
        string data = SyntheticCifar.Write(_dir.Combine("synth"), 200, 100, seed: 5);
        var settings = TransferSettings.FromProfile(Profiles.Smoke, data, weightsPath: null) with
        {
            Options = Profiles.Smoke.Options with { Epochs = 1, Precision = Precision.Fp32 },
            TrainPerClass = 10,
            TestPerClass = 5,
            FeatureCacheDirectory = _dir.Combine("features"),
        };

        using (var features = new TransferLearning().Features(settings))
        {
            Assert.False(features.Train.FromCache);
            Assert.Equal(new long[] { 100, 4096 }, features.Train.Features.shape);
            Assert.Equal(50, features.Test.Count);
            Assert.Equal(10, features.ClassNames.Length);
            Assert.Contains("synthetic", features.DataName, StringComparison.Ordinal);
            double knn = FeatureSpace.KnnAccuracy(features.Train.Features, features.Train.Labels, features.Test.Features, features.Test.Labels, 5);
            Assert.True(knn > 0.3, $"kNN on synthetic data (separable by any features) {knn}");
        }

        var run = new TransferLearning().Run(settings);
        Assert.True(run.FeaturesFromCache, "Run read the features Features computed");
    }

    // ---- helpers ----

    private static string Row(Tensor t) => string.Join(", ", t.data<float>().ToArray().Select(v => v.ToString("F3", CultureInfo.InvariantCulture)));

    /// <summary>n×d rows with variances 64, 16, 4, 2.25, then 1, along random orthogonal directions, shifted away from 0.</summary>
    private static Tensor Anisotropic(int n, int d, int seed)
    {
        using var g = new Generator((ulong)seed);
        var scales = ones(d);
        scales[0] = 8; scales[1] = 4; scales[2] = 2; scales[3] = 1.5f;
        var rotation = linalg.qr(randn([d, d], generator: g)).Q;
        return (randn([n, d], generator: g) * scales).matmul(rotation.T) + 3;
    }

    /// <summary>Ten classes, each a tight cloud around its own corner of a 10-dimensional cube.</summary>
    private static (Tensor Points, Tensor Labels) Clusters(int perClass, int seed)
    {
        using var g = new Generator((ulong)seed);
        var labels = arange(10).repeat_interleave(perClass);
        var centres = eye(10) * 20 + 1;
        return (centres[labels] + 0.5f * randn([10 * perClass, 10], generator: g), labels);
    }

    /// <summary>kNN written out in doubles: sort the reference by distance, count the first k labels, break ties by rank.</summary>
    private static long[] BruteForceKnn(Tensor reference, Tensor labels, Tensor queries, int k, KnnMetric metric)
    {
        float[] r = reference.contiguous().data<float>().ToArray(), q = queries.contiguous().data<float>().ToArray();
        long[] y = labels.data<long>().ToArray();
        int m = (int)reference.shape[0], n = (int)queries.shape[0], d = (int)reference.shape[1];
        var result = new long[n];
        for (int i = 0; i < n; i++)
        {
            var distance = new double[m];
            for (int j = 0; j < m; j++)
            {
                double dot = 0, qq = 0, rr = 0, l2 = 0;
                for (int c = 0; c < d; c++)
                {
                    double a = q[i * d + c], b = r[j * d + c];
                    dot += a * b; qq += a * a; rr += b * b; l2 += (a - b) * (a - b);
                }
                distance[j] = metric == KnnMetric.Cosine ? -dot / (Math.Sqrt(qq) * Math.Sqrt(rr)) : l2;
            }
            var nearest = Enumerable.Range(0, m).OrderBy(j => distance[j]).Take(k).ToArray();
            result[i] = nearest.Select(j => y[j]).Distinct()
                .OrderByDescending(c => nearest.Count(j => y[j] == c))
                .ThenBy(c => Array.FindIndex(nearest, j => y[j] == c))
                .First();
        }
        return result;
    }

    /// <summary>numpy's exact PCA (SVD of the centred rows in float64, the same sign rule): the 2-D points and explained-variance shares.</summary>
    private (Tensor Points, double[] Ratio) NumpyPca(Tensor x)
    {
        string file = _dir.Combine("x.f32");
        File.WriteAllBytes(file, x.contiguous().bytes.ToArray());
        string script = $$"""
            import json, numpy as np
            x = np.fromfile("{{file}}", dtype="<f4").reshape({{x.shape[0]}}, {{x.shape[1]}}).astype(np.float64)
            xc = x - x.mean(0)
            u, s, vt = np.linalg.svd(xc, full_matrices=False)
            comps = vt[:2] * np.sign(vt[:2][np.arange(2), np.abs(vt[:2]).argmax(1)])[:, None]
            print(json.dumps({"points": (xc @ comps.T).ravel().tolist(), "ratio": (s[:2] ** 2 / (xc ** 2).sum()).tolist()}))
            """;
        string output = DebianPython.Run("-c", script);
        var json = JsonDocument.Parse(output).RootElement;
        float[] points = [.. json.GetProperty("points").EnumerateArray().Select(v => (float)v.GetDouble())];
        double[] ratio = [.. json.GetProperty("ratio").EnumerateArray().Select(v => v.GetDouble())];
        return (tensor(points).view(-1, 2), ratio);
    }
}
