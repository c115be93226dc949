using NotebookVgg.Transfer;

namespace NotebookVgg.Tests.Transfer;

public class TrainedModelLogTests
{
    [Fact]
    public void CacheFileNames_InTheLog_ShowTwelveDigitsOfTheirKey()
    {
        // Issue 22 review: notebook 5 printed the test features' cache file with its 64-digit key.
        string key = new('a', 64);
        Assert.Equal("/d/features/test (4 per class, seed 0)-aaaaaaaaaaaa….safetensors",
            FeatureCache.Readable($"/d/features/test (4 per class, seed 0)-{key}.safetensors"));
        Assert.Equal("/d/features/test-short.safetensors", FeatureCache.Readable("/d/features/test-short.safetensors"));
        Assert.Equal("not cached", FeatureCache.Readable(null));
    }
}
