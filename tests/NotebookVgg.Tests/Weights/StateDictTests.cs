using System.Text;
using NotebookVgg.Tests.TestSupport;
using NotebookVgg.Weights;
using static TorchSharp.torch;

namespace NotebookVgg.Tests.Weights;

public sealed class StateDictTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("F64", "2305843009213693953", 8)]   // (2^61 + 1) × 8 bytes wraps around to 8
    [InlineData("F32", "4611686018427387905", 4)]   // (2^62 + 1) × 4 bytes wraps around to 4
    [InlineData("F32", "18446744073709551616", 4)]  // 2^64: no Int64 at all
    public void Safetensors_AShapeWhoseByteSizeOverflows_IsAOneLineErrorNamingTheFileAndTheTensor(string dtype, string count, int bytes)
    {
        string header = $$$"""{"w":{"dtype":"{{{dtype}}}","shape":[{{{count}}}],"data_offsets":[0,{{{bytes}}}]}}""";
        byte[] json = System.Text.Encoding.ASCII.GetBytes(header);
        string path = _dir.Combine("huge.safetensors");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)json.Length), .. json, .. new byte[bytes]]);

        var ex = Assert.Throws<InvalidDataException>(() => StateDict.Read(path));

        Assert.StartsWith(path + ": ", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'w'", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Legacy_ReadsKeysShapesAndDtypesInFileOrder()
    {
        using var sd = StateDict.Read(WeightFixtures.Path("vgg11_bn_r32.legacy.pth"));
        Assert.Equal(WeightsFormat.LegacyTorch, sd.Format);
        var expected = WeightFixtures.Manifest.GetProperty("reduced").GetProperty("vgg11_bn").GetProperty("keys").EnumerateArray()
            .Select(k => (k[0].GetString(), k[1].EnumerateArray().Select(d => d.GetInt64()).ToArray())).ToList();
        Assert.Equal(expected.Select(e => e.Item1), sd.Keys);
        foreach (var (key, shape) in expected)
            Assert.Equal(shape, sd[key!].shape);
        Assert.Equal(ScalarType.Int64, sd["features.1.num_batches_tracked"].dtype);
        Assert.Equal(123L, sd["features.1.num_batches_tracked"].item<long>());
        Assert.Equal(WeightFixtures.Manifest.GetProperty("reduced").GetProperty("vgg11_bn").GetProperty("parameters").GetInt64(), sd.ParameterCount);
    }

    [Theory]
    [InlineData("views.legacy.pth")]
    [InlineData("views.zip.pth")]
    public void SharedStorageAndStridedViews_AreRebuiltAsPyTorchHasThem(string file)
    {
        using var sd = StateDict.Read(WeightFixtures.Path(file));
        using var expected = StateDict.Read(WeightFixtures.Path("expected.safetensors"));
        Assert.Equal(["base", "slice", "transposed", "row"], sd.Keys);
        foreach (string key in sd.Keys)
            Assert.True(sd[key].allclose(expected["views." + key], 0, 0), $"{key} differs from PyTorch's");
        Assert.Equal([3L, 3], sd["slice"].shape);
        Assert.Equal([6L, 4], sd["transposed"].shape);
    }

    [Fact]
    public void FormatComesFromBytes_NotFromTheName()
    {
        string renamed = _dir.Combine("weights.safetensors");
        File.Copy(WeightFixtures.Path("vgg19_r32.legacy.pth"), renamed);
        using var sd = StateDict.Read(renamed);
        Assert.Equal(WeightsFormat.LegacyTorch, sd.Format);
    }

    [Theory]
    [InlineData("F" + "not-a-number\n.", "bad float 'not-a-number' at byte 23")] // FLOAT with text that is no number
    [InlineData("I" + "12x\n.", "bad integer '12x' at byte 23")]             // INT, the same
    public void ABadPickleNumber_IsOneLineNamingTheFileAndTheByte(string pickle, string expected)
    {
        // A real legacy file's magic and protocol pickles (21 bytes), then a pickle with a broken number.
        byte[] head = File.ReadAllBytes(WeightFixtures.Path("vgg19_r32.legacy.pth"))[..21];
        string path = _dir.Combine("bad-number.pth");
        File.WriteAllBytes(path, [.. head, 0x80, 0x02, .. System.Text.Encoding.ASCII.GetBytes(pickle)]);
        var ex = Assert.Throws<InvalidDataException>(() => StateDict.Read(path));
        Assert.Equal($"{path}: {expected}", ex.Message);
    }

    [Theory]
    [InlineData("size-beyond-storage", "tensor of shape [4, 4] at byte 164 reaches element 15 of storage 0, which holds 4")]
    [InlineData("offset-beyond-storage", "tensor of shape [2] at byte 160 reaches element 101 of storage 0, which holds 4")]
    [InlineData("negative-offset", "tensor at byte 163: negative storage offset -3")]
    [InlineData("negative-stride", "bad tensor shape at byte 167")]
    [InlineData("negative-size", "bad tensor shape at byte 163")]
    [InlineData("huge-shape", "bad tensor shape at byte 176")]
    [InlineData("overflowing-shape", "bad tensor shape at byte 172")]
    [InlineData("huge-storage", "bad storage size for storage 0 at byte 145")]
    [InlineData("entry-claims-2gib", "zip entry archive/data/0 is implausibly large (2,147,487,744 bytes)")]
    public void ATensorRecordThatLies_IsOneLineNamingTheFile(string name, string expected)
    {
        // tests/fixtures/make_hostile.py: valid zips and pickles whose numbers point outside the data or overflow.
        string path = WeightFixtures.Path(System.IO.Path.Combine("hostile", name + ".pth"));
        var ex = Assert.Throws<InvalidDataException>(() => StateDict.Read(path));
        Assert.Equal($"{path}: {expected}", ex.Message);
    }

    [Theory]
    [InlineData("evil.legacy.pth")]
    [InlineData("evil.zip.pth")]
    public void HostilePickle_IsRefused_NamingTheGlobal_AndRunsNothing(string file)
    {
        string marker = "/tmp/notebookvgg-pwned";
        File.Delete(marker);
        var ex = Assert.Throws<InvalidDataException>(() => StateDict.Read(WeightFixtures.Path(file)));
        Assert.Contains("'posix.system'", ex.Message, StringComparison.Ordinal);
        Assert.Contains(file, ex.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(marker));
    }

    public static TheoryData<string> EveryFormat() =>
        ["vgg19_r32.legacy.pth", "vgg19_r32.zip.pth", "vgg19_r32.safetensors", "vgg19_r32.torchsharp.dat", "vgg19_r32.checkpoint.legacy.pth"];

    [Theory]
    [MemberData(nameof(EveryFormat))]
    public void TruncatedFile_GivesClearErrorNamingTheFile(string file)
    {
        byte[] bytes = File.ReadAllBytes(WeightFixtures.Path(file));
        foreach (int length in new[] { 1, 9, 40, 200, bytes.Length / 2, bytes.Length - 1 })
        {
            string path = _dir.Combine($"cut-{length}-{file}");
            File.WriteAllBytes(path, bytes[..length]);
            var ex = Assert.Throws<InvalidDataException>(() => StateDict.Read(path));
            Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(EveryFormat))]
    public void CorruptedBytes_NeverCrash_EitherReadOrClearError(string file)
    {
        byte[] original = File.ReadAllBytes(WeightFixtures.Path(file));
        var random = new Random(42);
        for (int trial = 0; trial < 40; trial++)
        {
            byte[] bytes = (byte[])original.Clone();
            // Damage the structured part (headers, pickles, zip directory) where it matters most.
            int region = Math.Min(bytes.Length, trial % 2 == 0 ? 2048 : bytes.Length);
            for (int i = 0; i < 4; i++)
                bytes[random.Next(trial % 4 == 3 ? bytes.Length - Math.Min(bytes.Length, 600) : 0, trial % 4 == 3 ? bytes.Length : region)] ^= (byte)random.Next(1, 256);
            string path = _dir.Combine($"bad-{trial}-{file}");
            File.WriteAllBytes(path, bytes);
            try
            {
                using var sd = StateDict.Read(path);
            }
            catch (InvalidDataException ex)
            {
                Assert.Contains(path, ex.Message, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public void EmptyOrUnknownFile_IsRejectedClearly()
    {
        File.WriteAllBytes(_dir.Combine("empty.pth"), []);
        Assert.Contains("empty", Assert.Throws<InvalidDataException>(() => StateDict.Read(_dir.Combine("empty.pth"))).Message, StringComparison.Ordinal);
        File.WriteAllText(_dir.Combine("text.pth"), "<html>404 not found</html>");
        var ex = Assert.Throws<InvalidDataException>(() => StateDict.Read(_dir.Combine("text.pth")));
        Assert.Contains("not a weights file", ex.Message, StringComparison.Ordinal);
        Assert.Throws<FileNotFoundException>(() => StateDict.Read(_dir.Combine("absent.pth")));
    }

    [Fact]
    public void ZipWithoutDataPkl_IsRejected()
    {
        string path = _dir.Combine("other.zip");
        using (var zip = System.IO.Compression.ZipFile.Open(path, System.IO.Compression.ZipArchiveMode.Create))
        {
            using var w = new StreamWriter(zip.CreateEntry("readme.txt").Open(), Encoding.UTF8);
            w.Write("hello");
        }
        Assert.Contains("not a PyTorch one", Assert.Throws<InvalidDataException>(() => StateDict.Read(path)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ZipStorageOfWrongSize_IsRejected()
    {
        string path = _dir.Combine("short-storage.pth");
        File.Copy(WeightFixtures.Path("vgg19_r32.zip.pth"), path);
        using (var zip = System.IO.Compression.ZipFile.Open(path, System.IO.Compression.ZipArchiveMode.Update))
        {
            var entry = zip.Entries.First(e => e.FullName.Contains("/data/", StringComparison.Ordinal));
            string name = entry.FullName;
            entry.Delete();
            using var s = zip.CreateEntry(name).Open();
            s.Write(new byte[12]);
        }
        var ex = Assert.Throws<InvalidDataException>(() => StateDict.Read(path));
        Assert.Contains("expected", ex.Message, StringComparison.Ordinal);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Safetensors_WriteThenRead_RoundTripsExactly()
    {
        using var a = randn(3, 4);
        using var b = arange(6, dtype: ScalarType.Int64).reshape(2, 3);
        string path = _dir.Combine("t.safetensors");
        SafetensorsFile.Write(path, [new("a", a), new("b", b)], new Dictionary<string, string> { ["format"] = "pt" });
        using var sd = StateDict.Read(path);
        Assert.Equal(WeightsFormat.Safetensors, sd.Format);
        Assert.Equal(["a", "b"], sd.Keys);
        Assert.True(sd["a"].allclose(a, 0, 0));
        Assert.True(sd["b"].equal(b).all().item<bool>());
        Assert.Equal(["t.safetensors"], _dir.Files());
    }

    [Fact]
    public void SafetensorsOffsetsOutsideTheData_AreRejected()
    {
        string json = """{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""";
        byte[] header = Encoding.UTF8.GetBytes(json);
        string path = _dir.Combine("short.safetensors");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)header.Length), .. header, .. new byte[8]]);
        var ex = Assert.Throws<InvalidDataException>(() => StateDict.Read(path));
        Assert.Contains("'w'", ex.Message, StringComparison.Ordinal);
    }
}
