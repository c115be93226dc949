using ArchUnitNET.Domain;
using ArchUnitNET.Fluent.Slices;
using ArchUnitNET.Loader;

namespace NotebookVgg.Tests.Architecture;

/// <summary>
/// Issue 14: each folder of lib/NotebookVgg (one namespace each) answers one question, and imports point one way.
/// Read from the compiled library (every type reference, not only using directives).
/// </summary>
public class FolderDependencyTests
{
    private static readonly ArchUnitNET.Domain.Architecture Library =
        new ArchLoader().LoadAssemblies(typeof(NotebookVgg.Models.Vgg).Assembly).Build();

    [Fact]
    public void TheLibrarysFolders_ImportEachOtherWithoutACycle()
    {
        var rule = SliceRuleDefinition.Slices().Matching("NotebookVgg.(*)").Should().BeFreeOfCycles();

        var violations = rule.Evaluate(Library).Where(r => !r.Passed).Select(r => r.Description).ToList();

        Assert.True(violations.Count == 0, "folders of lib/NotebookVgg that import each other in a cycle:\n" + string.Join("\n", violations));
    }
}
