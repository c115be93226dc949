using NotebookVgg.Cli.Tests.TestSupport;
using NotebookVgg.Runtime;
using NotebookVgg.Tests.TestSupport;

namespace NotebookVgg.Cli.Tests.Commands;

/// <summary>nvgg doctor as a new user meets it: before <c>--fix</c>, on a system whose libstdc++ is too old for TorchSharp.</summary>
public class DoctorCommandTests
{
    [Fact]
    public void Doctor_BeforeTheFix_SaysTheCauseAndTheFixingCommandInOneLine_TheTraceOnlyWithVerbose()
    {
        using var temp = new TempDirectory();
        // No patched copy yet: an empty fix folder is what a fresh machine has.
        var environment = new Dictionary<string, string> { [NativeRuntime.FixDirectoryEnvironmentVariable] = temp.Combine("native") };
        // TorchSharp's own fallback copies libtorch beside nvgg.dll (cpu/) when it cannot load: removed after the test.
        string consolidated = Path.Combine(Path.GetDirectoryName(Nvgg.DllPath)!, "cpu");
        bool existed = Directory.Exists(consolidated);
        try
        {
            var run = Nvgg.RunWith(temp.Path, environment, TimeSpan.FromMinutes(3), "doctor");

            if (!NativeRuntime.Status.FixNeeded)
            {
                // This system's libstdc++ is new enough: first contact is a report that passes, with nothing to fix.
                Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
                return;
            }
            Assert.Equal(1, run.ExitCode);
            string line = Assert.Single(run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Equal($"nvgg: error: TorchSharp does not load: TorchSharp's native library needs {NativeRuntime.MarkerVersion}, which this " +
                $"system's libstdc++ lacks (Debian 12, Ubuntu 22.04); fix it with: ./nvgg doctor --fix (writes a patched copy to " +
                $"{temp.Combine("native")}, changes nothing else)", line);
            Assert.DoesNotContain("LoadNativeBackend", run.Stdout + run.Stderr, StringComparison.Ordinal);
            Assert.True(run.Stdout.Split('\n').Length < 40, run.Stdout); // the table, not a 60-line trace in one cell

            var verbose = Nvgg.RunWith(temp.Path, environment, TimeSpan.FromMinutes(3), "doctor", "--verbose");

            Assert.Equal(1, verbose.ExitCode);
            Assert.Contains("Trace from LoadNativeBackend", verbose.Stderr, StringComparison.Ordinal);
            Assert.False(Directory.Exists(temp.Combine("native")), "doctor without --fix wrote the fix");
        }
        finally
        {
            if (!existed && Directory.Exists(consolidated))
                Directory.Delete(consolidated, recursive: true);
        }
    }
}
