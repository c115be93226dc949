using System.Collections.Immutable;
using System.Reflection.PortableExecutable;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace NotebookVgg.Cli.Runner;

/// <summary>
/// Writes a C# notebook as a .NET 10 file-based app (<c>dotnet run NAME.cs</c>), the path Microsoft recommends for C#
/// notebooks after deprecating .NET Interactive (dotnet/interactive#4163). The notebook stays the source; the app is
/// generated. A notebook's cells are script submissions, an app is one program, so the exporter keeps the notebook's
/// meaning where the two differ: <c>#r "nuget:"</c> becomes <c>#:package</c> and a <c>#r</c> of a project's build output
/// <c>#:project</c>; using directives move to the top and type declarations to the end; a cell's trailing expression is
/// displayed; a variable a later cell declares again (a script allows it, a program does not) and a nested local that
/// would clash with a top-level name are renamed (NAME_CELL), found with Roslyn's semantic model of the cells compiled as
/// the kernel compiles them. <c>display(...)</c> goes to <c>NotebookVgg.Notebooks.NotebookApp</c>: an HTML report beside the app.
/// </summary>
internal static partial class NotebookExporter
{
    /// <summary>The C# kernel's default usings (Microsoft.DotNet.Interactive.CSharp), which a notebook's cells rely on.</summary>
    private static readonly string[] KernelUsings =
        ["System", "System.Collections", "System.Collections.Generic", "System.Linq", "System.Text", "System.Threading.Tasks"];

    /// <summary>Packages that exist to extend a notebook kernel, not needed (nor wanted) by an app.</summary>
    private static readonly HashSet<string> KernelExtensions = new(StringComparer.OrdinalIgnoreCase) { "Plotly.NET.Interactive" };

    /// <summary>Where the app for <paramref name="notebookPath"/> goes: beside it, or in <paramref name="outputDirectory"/>.</summary>
    public static string AppPathFor(string notebookPath, string? outputDirectory) =>
        Path.Combine(outputDirectory ?? Path.GetDirectoryName(Path.GetFullPath(notebookPath))!, Path.GetFileNameWithoutExtension(notebookPath) + ".cs");

