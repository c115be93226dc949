using System.Globalization;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace NotebookVgg.Cli.Runner;

/// <summary>The types a notebook parameter may have (what a command-line value can be parsed into).</summary>
internal enum ParameterType
{
    String,
    Int,
    Long,
    Double,
    Bool,
}

/// <summary>
/// A variable declared in the cell tagged <c>parameters</c>. <see cref="Name"/> is the parameter's one name: the name given to
/// <c>NotebookParameter.Get(NAME, fallback)</c> where the initializer is such a call (<c>features_size</c>), which is also the
/// name of its environment variable and of <c>-p</c>; else the C# variable's name. <see cref="Variable"/> is the C# variable
/// the injected cell assigns (<c>featuresSize</c>). <see cref="Type"/> is null when it is none of the supported types.
/// <see cref="Default"/> is the initializer's value where it is a literal (or <c>NotebookParameter.Get(NAME, literal)</c>'s
/// fallback), else null; <see cref="DefaultSource"/> is the initializer as written; <see cref="EnvironmentVariable"/> the
/// variable that overrides it (<c>NotebookParameter.Get</c>), if any; <see cref="Help"/> the comment at the end of its line.
/// </summary>
internal sealed record ParameterDeclaration(string Name, ParameterType? Type, string DeclaredType)
{
    public string Variable { get; init; } = Name;

    public object? Default { get; init; }

    public string DefaultSource { get; init; } = "";

    public string? EnvironmentVariable { get; init; }

    public string Help { get; init; } = "";
}

/// <summary>A command-line value bound to a declared parameter: the typed value and the C# literal that assigns it to <see cref="Variable"/>.</summary>
internal sealed record BoundParameter(string Name, ParameterType Type, object Value, string Literal)
{
    public string Variable { get; init; } = Name;
}

/// <summary>Thrown when -p values do not fit the notebook's parameters; the message is the one line shown to the user.</summary>
internal sealed class NotebookParameterException(string message) : Exception(message);

/// <summary>
/// Papermill-style parameters for C# notebooks: the defaults are declarations in the cell tagged <c>parameters</c>
/// (<c>var epochs = 3;</c>, <c>string profile = "smoke";</c>); the runner adds a cell tagged
/// <c>injected-parameters</c> right after it with typed assignments of the command-line values.
/// </summary>
internal static class NotebookParameters
{
    public const string ParametersTag = "parameters";
    public const string InjectedTag = "injected-parameters";

    /// <summary>Reads the declarations of a parameters cell (script syntax, as the C# kernel parses it).</summary>
    public static IReadOnlyList<ParameterDeclaration> ReadDeclarations(string code)
    {
        var tree = CSharpSyntaxTree.ParseText(code, new CSharpParseOptions(kind: SourceCodeKind.Script));
        var declarations = new List<ParameterDeclaration>();
        foreach (var node in tree.GetRoot().DescendantNodes(descendIntoChildren: n => n is CompilationUnitSyntax or GlobalStatementSyntax))
        {
            VariableDeclarationSyntax? declaration = node switch
            {
                FieldDeclarationSyntax field => field.Declaration,
                LocalDeclarationStatementSyntax local => local.Declaration,
                _ => null,
            };
            if (declaration is null)
                continue;
            string help = TrailingComment(node);
            foreach (var variable in declaration.Variables)
            {
                var initializer = variable.Initializer?.Value;
                var (fallback, parameterName) = EnvironmentFallback(initializer);
                var type = InferType(declaration.Type, fallback ?? initializer);
                declarations.Add(new ParameterDeclaration(parameterName ?? variable.Identifier.ValueText, type, declaration.Type.ToString())
                {
                    Variable = variable.Identifier.ValueText,
                    Default = LiteralValue(fallback ?? initializer),
                    DefaultSource = initializer?.ToString() ?? "",
                    EnvironmentVariable = parameterName is null ? null : VariableFor(parameterName),
                    Help = help,
                });
            }
        }
        return declarations;
    }

