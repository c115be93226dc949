using NotebookVgg.Runtime;

namespace NotebookVgg.Tests.Runtime;

public class HeapGrowthRuleTests
{
    private const long MiB = 1L << 20, Threshold = 512 * MiB;

    [Fact]
    public void ShouldTrim_OnGrowthPastTheSizeBeforeTheLastTrim_NotOnReuse()
    {
        var rule = new HeapGrowthRule();

        Assert.True(rule.ShouldTrim(1_000 * MiB, Threshold));  // the first steps grew it from nothing
        Assert.Equal(1_000 * MiB, rule.HeapBeforeLastTrim);
        Assert.False(rule.ShouldTrim(1_000 * MiB, Threshold)); // the next step regrew the trimmed heap to its size: reuse
        Assert.False(rule.ShouldTrim(1_400 * MiB, Threshold)); // holes adding up, within the threshold: kept
        Assert.True(rule.ShouldTrim(1_600 * MiB, Threshold));  // past it: given back, and the new mark
        Assert.Equal(1_600 * MiB, rule.HeapBeforeLastTrim);
        Assert.False(rule.ShouldTrim(1_600 * MiB, Threshold));
    }

    [Fact]
    public void ShouldTrim_AHeapSmallerThanTheMark_KeepsTheMark()
    {
        // A smaller model after a larger one in the same process: its heap is under the mark, so it is measured from there.
        var rule = new HeapGrowthRule();
        Assert.True(rule.ShouldTrim(3_000 * MiB, Threshold));

        Assert.False(rule.ShouldTrim(800 * MiB, Threshold));
        Assert.False(rule.ShouldTrim(3_400 * MiB, Threshold));
        Assert.Equal(3_000 * MiB, rule.HeapBeforeLastTrim);
        Assert.True(rule.ShouldTrim(3_600 * MiB, Threshold));
    }
}
