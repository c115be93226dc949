using NotebookVgg.Data;
using static TorchSharp.torch;

namespace NotebookVgg.Inspection;

/// <summary>How <see cref="FeatureSpace.KnnPredict"/> measures how near two vectors are.</summary>
public enum KnnMetric
{
    /// <summary>Cosine similarity: the angle between the vectors, whatever their lengths (each row scaled to length 1 first).</summary>
    Cosine,

    /// <summary>Euclidean (L2) distance.</summary>
    L2,
}

/// <summary>
/// A 2-D principal-component projection (<see cref="FeatureSpace.Pca2D"/>): N×2 <see cref="Points"/>, the two directions
/// they were projected on, the mean that was subtracted first, and how much of the total variance each direction keeps.
/// </summary>
public sealed class PcaProjection : IDisposable
{
    internal PcaProjection(Tensor points, Tensor components, Tensor mean, double[] explained)
    {
        Points = points;
        Components = components;
        Mean = mean;
        ExplainedVarianceRatio = explained;
    }

    /// <summary>N×2 float32: each row's coordinates along the first and the second principal component.</summary>
    public Tensor Points { get; }

    /// <summary>2×D float32, unit rows: the first two principal directions. Each is signed so that its largest-magnitude entry is positive.</summary>
    public Tensor Components { get; }

    /// <summary>D float32: the mean row, subtracted before projecting.</summary>
    public Tensor Mean { get; }

    /// <summary>The share of the total variance along each of the two components (0–1; the two add up to at most 1).</summary>
    public IReadOnlyList<double> ExplainedVarianceRatio { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        Points.Dispose();
        Components.Dispose();
        Mean.Dispose();
    }
}

/// <summary>
/// The feature space before any training: a 2-D picture of it (PCA) and the simplest classifier that uses nothing but
/// distances in it (k nearest neighbours). Both work on any N×D float tensor: cached fc7 features, or raw pixels
/// (<see cref="Pixels"/>) for comparison.
/// </summary>
public static class FeatureSpace
{
    /// <summary>Rows of the query matrix compared with the reference set at a time (bounds the memory of the N×M similarities).</summary>
    public const int QueryChunk = 1024;

    /// <summary>Dimensions (min of rows and columns) up to which <see cref="Pca2D"/> decomposes the data exactly; above, it uses subspace iteration.</summary>
    public const int ExactPcaLimit = 256;