    /// <summary>
    /// Binds <paramref name="values"/> (name, text) to <paramref name="declarations"/>. An unknown name (unless
    /// <paramref name="skipUndeclared"/>: a folder run, where each notebook takes the values it declares), a parameter
    /// of an unsupported type or a value that does not parse is a <see cref="NotebookParameterException"/> naming the notebook.
    /// </summary>
    public static IReadOnlyList<BoundParameter> Bind(
        IReadOnlyList<ParameterDeclaration> declarations,
        IReadOnlyList<KeyValuePair<string, string>> values,
        string notebookName,
        bool skipUndeclared = false)
    {
        var byName = declarations.GroupBy(d => d.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);
        var bound = new List<BoundParameter>();
        foreach (var (name, text) in values)
        {
            if (!byName.TryGetValue(name, out var declaration))
            {
                if (skipUndeclared)
                    continue;
                // One name per parameter: the C# variable's name is not a second spelling, but say which name it has.
                if (declarations.LastOrDefault(d => d.Variable == name && d.Name != name) is { } spelled)
                    throw new NotebookParameterException(
                        $"{notebookName}: unknown parameter '{name}': the parameter of variable {name} is called '{spelled.Name}' (-p {spelled.Name} VALUE, or {spelled.EnvironmentVariable})");
                string known = byName.Count == 0 ? "it declares none" : "it declares " + string.Join(", ", byName.Keys);
                throw new NotebookParameterException($"{notebookName}: unknown parameter '{name}' ({known})");
            }
            if (declaration.Type is not { } type)
                throw new NotebookParameterException(
                    $"{notebookName}: parameter '{name}' is declared as '{declaration.DeclaredType}'; only string, int, long, double and bool (or var with such a literal) can be set with -p");
            bound.RemoveAll(b => b.Name == name); // the last -p for a name wins, as in papermill
            bound.Add(Parse(name, type, text, notebookName) with { Variable = declaration.Variable });
        }
        return bound;
    }

    /// <summary>The source of the injected cell: one typed assignment per parameter.</summary>
    public static string InjectedCellSource(IReadOnlyList<BoundParameter> parameters)
    {
        var source = new StringBuilder("// Parameters injected by nvgg run\n");
        foreach (var p in parameters)
            source.Append(p.Variable).Append(" = ").Append(p.Literal).Append(";\n");
        return source.ToString().TrimEnd('\n');
    }

    /// <summary>
    /// <paramref name="text"/> as a value of <paramref name="type"/> (as -p would bind it), or null when it does not parse:
    /// how an environment override of a declared parameter is recorded in the executed notebook's metadata.
    /// </summary>
    public static object? TryParse(ParameterType type, string text)
    {
        try
        {
            return Parse("", type, text.Trim(), "").Value;
        }
        catch (NotebookParameterException)
        {
            return null;
        }
    }

    /// <summary>The name of a type as --help-notebook shows it.</summary>
    public static string TypeName(ParameterType type) => type switch
    {
        ParameterType.String => "string",
        ParameterType.Int => "int",
        ParameterType.Long => "long",
        ParameterType.Double => "double",
        ParameterType.Bool => "bool",
        _ => type.ToString(),
    };

