namespace NotebookVgg.Cli;

internal static class Program
{
    public static int Main(string[] args)
    {
        int exitCode = NvggApp.Run(args);
        // Exit now, whatever a notebook cell left running (a foreground thread would keep the process alive forever).
        Environment.Exit(exitCode);
        return exitCode;
    }
}
