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

    /// <summary>lib/README.md's order, lowest first: a folder imports its own layer and the layers before it, never a later one.</summary>
    private static readonly string[][] Layers =
    [
        ["IO", "Runtime"],
        ["Models", "Weights", "Data", "Imaging"],
        ["Inspection", "Training"],
        ["Evaluation"],
        ["Transfer"],
        ["Charts", "Notebooks"],
    ];

    [Fact]
    public void EachFolder_ImportsOnlyItsOwnLayerAndTheOnesBefore_AsLibReadmeDrawsThem()
    {
        var rank = Layers.SelectMany((folders, i) => folders.Select(f => (f, i))).ToDictionary(p => p.f, p => p.i);
        static string? Folder(IType t) => // generic parameters have no namespace
            t.Namespace?.FullName is { } ns && ns.StartsWith("NotebookVgg.", StringComparison.Ordinal) ? ns.Split('.')[1] : null;
        var wrong = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var type in Library.Types)
        {
            if (Folder(type) is not { } from)
                continue;
            foreach (var target in type.Dependencies.Select(d => d.Target))
            {
                if (Folder(target) is not { } to || to == from)
                    continue;
                if (!rank.ContainsKey(from) || !rank.ContainsKey(to))
                    wrong.Add($"{(rank.ContainsKey(from) ? to : from)}: a folder lib/README.md's order does not place");
                else if (rank[to] > rank[from])
                    wrong.Add($"{from} → {to} ({type.Name} uses {target.Name})");
            }
        }

        Assert.True(wrong.Count == 0, "imports against lib/README.md's order:\n" + string.Join("\n", wrong));
    }
}
