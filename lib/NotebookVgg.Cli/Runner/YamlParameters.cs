using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace NotebookVgg.Cli.Runner;

/// <summary>
/// papermill's parameter files (<c>-f params.yaml</c>) and inline YAML (<c>-y "epochs: 5"</c>): a mapping of names to
/// scalar values, read with YamlDotNet. Values stay text here; each notebook binds them to the types it declares, as -p does.
/// </summary>
internal static class YamlParameters
{
    /// <summary>The name/value pairs of a YAML file, in file order.</summary>
    /// <exception cref="NotebookParameterException">The file is missing, is not YAML, or is not a mapping of names to scalars.</exception>
    public static IReadOnlyList<KeyValuePair<string, string>> ReadFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NotebookParameterException($"{path}: cannot read the parameters file ({e.Message})");
        }
        return Parse(text, path);
    }

    /// <summary>The name/value pairs of YAML text; <paramref name="origin"/> names it in errors (a file, or "-y").</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Parse(string yaml, string origin)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            throw new NotebookParameterException($"{origin}: not valid YAML at line {e.Start.Line}, column {e.Start.Column}: {e.Message}");
        }
        if (stream.Documents.Count == 0)
            return [];
        if (stream.Documents.Count > 1)
            throw new NotebookParameterException($"{origin}: holds {stream.Documents.Count} YAML documents; give one mapping of parameter names to values");
        var root = stream.Documents[0].RootNode;
        if (root is YamlScalarNode { Value: null or "" } or YamlScalarNode { Tag.Value: "tag:yaml.org,2002:null" })
            return [];
        if (root is not YamlMappingNode mapping)
            throw new NotebookParameterException($"{origin}: expected a mapping of parameter names to values (name: value), line {root.Start.Line}");
        var values = new List<KeyValuePair<string, string>>();
        foreach (var (key, value) in mapping.Children)
        {
            if (key is not YamlScalarNode { Value: { Length: > 0 } name })
                throw new NotebookParameterException($"{origin}: line {key.Start.Line}: a parameter name must be plain text");
            if (value is not YamlScalarNode scalar)
                throw new NotebookParameterException($"{origin}: parameter '{name}' (line {value.Start.Line}) must be a single value, not a list or mapping");
            if (scalar.Style == YamlDotNet.Core.ScalarStyle.Plain && scalar.Value is null or "" or "~" or "null" or "Null" or "NULL")
                throw new NotebookParameterException($"{origin}: parameter '{name}' (line {value.Start.Line}) has no value");
            values.Add(new(name, scalar.Value ?? ""));
        }
        return values;
    }
}