    /// <summary>The app's source for the notebook at <paramref name="notebookPath"/>, to be written at <paramref name="appPath"/>.</summary>
    /// <exception cref="NotSupportedException">A cell the exporter cannot carry over (another language, an unknown magic command, a #r it cannot map).</exception>
    public static string Export(string notebookPath, string appPath)
    {
        var document = NotebookDocument.Load(notebookPath);
        string name = Path.GetFileName(document.Path);
        string stem = Path.GetFileNameWithoutExtension(document.Path);
        string notebookFolder = Path.GetDirectoryName(document.Path)!;
        string appFolder = Path.GetDirectoryName(Path.GetFullPath(appPath))!;
        var packages = new List<(string Name, string Version)>();
        var projects = new List<string>();
        var parts = new List<Part>();
        for (int i = 0; i < document.Cells.Count; i++)
        {
            var cell = document.Cells[i];
            if (cell.HasTag(NotebookParameters.InjectedTag) || cell.HasTag(NotebookRunner.ErrorCellTag))
                continue;
            if (cell.CellType == "markdown")
            {
                parts.Add(new Part(i + 1, cell.Source, null));
                continue;
            }
            if (!cell.IsCode)
                continue;
            string kernel = cell.KernelName ?? document.DefaultKernelName;
            if (kernel is not ("csharp" or "c#" or "C#"))
                throw new NotSupportedException($"{name}: cell {i + 1} runs in the '{kernel}' kernel; only C# cells can be exported");
            var code = new StringBuilder();
            foreach (string line in cell.Source.Split('\n'))
            {
                string trimmed = line.Trim();
                if (NugetReference().Match(trimmed) is { Success: true } nuget)
                {
                    if (!KernelExtensions.Contains(nuget.Groups[1].Value) && !packages.Any(p => p.Name.Equals(nuget.Groups[1].Value, StringComparison.OrdinalIgnoreCase)))
                        packages.Add((nuget.Groups[1].Value, nuget.Groups[2].Value));
                    code.Append('\n');
                }
                else if (FileReference().Match(trimmed) is { Success: true } file)
                {
                    string project = ProjectFor(Path.GetFullPath(Path.Combine(notebookFolder, file.Groups[1].Value)), name, i + 1);
                    string relative = Path.GetRelativePath(appFolder, project).Replace('\\', '/');
                    if (!projects.Contains(relative))
                        projects.Add(relative);
                    code.Append('\n');
                }
                else if (trimmed.StartsWith("#load ", StringComparison.Ordinal) || trimmed is "#!csharp" or "#!c#" or "#!C#")
                {
                    code.Append('\n'); // the build-library step and kernel choosers: an app's build does both itself
                }
                else if (trimmed.StartsWith("#!", StringComparison.Ordinal) || trimmed.StartsWith("#i ", StringComparison.Ordinal))
                {
                    throw new NotSupportedException($"{name}: cell {i + 1}: '{trimmed}' is a notebook kernel command an app has no equivalent for");
                }
                else
                {
                    code.Append(line.TrimEnd('\r')).Append('\n');
                }
            }
            parts.Add(new Part(i + 1, null, code.ToString().TrimEnd('\n')));
        }

        var rewritten = Rewrite(parts.Where(p => p.Code is not null).ToList(), name);
        var app = new StringBuilder();
        app.Append($"// Generated by nvgg export from {name}: edit the notebook, then export again (this file is not committed).\n");
        app.Append($"// Run it with the .NET 10 SDK: dotnet run {Path.GetFileName(appPath)} [-- -p NAME VALUE ...]\n");
        app.Append($"// Printed text goes to the console; display(...) and charts to {stem}.app.html beside this file.\n");
        foreach (string project in projects)
            app.Append($"#:project {project}\n");
        var pinned = CentralPins(appFolder);
        foreach (var (package, version) in packages)
        {
            if (pinned is null)
            {
                app.Append($"#:package {package}@{version}\n");
                continue;
            }
            // Central package management: the version comes from Directory.Packages.props, which must pin the notebook's.
            if (!pinned.TryGetValue(package, out string? central))
                throw new NotSupportedException($"{name}: the notebook uses {package} {version}, which Directory.Packages.props does not pin");
            if (central != version)
                throw new NotSupportedException($"{name}: the notebook uses {package} {version}, Directory.Packages.props pins {central}");
            app.Append($"#:package {package}\n");
        }
        // File-based apps default to PublishAot, which turns reflection-based System.Text.Json off: the library needs it.
        app.Append("#:property PublishAot=false\n");
        app.Append("#:property ImplicitUsings=disable\n");           // the kernel's usings, below, and no others
        app.Append("#:property Nullable=disable\n");                 // notebook code is not annotated
        app.Append("#:property TreatWarningsAsErrors=false\n");
        app.Append("#:property RestorePackagesWithLockFile=false\n"); // no lock file beside a generated app
        app.Append('\n');
        foreach (string u in KernelUsings)
            app.Append($"using {u};\n");
        foreach (string u in rewritten.Usings.Distinct(StringComparer.Ordinal))
            app.Append(u).Append('\n');
        app.Append("using NotebookVgg.Notebooks;\n\n");
        app.Append($"using var notebookApp = NotebookApp.Start(\"{stem}\", args);\n");
        app.Append("NotebookApp.Displayed display(object value) => notebookApp.Display(value);\n");
        int codeIndex = 0;
        foreach (var part in parts)
        {
            app.Append('\n');
            if (part.Markdown is { } markdown)
            {
                foreach (string line in markdown.Split('\n'))
                    app.Append(line.Length == 0 ? "//" : "// " + line.TrimEnd('\r')).Append('\n');
                continue;
            }
            app.Append($"// cell {part.Number}\nnotebookApp.Cell({part.Number});\n");
            string body = rewritten.Cells[codeIndex++];
            if (body.Trim().Length > 0)
                app.Append(body.Trim('\n')).Append('\n');
        }
        if (rewritten.Types.Count > 0)
        {
            app.Append("\n// Types the notebook declares (a program declares them after its statements)\n");
            foreach (string type in rewritten.Types)
                app.Append(type.Trim('\n')).Append("\n\n");
        }
        return app.ToString();
    }

    private sealed record Part(int Number, string? Markdown, string? Code);

    private sealed record Rewritten(IReadOnlyList<string> Cells, IReadOnlyList<string> Usings, IReadOnlyList<string> Types);

