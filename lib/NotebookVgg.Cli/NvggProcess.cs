using System.Diagnostics;

namespace NotebookVgg.Cli;

/// <summary>Starts this same nvgg again, as a child process (one notebook of a run, a report after doctor --fix).</summary>
internal static class NvggProcess
{
    /// <summary>A start info for nvgg with <paramref name="args"/>, whether this process runs as an apphost or as "dotnet nvgg.dll".</summary>
    public static ProcessStartInfo StartInfo(params string[] args)
    {
        string host = Environment.ProcessPath ?? "dotnet";
        var start = new ProcessStartInfo(host) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
            start.ArgumentList.Add(typeof(NvggProcess).Assembly.Location);
        foreach (string arg in args)
            start.ArgumentList.Add(arg);
        return start;
    }
}
