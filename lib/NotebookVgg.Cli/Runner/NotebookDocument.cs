using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NotebookVgg.Cli.Runner;

/// <summary>
/// An .ipynb (nbformat 4) edited in place as JSON. Hand-written rather than the Documents package's model
/// because that model keeps only what it knows: here every field of the input (notebook and cell metadata,
/// attachments, ids, kernelspec, polyglot_notebook) survives into the executed copy untouched.
/// </summary>
internal sealed class NotebookDocument
{
    private static readonly JsonSerializerOptions WriteOptions = new()
    {
        WriteIndented = true,
        // Keep <, >, & and non-ASCII readable in outputs (HTML, accented text) as Jupyter does.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private NotebookDocument(string path, JsonObject root, List<NotebookCell> cells)
    {
        Path = path;
        Root = root;
        _cells = cells;
    }

    private readonly List<NotebookCell> _cells;

    /// <summary>The file this notebook was read from.</summary>
    public string Path { get; }

    public JsonObject Root { get; }

    public IReadOnlyList<NotebookCell> Cells => _cells;

    public JsonObject Metadata => Root["metadata"] as JsonObject ?? (JsonObject)(Root["metadata"] = new JsonObject());

    /// <summary>
    /// The kernel cells run in unless they say otherwise: polyglot_notebook's default, else C#
    /// (what VS Code assumes for a .net-csharp kernelspec).
    /// </summary>
    public string DefaultKernelName =>
        Metadata["polyglot_notebook"]?["kernelInfo"]?["defaultKernelName"] is JsonValue v && v.TryGetValue(out string? name)
            ? name
            : "csharp";

    public static NotebookDocument Load(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"notebook not found: {path}", path);
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true });
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path}: not a notebook (invalid JSON at line {ex.LineNumber + 1}: {ex.Message})", ex);
        }
        if (node is not JsonObject root)
            throw new InvalidDataException($"{path}: not a notebook (the JSON is not an object)");
        if (root["nbformat"] is not JsonValue format || !format.TryGetValue(out int major) || major != 4)
            throw new InvalidDataException($"{path}: only nbformat 4 notebooks are supported (nbformat is {root["nbformat"]?.ToJsonString() ?? "missing"})");
        if (root["cells"] is not JsonArray cellArray)
            throw new InvalidDataException($"{path}: not a notebook (no \"cells\" array)");
        var cells = new List<NotebookCell>();
        for (int i = 0; i < cellArray.Count; i++)
        {
            if (cellArray[i] is not JsonObject cell || cell["cell_type"] is not JsonValue)
                throw new InvalidDataException($"{path}: cell {i + 1} is not a notebook cell (no cell_type)");
            cells.Add(new NotebookCell(cell));
        }
        return new NotebookDocument(System.IO.Path.GetFullPath(path), root, cells);
    }

    /// <summary>Inserts <paramref name="cell"/> after the cell at <paramref name="index"/> (in the JSON too).</summary>
    public void InsertCellAfter(int index, NotebookCell cell)
    {
        var array = (JsonArray)Root["cells"]!;
        array.Insert(index + 1, cell.Json);
        _cells.Insert(index + 1, cell);
    }

    public void RemoveCell(NotebookCell cell)
    {
        ((JsonArray)Root["cells"]!).Remove(cell.Json);
        _cells.Remove(cell);
    }

    /// <summary>Whether cells need an "id" (nbformat 4.5 and later).</summary>
    public bool CellsHaveIds =>
        Root["nbformat_minor"] is JsonValue minor && minor.TryGetValue(out int m) && m >= 5;

    public string ToJson() => Root.ToJsonString(WriteOptions) + "\n";

    /// <summary>Splits text into nbformat's multi-line form: lines that keep their "\n".</summary>
    public static JsonArray ToLines(string text)
    {
        var array = new JsonArray();
        int start = 0;
        while (start < text.Length)
        {
            int newline = text.IndexOf('\n', start);
            int end = newline < 0 ? text.Length : newline + 1;
            array.Add(text[start..end]);
            start = end;
        }
        return array;
    }

    /// <summary>nbformat text: a string or a list of strings, joined.</summary>
    public static string JoinText(JsonNode? node) => node switch
    {
        null => "",
        JsonArray array => string.Concat(array.Select(line => line?.GetValue<string>() ?? "")),
        JsonValue value when value.TryGetValue(out string? text) => text,
        _ => node.ToJsonString(),
    };
}

/// <summary>One cell of a <see cref="NotebookDocument"/>, a view over its JSON object.</summary>
internal sealed class NotebookCell(JsonObject json)
{
    public JsonObject Json { get; } = json;

    public string CellType => Json["cell_type"]?.GetValue<string>() ?? "";

    public bool IsCode => CellType == "code";

    public string Source
    {
        get => NotebookDocument.JoinText(Json["source"]);
        set => Json["source"] = NotebookDocument.ToLines(value);
    }

    public JsonObject Metadata => Json["metadata"] as JsonObject ?? (JsonObject)(Json["metadata"] = new JsonObject());

    public IReadOnlyList<string> Tags =>
        Metadata["tags"] is JsonArray tags
            ? tags.OfType<JsonValue>().Select(t => t.TryGetValue(out string? s) ? s : "").ToList()
            : [];

    public bool HasTag(string tag) => Tags.Contains(tag, StringComparer.Ordinal);

    /// <summary>The cell's own kernel (polyglot_notebook.kernelName, or the older dotnet_interactive.language), if it names one.</summary>
    public string? KernelName =>
        (Metadata["polyglot_notebook"]?["kernelName"] ?? Metadata["dotnet_interactive"]?["language"]) is JsonValue v
        && v.TryGetValue(out string? name) ? name : null;

    /// <summary>Clears outputs and execution count, as before a run (code cells only).</summary>
    public void ResetExecution()
    {
        if (!IsCode)
            return;
        Json["outputs"] = new JsonArray();
        Json["execution_count"] = null;
    }

    public static NotebookCell NewMarkdown(string source, IEnumerable<string> tags, string? id)
    {
        var json = new JsonObject { ["cell_type"] = "markdown" };
        if (id is not null)
            json["id"] = id;
        json["metadata"] = new JsonObject { ["tags"] = new JsonArray(tags.Select(t => (JsonNode)JsonValue.Create(t)).ToArray()) };
        return new NotebookCell(json) { Source = source };
    }

    public static NotebookCell NewCode(string source, string kernelName, IEnumerable<string> tags, string? id)
    {
        var json = new JsonObject { ["cell_type"] = "code" };
        if (id is not null)
            json["id"] = id;
        json["metadata"] = new JsonObject
        {
            ["polyglot_notebook"] = new JsonObject { ["kernelName"] = kernelName },
            ["tags"] = new JsonArray(tags.Select(t => (JsonNode)JsonValue.Create(t)).ToArray()),
        };
        json["execution_count"] = null;
        json["outputs"] = new JsonArray();
        var cell = new NotebookCell(json) { Source = source };
        return cell;
    }
}