    // The cells compiled as the kernel compiles them (one script submission each), then rewritten for one program.
    private static Rewritten Rewrite(IReadOnlyList<Part> cells, string notebookName)
    {
        var parse = new CSharpParseOptions(LanguageVersion.Latest, kind: SourceCodeKind.Script);
        var options = new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, usings: KernelUsings, nullableContextOptions: NullableContextOptions.Disable);
        var references = References();
        var prelude = CSharpCompilation.CreateScriptCompilation("prelude",
            CSharpSyntaxTree.ParseText("using static Microsoft.DotNet.Interactive.Kernel;", parse), references, options);
        var compilations = new List<(SyntaxTree Tree, SemanticModel Model)>();
        CSharpCompilation previous = prelude;
        foreach (var cell in cells)
        {
            var tree = CSharpSyntaxTree.ParseText(cell.Code!, parse);
            var compilation = CSharpCompilation.CreateScriptCompilation($"cell{cell.Number}", tree, references, options, previous, typeof(object));
            var model = compilation.GetSemanticModel(tree);
            if (model.GetDiagnostics().FirstOrDefault(d => d.Severity == DiagnosticSeverity.Error) is { } error)
                throw new NotSupportedException($"{notebookName}: cell {cell.Number} does not compile as the kernel compiles it " +
                    $"({error.Id} at line {error.Location.GetLineSpan().StartLinePosition.Line + 1}: {error.GetMessage(System.Globalization.CultureInfo.InvariantCulture)})");
            compilations.Add((tree, model));
            previous = compilation;
        }

        // Names declared at the top level of a cell (fields and methods of its submission), and everything else declared.
        var renames = new Dictionary<ISymbol, string>(SymbolEqualityComparer.Default);
        var topLevelNames = new Dictionary<string, int>(StringComparer.Ordinal); // name → cells that declared it so far
        var nested = new List<(ISymbol Symbol, int Cell)>();
        for (int i = 0; i < cells.Count; i++)
        {
            var (tree, model) = compilations[i];
            foreach (var node in tree.GetRoot().DescendantNodes())
            {
                if (node is not (VariableDeclaratorSyntax or SingleVariableDesignationSyntax or MethodDeclarationSyntax or LocalFunctionStatementSyntax
                    or ParameterSyntax or ForEachStatementSyntax or CatchDeclarationSyntax))
                    continue;
                if (model.GetDeclaredSymbol(node) is not { } symbol || symbol.Name.Length == 0)
                    continue;
                bool topLevel = symbol.ContainingType is { IsScriptClass: true } && symbol is IFieldSymbol or IMethodSymbol { MethodKind: MethodKind.Ordinary };
                if (!topLevel)
                {
                    nested.Add((symbol, cells[i].Number));
                    continue;
                }
                int seen = topLevelNames.GetValueOrDefault(symbol.Name);
                if (seen > 0 && symbol is IFieldSymbol)
                    renames[symbol] = $"{symbol.Name}_{cells[i].Number}";
                topLevelNames[symbol.Name] = seen + 1;
            }
        }
        var finalTopLevel = new HashSet<string>(topLevelNames.Keys.Concat(renames.Values), StringComparer.Ordinal);
        foreach (var (symbol, cell) in nested)
        {
            if (finalTopLevel.Contains(symbol.Name) && symbol is ILocalSymbol or IParameterSymbol or IMethodSymbol { MethodKind: MethodKind.LocalFunction })
                renames.TryAdd(symbol, $"{symbol.Name}_{cell}");
        }

