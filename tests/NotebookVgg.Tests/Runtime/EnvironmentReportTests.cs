using NotebookVgg.Runtime;

namespace NotebookVgg.Tests.Runtime;

/// <summary>The setup cell's one-line summary (issue 22: a 14-row table was noise to a learner).</summary>
public sealed class EnvironmentReportTests
{
    private static EnvironmentReport Report(bool works = true, bool fixNeeded = false, bool fixActive = false) => new(
        "0.107.0", "2.10.0.0", ["cpu"], false, 0, 2, works, works ? null : "libtorch_cpu.so: cannot open",
        new NativeRuntimeStatus(fixNeeded, fixActive, [], null, null), "/data", "/data/weights", null, false, "Debian 12", ".NET 10.0.12", 2);

    [Fact]
    public void Summary_IsOneLine_WithWhatRunsWhere_AndNoDataFolders()
    {
        string line = Report().Summary();

        Assert.DoesNotContain('\n', line);
        Assert.StartsWith("TorchSharp 0.107.0 / libtorch 2.10.0.0 works: cpu, 2 threads, ", line, StringComparison.Ordinal);
        Assert.Contains(".NET 10.0.12 on Debian 12, 2 cores", line, StringComparison.Ordinal);
        Assert.DoesNotContain("/data", line, StringComparison.Ordinal); // a run says which data it reads, not the setup cell
        Assert.Equal(Report().Lines().Count(), Report().ToDataFrame().Rows.Count); // the table stays on request
    }

    [Fact]
    public void Summary_LeadsWithAProblem()
    {
        Assert.StartsWith("libtorch does NOT compute (libtorch_cpu.so: cannot open); run ./nvgg doctor. ", Report(works: false).Summary(), StringComparison.Ordinal);
        Assert.StartsWith("the native-runtime fix is NEEDED, not applied: run ./nvgg doctor --fix. ", Report(fixNeeded: true).Summary(), StringComparison.Ordinal);
        Assert.StartsWith("TorchSharp", Report(fixNeeded: true, fixActive: true).Summary(), StringComparison.Ordinal);
    }
}
