namespace NotebookVgg.Cli;

internal static class Program
{
    public static int Main(string[] args) => NvggApp.Run(args);
}