        var texts = new List<string>();
        var usings = new List<string>();
        var types = new List<string>();
        for (int i = 0; i < cells.Count; i++)
        {
            var (tree, model) = compilations[i];
            var root = (CompilationUnitSyntax)tree.GetRoot();
            var changes = new List<TextChange>();
            foreach (var u in root.Usings)
            {
                usings.Add(u.ToString().Trim());
                changes.Add(new TextChange(u.FullSpan, ""));
            }
            foreach (var member in root.Members.Where(m => m is BaseTypeDeclarationSyntax or DelegateDeclarationSyntax))
            {
                types.Add(member.ToFullString());
                changes.Add(new TextChange(member.FullSpan, ""));
            }
            var moved = changes.Select(c => c.Span).ToList();
            foreach (var token in root.DescendantTokens().Where(t => t.IsKind(SyntaxKind.IdentifierToken)))
            {
                if (moved.Any(span => span.Contains(token.Span)) || token.Parent is null)
                    continue;
                var symbol = token.Parent switch
                {
                    IdentifierNameSyntax id => model.GetSymbolInfo(id).Symbol,
                    _ => model.GetDeclaredSymbol(token.Parent),
                };
                if (symbol is not null && renames.TryGetValue(symbol.OriginalDefinition, out string? renamed) && token.ValueText == symbol.Name)
                    changes.Add(new TextChange(token.Span, renamed));
            }
            // The cell's value (a last expression without ';') is what the notebook displays.
            if (root.Members.LastOrDefault() is GlobalStatementSyntax { Statement: ExpressionStatementSyntax { SemicolonToken.IsMissing: true } last })
            {
                var type = model.GetTypeInfo(last.Expression).Type;
                if (type is { SpecialType: SpecialType.System_Void })
                {
                    changes.Add(new TextChange(new TextSpan(last.Expression.Span.End, 0), ";"));
                }
                else
                {
                    changes.Add(new TextChange(new TextSpan(last.Expression.SpanStart, 0), "display("));
                    changes.Add(new TextChange(new TextSpan(last.Expression.Span.End, 0), ");"));
                }
            }
            texts.Add(tree.GetText().WithChanges(changes.OrderBy(c => c.Span.Start)).ToString());
        }
        return new Rewritten(texts, usings, types);
    }

    // What the cells are compiled against: the runtime and the assemblies beside nvgg (the library, TorchSharp, Plotly.NET,
    // Microsoft.Data.Analysis and the kernel's own, for display): the packages a notebook's setup cell references.
    private static ImmutableArray<MetadataReference> References()
    {
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Concat(Directory.GetFiles(AppContext.BaseDirectory, "*.dll"))
            .GroupBy(Path.GetFileName, StringComparer.OrdinalIgnoreCase)
            .Select(g => g.Last());
        var references = ImmutableArray.CreateBuilder<MetadataReference>();
        foreach (string path in paths)
        {
            using var stream = File.OpenRead(path);
            using var pe = new PEReader(stream);
            if (pe.HasMetadata)
                references.Add(MetadataReference.CreateFromFile(path));
        }
        return references.ToImmutable();
    }

    // A #r of a build output (…/NAME/bin/Release/net10.0/NAME.dll) becomes #:project of NAME.csproj.
    private static string ProjectFor(string dll, string notebookName, int cell)
    {
        string assembly = Path.GetFileNameWithoutExtension(dll);
        for (var dir = new DirectoryInfo(Path.GetDirectoryName(dll)!); dir is not null; dir = dir.Parent)
        {
            if (dir.GetFiles("*.csproj").FirstOrDefault(f => Path.GetFileNameWithoutExtension(f.Name) == assembly) is { } project)
                return project.FullName;
            if (dir.Name == "bin")
            {
                string beside = Path.Combine(dir.Parent!.FullName, assembly + ".csproj");
                if (File.Exists(beside))
                    return beside;
            }
        }
        throw new NotSupportedException($"{notebookName}: cell {cell}: #r \"{dll}\" is not a project's build output; an app can reference projects and packages only");
    }

    // Directory.Packages.props above the app, if it manages versions centrally: package → version.
    private static Dictionary<string, string>? CentralPins(string folder)
    {
        for (var dir = new DirectoryInfo(folder); dir is not null; dir = dir.Parent)
        {
            string props = Path.Combine(dir.FullName, "Directory.Packages.props");
            if (!File.Exists(props))
                continue;
            string text = File.ReadAllText(props);
            if (!text.Contains("<ManagePackageVersionsCentrally>true<", StringComparison.Ordinal))
                return null;
            var properties = PropertyPattern().Matches(text).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
            return VersionPattern().Matches(text).ToDictionary(
                m => m.Groups[1].Value,
                m => m.Groups[2].Value.StartsWith("$(", StringComparison.Ordinal) ? properties.GetValueOrDefault(m.Groups[2].Value[2..^1], "") : m.Groups[2].Value,
                StringComparer.OrdinalIgnoreCase);
        }
        return null;
    }

    [GeneratedRegex("""^#r\s+"nuget:\s*([^,"]+?)\s*,\s*([^"]+?)\s*"$""")]
    private static partial Regex NugetReference();

    [GeneratedRegex("""^#r\s+"([^"]+\.dll)"$""")]
    private static partial Regex FileReference();

    [GeneratedRegex("""<(\w+)>([^<]+)</\1>""")]
    private static partial Regex PropertyPattern();

    [GeneratedRegex("""PackageVersion Include="([^"]+)" Version="([^"]+)" """)]
    private static partial Regex VersionPattern();
}
