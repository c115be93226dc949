using NotebookVgg.Cli.Runner;
using NotebookVgg.Tests.TestSupport;

namespace NotebookVgg.Cli.Tests.Runner;

public class YamlParametersTests
{
    [Fact]
    public void Parse_MappingOfScalars_GivesNamesAndTextsInOrder()
    {
        var values = YamlParameters.Parse("epochs: 5\nprofile: \"smoke test\"\nlr: 1e-3\nverbose: true\nnote: 'a: b'\n", "p.yaml");

        Assert.Equal([new("epochs", "5"), new("profile", "smoke test"), new("lr", "1e-3"), new("verbose", "true"), new("note", "a: b")], values);
        Assert.Equal([new("epochs", "2"), new("scale", "tiny")], YamlParameters.Parse("{epochs: 2, scale: tiny}", "-y"));
        Assert.Empty(YamlParameters.Parse("", "-y"));
    }

    [Theory]
    [InlineData("epochs: [1, 2]", "-y: parameter 'epochs' (line 1) must be a single value, not a list or mapping")]
    [InlineData("epochs:", "-y: parameter 'epochs' (line 1) has no value")]
    [InlineData("- 1\n- 2", "-y: expected a mapping of parameter names to values (name: value), line 1")]
    [InlineData("epochs: 5\n  bad: [", "-y: not valid YAML at line 2")]
    [InlineData("a: 1\n---\nb: 2", "-y: holds 2 YAML documents; give one mapping of parameter names to values")]
    public void Parse_AnythingButOneMappingOfScalars_IsOneLineNamingTheOrigin(string yaml, string message)
    {
        var ex = Assert.Throws<NotebookParameterException>(() => YamlParameters.Parse(yaml, "-y"));

        Assert.StartsWith(message, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadFile_MissingFile_NamesIt()
    {
        using var temp = new TempDirectory();

        var ex = Assert.Throws<NotebookParameterException>(() => YamlParameters.ReadFile(temp.Combine("none.yaml")));

        Assert.StartsWith(temp.Combine("none.yaml") + ": cannot read the parameters file", ex.Message, StringComparison.Ordinal);
    }
}
