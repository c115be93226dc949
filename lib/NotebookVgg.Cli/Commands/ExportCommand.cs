using System.ComponentModel;
using NotebookVgg.Cli.Runner;
using NotebookVgg.IO;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NotebookVgg.Cli.Commands;

/// <summary><c>nvgg export</c>: writes notebooks as .NET 10 file-based apps (<c>dotnet run NAME.cs</c>), which need no notebook kernel.</summary>
internal sealed class ExportCommand : Command<ExportCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<NOTEBOOK|FOLDER>")]
        [Description("Notebooks (.ipynb) to export, or folders whose notebooks are exported.")]
        public string[] Inputs { get; init; } = [];

        [CommandOption("--to <FORMAT>")]
        [Description("What to write: cs (a .NET 10 file-based app, run with dotnet run NAME.cs). The only format, and the default.")]
        public string To { get; init; } = "cs";

        [CommandOption("-o|--output <DIR>")]
        [Description("Write the apps here instead of beside each notebook (their #:project paths follow).")]
        public string? Output { get; init; }

        public override ValidationResult Validate()
        {
            if (Inputs.Length == 0)
                return ValidationResult.Error("give at least one notebook or folder");
            if (To != "cs")
                return ValidationResult.Error($"--to {To}: the one format is cs (a .NET 10 file-based app)");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        string? output = settings.Output is { } dir ? Path.GetFullPath(dir) : null;
        var notebooks = NotebookRunner.ExpandInputs(settings.Inputs).Distinct(StringComparer.Ordinal).ToList();
        // Every notebook is exported in memory before anything is written: one that cannot be leaves no app behind.
        var apps = notebooks.Select(n => (Notebook: n, App: NotebookExporter.AppPathFor(n, output)))
            .Select(x => (x.Notebook, x.App, Source: NotebookExporter.Export(x.Notebook, x.App)))
            .ToList();
        foreach (var (notebook, app, source) in apps)
        {
            AtomicFile.WriteAllText(app, source, "file-based app");
            AnsiConsole.MarkupLine($"{Markup.Escape(Path.GetFileName(notebook))} → {Markup.Escape(Path.GetRelativePath(Directory.GetCurrentDirectory(), app))}" +
                $" (run: dotnet run {Markup.Escape(Path.GetRelativePath(Directory.GetCurrentDirectory(), app))})");
        }
        return 0;
    }
}