    private static BoundParameter Parse(string name, ParameterType type, string text, string notebookName)
    {
        var inv = CultureInfo.InvariantCulture;
        NotebookParameterException Bad(string what) =>
            new($"{notebookName}: parameter '{name}' is {what}; cannot use the value '{text}'");
        switch (type)
        {
            case ParameterType.String:
                return new BoundParameter(name, type, text, SymbolDisplay.FormatLiteral(text, quote: true));
            case ParameterType.Int:
                if (!int.TryParse(text, NumberStyles.AllowLeadingSign, inv, out int i))
                    throw Bad("an int");
                return new BoundParameter(name, type, i, i.ToString(inv));
            case ParameterType.Long:
                if (!long.TryParse(text, NumberStyles.AllowLeadingSign, inv, out long l))
                    throw Bad("a long");
                return new BoundParameter(name, type, l, l.ToString(inv) + "L");
            case ParameterType.Double:
                if (!double.TryParse(text, NumberStyles.Float, inv, out double d))
                    throw Bad("a double");
                string literal = double.IsNaN(d) ? "double.NaN"
                    : double.IsPositiveInfinity(d) ? "double.PositiveInfinity"
                    : double.IsNegativeInfinity(d) ? "double.NegativeInfinity"
                    : d.ToString("R", inv) + "d";
                return new BoundParameter(name, type, d, literal);
            case ParameterType.Bool:
                if (!bool.TryParse(text, out bool b))
                    throw Bad("a bool (true or false)");
                return new BoundParameter(name, type, b, b ? "true" : "false");
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, null);
        }
    }

    /// <summary>The environment variable of parameter <paramref name="name"/>, as NotebookParameter.VariableFor names it.</summary>
    public static string VariableFor(string name) => NotebookVgg.Notebooks.NotebookParameter.VariableFor(name);

    // NotebookParameter.Get("name", fallback): the fallback literal is the default, "name" the parameter's name.
    private static (ExpressionSyntax? Fallback, string? Name) EnvironmentFallback(ExpressionSyntax? initializer)
    {
        if (initializer is not InvocationExpressionSyntax { ArgumentList.Arguments: { Count: 2 } args } call
            || call.Expression is not MemberAccessExpressionSyntax { Name.Identifier.ValueText: "Get" } access
            || access.Expression.ToString().Split('.')[^1] != "NotebookParameter"
            || args[0].Expression is not LiteralExpressionSyntax { Token.Value: string name })
            return (null, null);
        return (args[1].Expression, name);
    }

    private static object? LiteralValue(ExpressionSyntax? expression) => expression switch
    {
        LiteralExpressionSyntax literal => literal.Token.Value,
        PrefixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.UnaryMinusExpression, Operand: LiteralExpressionSyntax literal } => literal.Token.Value switch
        {
            int i => -i,
            long l => -l,
            double d => -d,
            float f => -f,
            decimal m => -m,
            _ => null,
        },
        _ => null,
    };

    // The comment on the declaration's own line: "int steps = 100; // gradient steps per run".
    private static string TrailingComment(SyntaxNode node)
    {
        var comment = node.GetTrailingTrivia().FirstOrDefault(t => t.IsKind(SyntaxKind.SingleLineCommentTrivia));
        return comment == default ? "" : comment.ToString().TrimStart('/').Trim();
    }

    private static ParameterType? InferType(TypeSyntax declared, ExpressionSyntax? initializer)
    {
        if (declared is PredefinedTypeSyntax predefined)
        {
            return predefined.Keyword.Kind() switch
            {
                SyntaxKind.StringKeyword => ParameterType.String,
                SyntaxKind.IntKeyword => ParameterType.Int,
                SyntaxKind.LongKeyword => ParameterType.Long,
                SyntaxKind.DoubleKeyword => ParameterType.Double,
                SyntaxKind.BoolKeyword => ParameterType.Bool,
                _ => null,
            };
        }
        if (declared is not IdentifierNameSyntax { IsVar: true })
            return null;
        // var: the literal decides, as the compiler would (a leading minus sign included).
        if (initializer is PrefixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.UnaryMinusExpression } negated)
            initializer = negated.Operand;
        if (initializer is not LiteralExpressionSyntax literal)
            return null;
        return literal.Token.Value switch
        {
            string => ParameterType.String,
            int => ParameterType.Int,
            long => ParameterType.Long,
            double => ParameterType.Double,
            bool => ParameterType.Bool,
            _ => null,
        };
    }
}
