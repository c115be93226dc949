using NotebookVgg.Data;
using NotebookVgg.Tests.TestSupport;
using NotebookVgg.Training;
using NotebookVgg.Transfer;

namespace NotebookVgg.Tests.Transfer;

public class TransferSettingsTests
{
    [Fact]
    public void Splits_OfDataMissingAClassInOneSplit_FailInOneLineNamingTheSplitAndTheCounts()
    {
        using var temp = new TempDirectory();
        // 200 training and 100 test images drawn at random: one of the splits misses a class.
        using var data = Cifar10.Load(SyntheticCifar.Write(temp.Combine("data"), 200, 100, seed: 0));
        var (train, validation) = data.Train.SplitValidation(0.1);
        using (train)
        using (validation)
        {
            int[][] counts = [train.CountPerClass(), validation.CountPerClass(), data.Test.CountPerClass()];
            Assert.True(counts.Any(c => c.Contains(0)), "the case under test: " + string.Join(" | ", counts.Select(c => string.Join(",", c))));
        }
        var settings = TransferSettings.FromProfile(Profiles.Smoke, temp.Combine("data"), weightsPath: null);

        var error = Assert.Throws<InvalidDataException>(() => settings.Splits(data));

        Assert.DoesNotContain('\n', error.Message);
        Assert.Contains("no image of class", error.Message, StringComparison.Ordinal);
        Assert.Contains("per class); use data with every class in every split", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("perClass", error.Message, StringComparison.Ordinal);
    }
}
