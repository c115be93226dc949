using NotebookVgg.Models;
using NotebookVgg.Notebooks;
using NotebookVgg.Tests.TestSupport;

namespace NotebookVgg.Tests.Notebooks;

/// <summary>Notebook 3's cost table: its columns agree with each other and with the architecture's multiply-adds.</summary>
[Collection(GlobalRandomState.Name)] // times a forward pass: runs alone
public class InputSizeCostTests
{
    [Fact]
    public void Measure_GivesMacsFromTheArchitecture_AndRatesFromTheMeasuredSeconds()
    {
        using var model = Vgg.Create("vgg11");
        int[] sizes = [64, 128]; // large enough that a batch takes milliseconds, not a rounded 0

        var cost = InputSizeCost.Measure(model, sizes, batch: 2, repeats: 3);

        Assert.Equal(["input size", "GMACs per image", "× the work of 64", "seconds per batch of 2 (median of 3)", "spread (fastest–slowest)",
            "× the time of 64", "images per second", "GMACs per second"], cost.Columns.Select(c => c.Name));
        for (int row = 0; row < sizes.Length; row++)
        {
            double gmacs = (double)cost["GMACs per image"][row]!;
            double seconds = (double)cost["seconds per batch of 2 (median of 3)"][row]!;
            Assert.Equal(Math.Round(ModelSummary.Of(model, sizes[row]).MacsUnder("features") / 1e9, 3), gmacs);
            Assert.True(seconds > 0, $"size {sizes[row]}: {seconds} s");
            // The median lies within the spread the row shows.
            var spread = ((string)cost["spread (fastest–slowest)"][row]!).Split('–').Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            Assert.InRange(seconds, spread[0] - 0.0005, spread[1] + 0.0005);
            // The rates are the rounded seconds' ratios up to rounding: recompute them from the unrounded ones' bounds.
            Assert.InRange((double)cost["images per second"][row]!, 2 / (seconds + 0.0005) - 0.05, 2 / Math.Max(seconds - 0.0005, 1e-9) + 0.05);
            Assert.InRange((double)cost["GMACs per second"][row]!, gmacs * 2 / (seconds + 0.0005) - 0.05,
                gmacs * 2 / Math.Max(seconds - 0.0005, 1e-9) + 0.05);
        }
        Assert.Equal(1.0, (double)cost["× the time of 64"][0]!);
        Assert.Equal(4.0, (double)cost["× the work of 64"][1]!);
        // A side twice as long: four times the multiply-adds (VGG's convolutions keep the padding that makes this exact).
        Assert.Equal(4 * ModelSummary.Of(model, 64).MacsUnder("features"), ModelSummary.Of(model, 128).MacsUnder("features"));
    }
}
