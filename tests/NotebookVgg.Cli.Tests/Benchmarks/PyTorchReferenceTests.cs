using NotebookVgg.Cli.Benchmarks;
using NotebookVgg.Tests.TestSupport;

namespace NotebookVgg.Cli.Tests.Benchmarks;

/// <summary>The subprocess protocol, with /bin/sh standing in for python so no torch is needed.</summary>
public class PyTorchReferenceTests
{
    private static readonly BenchmarkSettings Quick = new() { Quick = true, Repeats = 2, Cases = [BenchmarkSuite.Forward, BenchmarkSuite.Head] };

    [Fact]
    public void Run_PassesThreadsRepeatsShapesAndCases_AndParsesTheReport()
    {
        using var temp = new TempDirectory();
        string script = temp.Combine("reference.sh");
        // Echoes what it was given back inside the report, so the test sees the environment the script saw.
        File.WriteAllText(script, """
            echo "{\"framework\": \"fake $NVGG_BENCH_CASES $GLIBC_TUNABLES\", \"threads\": $NVGG_BENCH_THREADS, \"blas\": [\"r$NVGG_BENCH_REPEATS\", \"m$NVGG_BENCH_MATMUL_SIZE\", \"b$NVGG_BENCH_BATCH_224\", \"f$NVGG_BENCH_BATCH_32\"],"
            echo " \"results\": [{\"case\": \"forward\", \"name\": \"forward 224 batch 2\", \"images\": 2, \"imagesPerSecond\": 4.5, \"gflopsPerSecond\": 176.7, \"seconds\": 0.44, \"peakRssMb\": 900}]}"
            """);

        Assert.True(NotebookVgg.Runtime.NativeAllocator.KeepFreedMemory());

        var report = PyTorchReference.Run(script, "/bin/sh", Quick, threads: 3, TimeSpan.FromSeconds(30));

        // head is not a case the script knows; the allocator setting travels so both sides run alike
        Assert.Equal($"fake forward {NotebookVgg.Runtime.NativeAllocator.GlibcTunables}", report.Framework);
        Assert.Equal(3, report.Threads);
        Assert.Equal(["r2", "m1024", "b2", "f16"], report.Blas);
        var line = Assert.Single(report.Results);
        Assert.Equal((BenchmarkSuite.Forward, 4.5, 176.7), (line.Case, line.ImagesPerSecond!.Value, line.GflopsPerSecond));
    }

    [Fact]
    public void Run_FailingScript_ThrowsWithItsLastErrorLine()
    {
        using var temp = new TempDirectory();
        string script = temp.Combine("reference.sh");
        File.WriteAllText(script, "echo 'Traceback ...' >&2\necho 'ModuleNotFoundError: No module named torch' >&2\nexit 3\n");

        var ex = Assert.Throws<InvalidOperationException>(() => PyTorchReference.Run(script, "/bin/sh", Quick, 2, TimeSpan.FromSeconds(30)));

        Assert.Equal($"{script}: exited with code 3: ModuleNotFoundError: No module named torch", ex.Message);
    }

    [Fact]
    public void Run_MissingInterpreter_NamesIt()
    {
        using var temp = new TempDirectory();
        string script = temp.Combine("reference.py");
        File.WriteAllText(script, "");

        var ex = Assert.Throws<InvalidOperationException>(() => PyTorchReference.Run(script, temp.Combine("no-python"), Quick, 2, TimeSpan.FromSeconds(30)));

        Assert.StartsWith($"{temp.Combine("no-python")}: could not be started", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{\"threads\": 2}")]
    public void Parse_UnexpectedOutput_NamesTheSource(string output)
    {
        var ex = Assert.Throws<InvalidDataException>(() => PyTorchReference.Parse(output, "ref.py"));
        Assert.StartsWith("ref.py: ", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FindScript_FindsTheRepositorysReferenceScript()
    {
        Assert.Equal(Path.Combine(RepoFiles.Root, "bench", "pytorch_reference.py"), PyTorchReference.FindScript());
    }
}
