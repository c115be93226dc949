using NotebookVgg.Cli.Commands;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NotebookVgg.Cli;

/// <summary>Builds the <c>nvgg</c> command tree. Every command lives in Commands/ and is registered here once.</summary>
public static class NvggApp
{
    /// <summary>Exit code for a command that failed (bad input, failed download, ...).</summary>
    public const int Failure = 1;

    /// <summary>Exit code for a command line that could not be parsed.</summary>
    public const int UsageError = 2;

    public static int Run(string[] args)
    {
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("nvgg");
            config.UseAssemblyInformationalVersion();
            config.SetExceptionHandler((ex, _) => ReportError(ex));
            config.AddCommand<DoctorCommand>("doctor")
                .WithDescription("Check the environment: TorchSharp/libtorch, devices, threads, caches, native-runtime fix, data present.")
                .WithExample("doctor", "--json");
            config.AddCommand<RunCommand>("run")
                .WithDescription("Run C# notebooks headless (papermill-style): parameters, executed copies, offline HTML reports.")
                .WithExample("run", "notebooks/01-train.ipynb", "-p", "epochs", "5", "--html")
                .WithExample("run", "notebooks", "--output", "artifacts/notebooks", "--timeout", "600");
        });
        if (args.Length > 0 && args[0] == "run")
            args = RunCommand.NormalizeParameterArguments(args);
        return app.Run(args);
    }

    /// <summary>One clear line on stderr, never a stack trace: the message names the file or value at fault.</summary>
    private static int ReportError(Exception ex)
    {
        var root = ex is CommandAppException ? ex : (ex.InnerException is { } inner && ex is System.Reflection.TargetInvocationException ? inner : ex);
        string message = root.Message.ReplaceLineEndings(" ").Trim();
        var stderr = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        if (Console.IsErrorRedirected)
            stderr.Profile.Width = 4096; // one line in logs, not wrapped at 80 columns
        stderr.MarkupLine($"[red]nvgg: error:[/] {Markup.Escape(message)}");
        return root is CommandParseException or CommandConfigurationException ? UsageError : Failure;
    }
}