    /// <summary>
    /// uint8 images N×C×H×W as N×(C·H·W) float32 in [0, 1], one row per image: the "raw pixels" a feature space is compared with.
    /// </summary>
    public static Tensor Pixels(Tensor uint8Images)
    {
        ArgumentNullException.ThrowIfNull(uint8Images);
        using var scope = NewDisposeScope();
        return ImageTransforms.ToFloat(uint8Images).flatten(1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Projects the rows of <paramref name="x"/> (N×D, N ≥ 3, D ≥ 2) onto their first two principal components: the rows
    /// are centred, and the two directions of largest variance found with <c>torch.linalg.svd</c> — of the centred data
    /// itself when N or D is at most <see cref="ExactPcaLimit"/>, otherwise of its projection onto a 12-dimensional
    /// subspace refined by 8 rounds of subspace iteration (Halko, Martinsson and Tropp 2011; what <c>torch.pca_lowrank</c>
    /// does), which finds the same two directions up to float32 rounding unless the second and third variances are nearly
    /// equal. The random start comes from <paramref name="seed"/> (a generator of its own: torch's global one is not touched).
    /// </summary>
    public static PcaProjection Pca2D(Tensor x, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.dim() != 2 || x.shape[0] < 3 || x.shape[1] < 2)
            throw new ArgumentException($"expected N×D rows with N ≥ 3 and D ≥ 2, got [{string.Join("×", x.shape)}]", nameof(x));
        if (!x.is_floating_point())
            throw new ArgumentException($"expected float rows, got {x.dtype} (Pixels turns uint8 images into rows)", nameof(x));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var data = x.to(CPU).to_type(ScalarType.Float32);
        var mean = data.to_type(ScalarType.Float64).mean([0]).to_type(ScalarType.Float32);
        var centred = data - mean;
        long n = centred.shape[0], d = centred.shape[1];

        Tensor vh;
        Tensor singular;
        if (Math.Min(n, d) <= ExactPcaLimit)
        {
            (_, singular, vh) = linalg.svd(centred, fullMatrices: false);
        }
        else
        {
            using var generator = new Generator((ulong)seed);
            int q = (int)Math.Min(12, Math.Min(n, d));
            var basis = Orthonormal(centred.matmul(randn([d, q], generator: generator)));
            for (int i = 0; i < 8; i++)
                basis = Orthonormal(centred.matmul(Orthonormal(centred.T.matmul(basis))));
            (_, singular, vh) = linalg.svd(basis.T.matmul(centred), fullMatrices: false);
        }
        var components = vh.narrow(0, 0, 2).contiguous();
        // Fix each direction's sign (an SVD may return either): its largest-magnitude entry is positive.
        var largest = components.abs().argmax(1, keepdim: true);
        var signs = components.gather(1, largest).sign();
        components = components * where(signs == 0, ones_like(signs), signs);

        double total = centred.to_type(ScalarType.Float64).square().sum().item<double>();
        double[] explained = [.. singular.narrow(0, 0, 2).to_type(ScalarType.Float64).square().data<double>().Select(s => total > 0 ? s / total : 0)];
        var points = centred.matmul(components.T);
        return new PcaProjection(points.MoveToOuterDisposeScope(), components.MoveToOuterDisposeScope(), mean.MoveToOuterDisposeScope(), explained);

        static Tensor Orthonormal(Tensor m) => linalg.qr(m, linalg.QRMode.Reduced).Q;
    }

    /// <summary>
    /// Predicts each row of <paramref name="queries"/> (N×D) by majority vote among its <paramref name="k"/> nearest rows of
    /// <paramref name="reference"/> (M×D, labels 0…C−1 in <paramref name="referenceLabels"/>), nearest by
    /// <paramref name="metric"/>; k larger than M uses all M. A tie in the vote goes to the tied class whose member ranks
    /// nearest. No training: the reference set is the whole model. Returns N int64 class indices.
    /// </summary>
    public static Tensor KnnPredict(Tensor reference, Tensor referenceLabels, Tensor queries, int k, KnnMetric metric = KnnMetric.Cosine)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(referenceLabels);
        ArgumentNullException.ThrowIfNull(queries);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        if (reference.dim() != 2 || queries.dim() != 2 || reference.shape[1] != queries.shape[1])
            throw new ArgumentException($"expected reference M×D and queries N×D, got [{string.Join("×", reference.shape)}] and [{string.Join("×", queries.shape)}]");
        if (referenceLabels.dim() != 1 || referenceLabels.shape[0] != reference.shape[0])
            throw new ArgumentException($"{referenceLabels.shape.FirstOrDefault()} labels for {reference.shape[0]} reference rows", nameof(referenceLabels));
        if (reference.shape[0] == 0)
            throw new ArgumentException("the reference set is empty", nameof(reference));

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var device = reference.device;
        var r = reference.to_type(ScalarType.Float32);
        var labels = referenceLabels.to(device).to_type(ScalarType.Int64);
        int classes = (int)labels.max().item<long>() + 1;
        int kk = (int)Math.Min(k, r.shape[0]);
        if (metric == KnnMetric.Cosine)
            r = nn.functional.normalize(r, p: 2, dim: 1);
        var referenceNorms = r.square().sum(1); // L2 only
        // Earlier ranks weigh more in the tie-break; any vote outweighs every tie-break (kk + 1 > kk).
        var rankWeight = arange(kk, 0, -1, dtype: ScalarType.Float32, device: device).view(1, kk, 1);

        var predictions = new List<Tensor>();
        for (long start = 0; start < queries.shape[0]; start += QueryChunk)
        {
            using var chunkScope = NewDisposeScope();
            var q = queries.narrow(0, start, Math.Min(QueryChunk, queries.shape[0] - start)).to(device).to_type(ScalarType.Float32);
            Tensor nearest;
            if (metric == KnnMetric.Cosine)
            {
                nearest = nn.functional.normalize(q, p: 2, dim: 1).matmul(r.T).topk(kk, dim: 1, largest: true, sorted: true).indexes;
            }
            else
            {
                var distances = q.square().sum(1, keepdim: true) - 2 * q.matmul(r.T) + referenceNorms.unsqueeze(0);
                nearest = distances.topk(kk, dim: 1, largest: false, sorted: true).indexes;
            }
            var votes = nn.functional.one_hot(labels[nearest], classes).to_type(ScalarType.Float32); // n×k×C
            var score = votes.sum(1) * (kk + 1) + (votes * rankWeight).amax(1);
            predictions.Add(score.argmax(1).to(CPU).MoveToOuterDisposeScope());
        }
        return cat(predictions, 0).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The share of <paramref name="queries"/> whose <see cref="KnnPredict"/> class equals <paramref name="queryLabels"/>:
    /// how well the feature space alone, without any training, separates the classes.
    /// </summary>
    public static double KnnAccuracy(Tensor reference, Tensor referenceLabels, Tensor queries, Tensor queryLabels, int k,
        KnnMetric metric = KnnMetric.Cosine)
    {
        ArgumentNullException.ThrowIfNull(queryLabels);
        ArgumentNullException.ThrowIfNull(queries);
        if (queryLabels.dim() != 1 || queryLabels.shape[0] != queries.shape[0])
            throw new ArgumentException($"{queryLabels.shape.FirstOrDefault()} labels for {queries.shape[0]} queries", nameof(queryLabels));
        if (queries.shape[0] == 0)
            throw new ArgumentException("no queries", nameof(queries));
        using var predicted = KnnPredict(reference, referenceLabels, queries, k, metric);
        using var truth = queryLabels.to(CPU).to_type(ScalarType.Int64);
        using var right = predicted.eq(truth);
        return right.to_type(ScalarType.Float64).mean().item<double>();
    }
}
