using System.ComponentModel;
using System.Diagnostics;

namespace NotebookVgg.Tests.TestSupport;

/// <summary>
/// Debian's /usr/bin/python3 (with python3-torch, numpy), the reference side of tests that compare with PyTorch. Not the
/// python3 on PATH, which may be a pyenv shim without torch. Missing or failing, the test fails with the script's last error
/// line, never skips.
/// </summary>
public static class DebianPython
{
    public const string Path = "/usr/bin/python3";

    /// <summary>Runs python3 with <paramref name="args"/> (a script path, or "-c" and code) and returns its standard output.</summary>
    public static string Run(params string[] args)
    {
        var start = new ProcessStartInfo(Path, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        Process python;
        try
        {
            python = Process.Start(start) ?? throw new InvalidOperationException($"{Path} did not start");
        }
        catch (Win32Exception e)
        {
            throw new Xunit.Sdk.XunitException($"{Path} with torch is required by this test (tools/apt-install.sh installs python3-torch): {e.Message}");
        }
        using (python)
        {
            var stderr = python.StandardError.ReadToEndAsync();
            string stdout = python.StandardOutput.ReadToEnd();
            python.WaitForExit();
            string lastError = stderr.Result.Trim().Split('\n').LastOrDefault() ?? "";
            if (python.ExitCode != 0)
                throw new Xunit.Sdk.XunitException($"{Path} with torch and numpy is required by this test (tools/apt-install.sh installs python3-torch): {lastError}");
            return stdout;
        }
    }
}
