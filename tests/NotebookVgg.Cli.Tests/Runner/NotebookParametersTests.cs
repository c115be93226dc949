using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using NotebookVgg.Cli.Runner;

namespace NotebookVgg.Cli.Tests.Runner;

public class NotebookParametersTests
{
    private const string Defaults = """
        var epochs = 3;
        string profile = "smoke";
        double lr = 1e-3;
        bool verbose = false;
        long seed = 42L;
        var big = 5000000000;
        var scale = -0.5;
        float ratio = 0.5f;
        var started = DateTime.Now;
        """;

    private static KeyValuePair<string, string> P(string name, string value) => new(name, value);

    [Fact]
    public void ReadDeclarations_InfersTypesFromDeclaredTypeOrLiteral()
    {
        var types = NotebookParameters.ReadDeclarations(Defaults).ToDictionary(d => d.Name, d => d.Type);

        Assert.Equal(ParameterType.Int, types["epochs"]);
        Assert.Equal(ParameterType.String, types["profile"]);
        Assert.Equal(ParameterType.Double, types["lr"]);
        Assert.Equal(ParameterType.Bool, types["verbose"]);
        Assert.Equal(ParameterType.Long, types["seed"]);
        Assert.Equal(ParameterType.Long, types["big"]);      // too large for int: the compiler makes it long
        Assert.Equal(ParameterType.Double, types["scale"]);  // negative literal
        Assert.Null(types["ratio"]);                         // float: not settable from the command line
        Assert.Null(types["started"]);                       // not a literal
    }

    [Fact]
    public void ReadDeclarations_ReadsDefaultsEnvironmentVariablesAndComments()
    {
        var declarations = NotebookParameters.ReadDeclarations("""
            string profile = NotebookParameter.Get("profile", "auto"); // auto | smoke | cpu
            int featuresSize = NotebookParameter.Get("features_size", 32);
            double lr = NotebookVgg.Notebooks.NotebookParameter.Get("lr", -0.5);
            var epochs = 3;   // passes over the data
            var started = DateTime.Now;
            """).ToDictionary(d => d.Name);

        Assert.Equal(("auto", "NOTEBOOKVGG_PROFILE", "auto | smoke | cpu", ParameterType.String),
            (declarations["profile"].Default, declarations["profile"].EnvironmentVariable, declarations["profile"].Help, declarations["profile"].Type));
        // One name per parameter: the name given to NotebookParameter.Get, not the C# variable's.
        Assert.DoesNotContain("featuresSize", declarations.Keys);
        Assert.Equal((32, "NOTEBOOKVGG_FEATURES_SIZE", "featuresSize"),
            (declarations["features_size"].Default, declarations["features_size"].EnvironmentVariable, declarations["features_size"].Variable));
        Assert.Equal(-0.5, declarations["lr"].Default);
        Assert.Equal((3, null, "passes over the data"), (declarations["epochs"].Default, declarations["epochs"].EnvironmentVariable, declarations["epochs"].Help));
        Assert.Equal((null, "DateTime.Now"), (declarations["started"].Default, declarations["started"].DefaultSource));
    }

    [Fact]
    public void Bind_SkippingUndeclared_TakesOnlyWhatTheNotebookDeclares()
    {
        var bound = NotebookParameters.Bind(NotebookParameters.ReadDeclarations(Defaults), [P("epochs", "4"), P("elsewhere", "x")], "nb.ipynb", skipUndeclared: true);

        Assert.Equal(["epochs"], bound.Select(b => b.Name));
    }

