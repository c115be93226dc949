namespace NotebookVgg.Tests.TestSupport;

/// <summary>Tests that seed torch's global generator run alone, so no other test draws from it in between
/// (and measurements such as resident memory are not disturbed by parallel tests).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalRandomState
{
    public const string Name = "global torch random state";
}
