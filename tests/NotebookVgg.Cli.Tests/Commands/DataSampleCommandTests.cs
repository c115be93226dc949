using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using NotebookVgg.Cli.Tests.TestSupport;
using NotebookVgg.Data;
using NotebookVgg.Tests.TestSupport;

namespace NotebookVgg.Cli.Tests.Commands;

/// <summary>
/// nvgg data sample (issue 26): the workflow writes the tests' CIFAR-10 sample from the real data set, in the official
/// layout (shared/data/README.md), class-balanced, the same bytes every time.
/// </summary>
public sealed class DataSampleCommandTests : IDisposable
{
    private const int RecordBytes = 3073;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>CIFAR-10-format data standing in for the real set: synthetic records without the synthetic marker.</summary>
    private string Source()
    {
        string folder = _dir.Combine("source");
        SyntheticCifar.Write(folder, 600, 150, seed: 3);
        File.Delete(Path.Combine(folder, Cifar10.FolderName, Cifar10.SyntheticMarkerFileName));
        return folder;
    }

    [Fact]
    public async Task Sample_IsBalanced_InTheOfficialLayout_FromTheSourceRecords_AndTheSameBytesTwice()
    {
        string source = Source();
        var first = Nvgg.Run(_dir.Path, "data", "sample", "--data", source, "--out", _dir.Combine("a.tar.gz"), "--train-per-class", "20", "--test-per-class", "5");
        Assert.True(first.ExitCode == 0, first.Stdout + first.Stderr);
        var second = Nvgg.Run(_dir.Path, "data", "sample", "--data", source, "--out", _dir.Combine("b.tar.gz"), "--train-per-class", "20", "--test-per-class", "5");
        Assert.True(second.ExitCode == 0, second.Stdout + second.Stderr);
        byte[] archive = File.ReadAllBytes(_dir.Combine("a.tar.gz"));
        Assert.Equal(archive, File.ReadAllBytes(_dir.Combine("b.tar.gz")));
        Assert.Contains($"SHA-256 {Convert.ToHexStringLower(SHA256.HashData(archive))}", first.Stdout, StringComparison.Ordinal);

        var entries = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        using (var gzip = new GZipStream(new MemoryStream(archive), CompressionMode.Decompress))
        using (var tar = new TarReader(gzip))
        {
            while (tar.GetNextEntry() is { } entry)
            {
                var bytes = new MemoryStream();
                entry.DataStream?.CopyTo(bytes);
                entries[entry.Name] = bytes.ToArray();
            }
        }
        string[] expected = ["cifar-10-batches-bin/", "cifar-10-batches-bin/batches.meta.txt",
            .. Cifar10.TrainFileNames.Select(f => "cifar-10-batches-bin/" + f), "cifar-10-batches-bin/test_batch.bin"];
        Assert.Equal(expected, entries.Keys);
        Assert.Equal(File.ReadAllBytes(Path.Combine(source, Cifar10.FolderName, Cifar10.MetaFileName)), entries["cifar-10-batches-bin/batches.meta.txt"]);

        var sourceTrain = Records(Cifar10.TrainFileNames.Select(f => File.ReadAllBytes(Path.Combine(source, Cifar10.FolderName, f))));
        var sourceTest = Records([File.ReadAllBytes(Path.Combine(source, Cifar10.FolderName, Cifar10.TestFileName))]);
        foreach (string batch in Cifar10.TrainFileNames)
            Assert.Equal(40 * RecordBytes, entries["cifar-10-batches-bin/" + batch].Length); // 20 per class × 10 / 5 files
        var train = Records(Cifar10.TrainFileNames.Select(f => entries["cifar-10-batches-bin/" + f]));
        var test = Records([entries["cifar-10-batches-bin/test_batch.bin"]]);
        Assert.All(train.GroupBy(r => r[0]), g => Assert.Equal(20, g.Count()));
        Assert.Equal(10, train.Select(r => r[0]).Distinct().Count());
        Assert.All(test.GroupBy(r => r[0]), g => Assert.Equal(5, g.Count()));
        // The first records of each class in file order, the same bytes, in a shuffled order.
        var firstTrain = sourceTrain.GroupBy(r => r[0]).SelectMany(g => g.Take(20)).Select(Convert.ToHexString).Order().ToList();
        Assert.Equal(firstTrain, train.Select(Convert.ToHexString).Order().ToList());
        var firstTest = sourceTest.GroupBy(r => r[0]).SelectMany(g => g.Take(5)).Select(Convert.ToHexString).Order().ToList();
        Assert.Equal(firstTest, test.Select(Convert.ToHexString).Order().ToList());
        Assert.NotEqual(sourceTrain.GroupBy(r => r[0]).SelectMany(g => g.Take(20)).Select(Convert.ToHexString), train.Select(Convert.ToHexString));

        // nvgg reads it as CIFAR-10; it is "the CIFAR-10 sample" where NOTEBOOKVGG_SAMPLE names it (as the workflow does).
        using (var env = new EnvironmentVariables(("NOTEBOOKVGG_SAMPLE", _dir.Combine("a.tar.gz"))))
        {
            string data = await Cifar10.ExtractAsync(_dir.Combine("b.tar.gz"), _dir.Combine("data"));
            using var dataset = Cifar10.Load(data);
            Assert.Equal(200, dataset.Train.Count);
            Assert.Equal(50, dataset.Test.Count);
            Assert.Equal(Cifar10.SourceNameSample, dataset.SourceName);
        }
    }

    [Fact]
    public void Sample_RefusesSyntheticData_AndClassesThatAreTooSmall_WritingNothing()
    {
        string synthetic = _dir.Combine("synthetic");
        SyntheticCifar.Write(synthetic, 100, 50, seed: 1);
        var refused = Nvgg.Run(_dir.Path, "data", "sample", "--data", synthetic, "--out", _dir.Combine("s.tar.gz"));
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("synthetic", refused.Stderr + refused.Stdout, StringComparison.Ordinal);

        var tooMany = Nvgg.Run(_dir.Path, "data", "sample", "--data", Source(), "--out", _dir.Combine("t.tar.gz"), "--train-per-class", "1000");
        Assert.Equal(1, tooMany.ExitCode);
        Assert.Contains("fewer than the 1000 per class", tooMany.Stderr + tooMany.Stdout, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_dir.Path, "*.tar.gz*"));
    }

    private static List<byte[]> Records(IEnumerable<byte[]> files) =>
        [.. files.SelectMany(bytes => Enumerable.Range(0, bytes.Length / RecordBytes).Select(i => bytes[(i * RecordBytes)..((i + 1) * RecordBytes)]))];
}
