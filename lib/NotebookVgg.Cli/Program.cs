namespace NotebookVgg.Cli;

internal static class Program
{
    public static int Main(string[] args)
    {
        // Before any thread allocates: keep freed native memory, in one arena (see NativeAllocator).
        NotebookVgg.Runtime.NativeAllocator.KeepFreedMemory();
        int exitCode = NvggApp.Run(args);
        // Exit now, whatever a notebook cell left running (a foreground thread would keep the process alive forever).
        Environment.Exit(exitCode);
        return exitCode;
    }
}
