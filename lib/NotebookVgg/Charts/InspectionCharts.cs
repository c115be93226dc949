using System.Globalization;
using NotebookVgg.Data;
using NotebookVgg.Inspection;
using Plotly.NET;
using Plotly.NET.CSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Charts;

/// <summary>Charts of what a network looks at (notebook 5's Grad-CAM section).</summary>
public static class InspectionCharts
{
    // Share of the heat map in an overlay pixel: enough colour to read the map, enough image to see the object.
    private const double HeatShare = 0.45;

    /// <summary>
    /// One row per image: the image captioned "true X / predicted Y (p)", then the image tinted with its Grad-CAM map
    /// for the predicted class and with a second map, <paramref name="forTrue"/> (jet colours: red where the evidence for the
    /// class is strongest, blue where there is none). The second map is usually the true class's; given
    /// <paramref name="trueClasses"/>, it may be another class (e.g. the runner-up where the prediction is right, so that
    /// the row does not show the same map twice), and its caption says which: "(true)", or "(runner-up, p)" for the
    /// predicted map's second most probable class, else "(other)". <paramref name="title"/> should say which data and
    /// weights the maps came from; <paramref name="note"/> (e.g. "random weights: expected to show no structure") gets a
    /// line of its own.
    /// </summary>
    public static GenericChart GradCam(Tensor images, ClassActivationMaps forPredicted, ClassActivationMaps forTrue,
        IReadOnlyList<string> classNames, string title, string? note = null, int cellSize = 150,
        IReadOnlyList<int>? trueClasses = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(forPredicted);
        ArgumentNullException.ThrowIfNull(forTrue);
        ArgumentNullException.ThrowIfNull(classNames);
        int n = (int)images.shape[0];
        if (images.dtype != ScalarType.Byte || images.dim() != 4 || images.shape[1] != 3)
            throw new ArgumentException($"expected uint8 N×3×H×W images, got {images.dtype} [{string.Join("×", images.shape)}]", nameof(images));
        if (forPredicted.Maps.shape[0] != n || forTrue.Maps.shape[0] != n)
            throw new ArgumentException($"{n} images but {forPredicted.Maps.shape[0]} and {forTrue.Maps.shape[0]} maps");
        if (n == 0)
            throw new ArgumentException("no images to show", nameof(images));
        if (trueClasses is not null && trueClasses.Count != n)
            throw new ArgumentException($"{n} images but {trueClasses.Count} true classes", nameof(trueClasses));

        using var scope = NewDisposeScope();
        const int displaySize = 128; // CIFAR's 32×32 and the map enlarged alike, so the colours line up with the pixels
        var cells = new List<Tensor>();
        var captions = new List<string>();
        for (int i = 0; i < n; i++)
        {
            int trueClass = trueClasses?[i] ?? forTrue.Classes[i], second = forTrue.Classes[i];
            string truth = classNames[trueClass], predicted = classNames[forPredicted.Predicted[i]];
            string predictedMap = classNames[forPredicted.Classes[i]]; // the predicted class, when made with model.GradCam(images)
            string p = forPredicted.PredictedProbability(i).ToString("P0", CultureInfo.InvariantCulture);
            var image = ImageTransforms.Resize(ImageTransforms.ToFloat(images[i].unsqueeze(0)), displaySize, Interpolation.Bilinear);
            cells.Add(image);
            captions.Add($"true {truth} / predicted {predicted} ({p})");
            cells.Add(Overlay(image, forPredicted.Maps[i], displaySize));
            captions.Add(truth == predictedMap ? $"map: {predictedMap} (predicted = true)" : $"map: {predictedMap} (predicted)");
            cells.Add(Overlay(image, forTrue.Maps[i], displaySize));
            string secondRole = second == trueClass ? "true"
                : second == forPredicted.RunnerUp(i)
                    ? "runner-up, " + forPredicted.Probabilities[i][second].ToString("P0", CultureInfo.InvariantCulture)
                    : "other";
            captions.Add($"map: {classNames[second]} ({secondRole})");
        }
        var grid = cat(cells, 0).clamp(0, 1);
        long[] shape = forTrue.ActivationShape;
        const int columnWidth = 250; // wide enough for "true automobile / predicted airplane (100 %)"
        const int width = columnWidth * 3 + 40, smallChars = (width - 40) * 10 / 65; // 12-pixel type: about 6.5 pixels a character
        // The first lines are the caller's (which data and weights); the smaller lines say how to read the colours.
        var lines = ChartTitles.Lines(title, ChartTitles.CharsPerLine(width));
        lines.AddRange(ChartTitles.Words($"Grad-CAM at {forTrue.TargetLayer} ({shape[1]}×{shape[2]} cells, enlarged): " +
            "red = strongest evidence for the class, blue = none", smallChars).Select(Small));
        if (!string.IsNullOrEmpty(note))
            lines.AddRange(ChartTitles.Words(note, smallChars).Select(Small));
        var chart = NotebookCharts.ImageGrid(grid, captions, 3, string.Join("<br>", lines), cellSize: cellSize);
        int top = 44 + ChartTitles.TitleTop + 22 * lines.Count, height = top + 20 + (cellSize + 40) * n;
        var margin = new Plotly.NET.LayoutObjects.Margin();
        margin.SetProperty("t", top);
        margin.SetProperty("l", 20);
        margin.SetProperty("r", 20);
        margin.SetProperty("b", 20);
        var titled = ChartTitles.Pinned(chart, string.Join("<br>", lines), top); // grows downwards into a margin sized for its lines
        return Plotly.NET.Chart.withMargin(margin).Invoke(titled).WithSize(width, height);
    }

    private static string Small(string text) => $"<span style=\"font-size: 12px\">{text}</span>";

    /// <summary>The image (1×3×S×S in [0,1]) mixed with the map's jet colours.</summary>
    private static Tensor Overlay(Tensor image, Tensor map, int size)
    {
        var m = ImageTransforms.Resize(map.to_type(ScalarType.Float32).view(1, 1, map.shape[0], map.shape[1]), size, Interpolation.Bilinear).clamp(0, 1);
        return image * (1 - HeatShare) + Jet(m) * HeatShare;
    }

    /// <summary>The jet colour map (MATLAB's, as the Grad-CAM paper draws its maps): 0 dark blue, ½ green, 1 dark red.</summary>
    private static Tensor Jet(Tensor m)
    {
        Tensor Channel(double centre) => (1.5 - (m * 4 - centre).abs()).clamp(0, 1);
        return cat([Channel(3), Channel(2), Channel(1)], 1);
    }
}