    [Fact]
    public void Bind_ProducesTypedLiteralsThatCompile()
    {
        var bound = NotebookParameters.Bind(NotebookParameters.ReadDeclarations(Defaults),
            [P("epochs", "12"), P("profile", "say \"hi\"\\\n"), P("lr", "2.5E-4"), P("verbose", "True"), P("seed", "-7")], "nb.ipynb");

        var byName = bound.ToDictionary(b => b.Name);
        Assert.Equal(12, byName["epochs"].Value);
        Assert.Equal("12", byName["epochs"].Literal);
        Assert.Equal("say \"hi\"\\\n", byName["profile"].Value);
        Assert.Equal(2.5e-4, byName["lr"].Value);
        Assert.Equal(true, byName["verbose"].Value);
        Assert.Equal(-7L, byName["seed"].Value);

        // The injected cell, run after the defaults, must compile as a script and assign those exact values.
        string script = Defaults + "\n" + NotebookParameters.InjectedCellSource(bound);
        var tree = CSharpSyntaxTree.ParseText(script, new CSharpParseOptions(kind: SourceCodeKind.Script));
        Assert.Empty(tree.GetDiagnostics());
        Assert.Contains("profile = \"say \\\"hi\\\"\\\\\\n\";", script, StringComparison.Ordinal);
        Assert.Contains("lr = 0.00025d;", script, StringComparison.Ordinal);
        Assert.Contains("seed = -7L;", script, StringComparison.Ordinal);
    }

    [Fact]
    public void Bind_AParameterReadFromTheEnvironment_IsSetByItsOneName_AndTheInjectedCellAssignsItsVariable()
    {
        var declarations = NotebookParameters.ReadDeclarations("""int featuresSize = NotebookParameter.Get("features_size", 32);""");

        var bound = Assert.Single(NotebookParameters.Bind(declarations, [P("features_size", "64")], "nb.ipynb"));
        Assert.Equal(("features_size", "featuresSize", 64), (bound.Name, bound.Variable, bound.Value));
        Assert.Equal("// Parameters injected by nvgg run\nfeaturesSize = 64;", NotebookParameters.InjectedCellSource([bound]));

        var ex = Assert.Throws<NotebookParameterException>(() => NotebookParameters.Bind(declarations, [P("featuresSize", "64")], "nb.ipynb"));
        Assert.Equal("nb.ipynb: unknown parameter 'featuresSize': the parameter of variable featuresSize is called 'features_size' (-p features_size VALUE, or NOTEBOOKVGG_FEATURES_SIZE)", ex.Message);
    }

    [Fact]
    public void Bind_LastValueForANameWins()
    {
        var bound = NotebookParameters.Bind(NotebookParameters.ReadDeclarations(Defaults), [P("epochs", "1"), P("epochs", "2")], "nb.ipynb");

        Assert.Equal(2, Assert.Single(bound).Value);
    }

    [Theory]
    [InlineData("epochs", "3.5", "nb.ipynb: parameter 'epochs' is an int; cannot use the value '3.5'")]
    [InlineData("verbose", "yes", "nb.ipynb: parameter 'verbose' is a bool (true or false); cannot use the value 'yes'")]
    [InlineData("lr", "fast", "nb.ipynb: parameter 'lr' is a double; cannot use the value 'fast'")]
    [InlineData("epochz", "3", "nb.ipynb: unknown parameter 'epochz' (it declares epochs, profile, lr, verbose, seed, big, scale, ratio, started)")]
    public void Bind_RejectsUnknownNamesAndUnparsableValues(string name, string value, string message)
    {
        var ex = Assert.Throws<NotebookParameterException>(() =>
            NotebookParameters.Bind(NotebookParameters.ReadDeclarations(Defaults), [P(name, value)], "nb.ipynb"));

        Assert.Equal(message, ex.Message);
    }

    [Fact]
    public void Bind_RejectsParametersOfUnsupportedTypes()
    {
        var ex = Assert.Throws<NotebookParameterException>(() =>
            NotebookParameters.Bind(NotebookParameters.ReadDeclarations(Defaults), [P("ratio", "0.1")], "nb.ipynb"));

        Assert.Contains("'ratio' is declared as 'float'", ex.Message, StringComparison.Ordinal);
    }
}
