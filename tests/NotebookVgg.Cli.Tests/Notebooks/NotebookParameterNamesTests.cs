using System.Text.RegularExpressions;
using NotebookVgg.Cli.Runner;
using NotebookVgg.Tests.TestSupport;

namespace NotebookVgg.Cli.Tests.Notebooks;

/// <summary>
/// One name per parameter (issue 23): every parameter of every notebook has one name, used by <c>-p</c>, by its
/// environment variable (NOTEBOOKVGG_ and the name upper-cased) and in the prose; the C# variable that holds it is not
/// a second spelling anywhere a learner reads.
/// </summary>
public partial class NotebookParameterNamesTests
{
    private static IEnumerable<string> NotebookNames() =>
        Directory.GetFiles(RepoFiles.Path("notebooks"), "0*.ipynb").Select(f => Path.GetFileName(f)!)
            .Where(n => !n.Contains(".executed.", StringComparison.Ordinal)).Order(StringComparer.Ordinal);

    public static TheoryData<string> Notebooks() => [.. NotebookNames()];

    private static IReadOnlyList<ParameterDeclaration> Declarations(string name)
    {
        var cell = NotebookDocument.Load(RepoFiles.Path("notebooks", name)).Cells.FirstOrDefault(c => c.IsCode && c.HasTag(NotebookParameters.ParametersTag));
        Assert.True(cell is not null, $"{name}: no code cell tagged '{NotebookParameters.ParametersTag}'");
        return NotebookParameters.ReadDeclarations(cell.Source);
    }

    [Theory]
    [MemberData(nameof(Notebooks))]
    public void EveryParameter_HasOneSnakeCaseName_ForMinusP_AndItsEnvironmentVariable(string name)
    {
        var declarations = Declarations(name);
        Assert.NotEmpty(declarations);
        Assert.All(declarations, d =>
        {
            Assert.True(d.EnvironmentVariable is not null, $"{name}: {d.Variable} is not read with NotebookParameter.Get(NAME, default), so no environment variable sets it");
            Assert.Matches(SnakeCase(), d.Name);
            Assert.Equal("NOTEBOOKVGG_" + d.Name.ToUpperInvariant(), d.EnvironmentVariable);
            Assert.True(d.Type is not null, $"{name}: {d.Name} is a {d.DeclaredType}, which -p cannot set");
            // -p NAME DEFAULT binds, and the injected cell assigns the notebook's variable.
            string text = Convert.ToString(d.Default, System.Globalization.CultureInfo.InvariantCulture) ?? "";
            var bound = Assert.Single(NotebookParameters.Bind(declarations, [new(d.Name, text)], name));
            Assert.Equal(d.Variable, bound.Variable);
        });
    }

    [Fact]
    public void TheProse_NamesParametersByTheirOneName_NotByTheirCSharpVariable()
    {
        var variables = NotebookNames().SelectMany(Declarations)
            .Where(d => d.Variable != d.Name).ToDictionary(d => d.Variable, d => d.Name);
        Assert.NotEmpty(variables); // the notebooks do have camelCase variables for snake_case parameters: the check is not empty

        var prose = NotebookNames()
            .SelectMany(n => NotebookDocument.Load(RepoFiles.Path("notebooks", n)).Cells.Where(c => c.CellType == "markdown").Select(c => (Where: n, Text: c.Source)))
            .Concat(new[] { "README.md", "environment.md", Path.Combine("lib", "README.md"), Path.Combine("tools", "ci", "real-weights.sh") }
                .Where(f => File.Exists(RepoFiles.Path(f))).Select(f => (Where: f, Text: File.ReadAllText(RepoFiles.Path(f)))));
        var wrong = new List<string>();
        foreach (var (where, text) in prose)
        {
            foreach (var (variable, parameter) in variables)
            {
                foreach (Match m in Regex.Matches(text, $@"`{variable}`|-p {variable}\b|\b{variable}=|NOTEBOOKVGG_{variable.ToUpperInvariant()}\b"))
                    wrong.Add($"{where}: '{m.Value}' (the parameter is {parameter})");
            }
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [GeneratedRegex("^[a-z][a-z0-9_]*$")]
    private static partial Regex SnakeCase();
}
