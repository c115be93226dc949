using NotebookVgg.Evaluation;

namespace NotebookVgg.Tests.Evaluation;

public class AccuracyIntervalTests
{
    [Theory] // Wilson's interval at 95 %, as published tables and statsmodels' proportion_confint(method="wilson") give it
    [InlineData(0.0, 10, 0.0, 0.2775)]
    [InlineData(0.5, 100, 0.4038, 0.5962)]
    [InlineData(1.0, 10_000, 0.9996, 1.0)]
    public void Wilson_MatchesTheTextbookFigures_AndNeverLeaves0To1(double accuracy, long count, double low, double high)
    {
        var interval = AccuracyInterval.Wilson(accuracy, count);

        Assert.Equal(low, interval.Low, 4);
        Assert.Equal(high, interval.High, 4);
        Assert.True(interval.High > interval.Low, "not zero-wide, even at 0 or 100 %");
    }

    [Fact]
    public void Difference_IsNewcombesMethod10_OnHisWorkedExample()
    {
        // Newcombe (1998), Statistics in Medicine 17:873–890, Table II: 56/70 against 48/80 gives 0.0524 to 0.3339.
        var (low, high) = AccuracyInterval.Difference(AccuracyInterval.Wilson(56 / 70.0, 70), AccuracyInterval.Wilson(48 / 80.0, 80));

        Assert.Equal(0.0524, low, 4);
        Assert.Equal(0.3339, high, 4);
    }

    [Fact]
    public void ToString_GivesTheAccuracyAndItsInterval_InPercent()
    {
        Assert.Equal("99.9 % (95 % interval 99.8–100.0 %)", AccuracyInterval.Wilson(0.9992, 10_000).ToString());
        Assert.Throws<ArgumentOutOfRangeException>(() => AccuracyInterval.Wilson(1.2, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => AccuracyInterval.Wilson(0.5, 0));
    }
}
