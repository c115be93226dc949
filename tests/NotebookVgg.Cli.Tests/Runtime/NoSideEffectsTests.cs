using System.Buffers.Binary;
using NotebookVgg.Cli.Tests.TestSupport;
using NotebookVgg.Runtime;
using NotebookVgg.Tests.TestSupport;
using static NotebookVgg.Cli.Tests.TestSupport.TestNotebooks;

namespace NotebookVgg.Cli.Tests.Runtime;

/// <summary>
/// Issue 14: loading the library or running a notebook changes no file outside the project's own folders. The
/// native-runtime fix is an explicit step (<c>nvgg doctor --fix</c>) that writes only a copy of its own.
/// </summary>
public class NoSideEffectsTests
{
    private static string NuGetPackages =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } env
            ? env
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    [Fact]
    public void Doctor_WithoutFix_ChangesNoFile_EvenWhereTheNuGetCacheHoldsAnUnpatchedLibrary()
    {
        using var temp = new TempDirectory();
        // A NuGet cache whose libLibTorchSharp.so is as shipped (strong GLIBCXX_3.4.32): what an earlier NotebookVgg patched in place.
        string cached = Path.Combine(NuGetPackages, "torchsharp", NativeRuntime.TorchSharpVersion, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(cached), $"{cached} missing: restore the packages (dotnet build NotebookVgg.sln)");
        string coldCache = temp.Combine("nuget");
        string shipped = Path.Combine(coldCache, "torchsharp", NativeRuntime.TorchSharpVersion, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Directory.CreateDirectory(Path.GetDirectoryName(shipped)!);
        File.WriteAllBytes(shipped, AsShipped(cached));
        var before = Snapshot(coldCache);

        var run = Nvgg.RunWith(temp.Path, new Dictionary<string, string> { ["NUGET_PACKAGES"] = coldCache }, TimeSpan.FromMinutes(3), "doctor");

        Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
        Assert.Equal(before, Snapshot(coldCache));
        Assert.False(ElfVersionNeeds.Read(shipped).Single(r => r.Version == NativeRuntime.MarkerVersion).IsWeak);
    }

    [Fact]
    public void Fix_WritesOnlyItsOwnCopy_AndSaysHowToUndoIt()
    {
        using var temp = new TempDirectory();
        string fixDirectory = temp.Combine("native");
        var nuget = Snapshot(Path.Combine(NuGetPackages, "torchsharp"));
        var environment = new Dictionary<string, string> { [NativeRuntime.FixDirectoryEnvironmentVariable] = fixDirectory };

        var fix = Nvgg.RunWith(temp.Path, environment, TimeSpan.FromMinutes(3), "doctor", "--fix", "--json");

        Assert.True(fix.ExitCode == 0, fix.Stdout + fix.Stderr);
        Assert.Equal(nuget, Snapshot(Path.Combine(NuGetPackages, "torchsharp")));
        if (!NativeRuntime.Status.FixNeeded)
        {
            Assert.False(Directory.Exists(fixDirectory), "the fix wrote a copy on a system that does not need it");
            return;
        }
        string copy = Assert.Single(Directory.GetFiles(fixDirectory));
        Assert.True(ElfVersionNeeds.Read(copy).Single(r => r.Version == NativeRuntime.MarkerVersion).IsWeak);
        Assert.Contains($"To undo: rm -r {fixDirectory}", fix.Stderr, StringComparison.Ordinal);
        // The report, from a new process, says the copy is in use.
        var report = System.Text.Json.Nodes.JsonNode.Parse(fix.Stdout)!;
        Assert.Equal(copy, (string?)report["nativeRuntime"]?["fixedCopy"]);
        // A second --fix has nothing to do and says nothing.
        var again = Nvgg.RunWith(temp.Path, environment, TimeSpan.FromMinutes(3), "doctor", "--fix");
        Assert.True(again.ExitCode == 0, again.Stdout + again.Stderr);
        Assert.DoesNotContain("nvgg doctor --fix:", again.Stderr, StringComparison.Ordinal);
    }

    [Trait("Category", "Notebooks")]
    [Fact]
    public void RunningASmokeNotebook_ChangesNothingInTheNuGetCacheOrTheFix()
    {
        string sample = RepoFiles.SampleArchive; // fails loudly when missing
        using var temp = new TempDirectory();
        var watched = new[] { NuGetPackages, NativeRuntime.FixDirectory };
        var before = watched.Select(Snapshot).ToList();

        var run = Nvgg.RunWith(RepoFiles.Path(), new Dictionary<string, string>
        {
            ["NOTEBOOKVGG_DATA"] = temp.Combine("data"),
            ["NOTEBOOKVGG_SAMPLE"] = sample,
        }, TimeSpan.FromMinutes(10), "run", "notebooks/02-the-last-layer.ipynb", "-p", "profile", "smoke", "-p", "scale", "tiny",
            "--output", temp.Combine("out"));

        Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
        for (int i = 0; i < watched.Length; i++)
        {
            var after = Snapshot(watched[i]);
            var changed = before[i].Keys.Union(after.Keys)
                .Where(f => !before[i].TryGetValue(f, out var b) || !after.TryGetValue(f, out var a) || a != b).ToList();
            // A build or restore by another process during this test also shows up here; the names tell which.
            Assert.True(changed.Count == 0, $"{changed.Count} files under {watched[i]} were written, removed or created:\n" +
                string.Join("\n", changed.Take(20)));
        }
    }

    /// <summary>Every file under <paramref name="folder"/> with its length and last write time (empty when absent).</summary>
    private static SortedDictionary<string, (long, DateTime)> Snapshot(string folder)
    {
        var files = new SortedDictionary<string, (long, DateTime)>(StringComparer.Ordinal);
        if (!Directory.Exists(folder))
            return files;
        foreach (var file in new DirectoryInfo(folder).EnumerateFiles("*", SearchOption.AllDirectories))
            files[file.FullName] = (file.Length, file.LastWriteTimeUtc);
        return files;
    }

    /// <summary>The library's bytes with the marker requirement strong again, as TorchSharp ships it.</summary>
    private static byte[] AsShipped(string library)
    {
        byte[] bytes = File.ReadAllBytes(library);
        var marker = ElfVersionNeeds.Read(library).Single(r => r.Version == NativeRuntime.MarkerVersion);
        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan((int)marker.FlagsOffset));
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan((int)marker.FlagsOffset), (ushort)(flags & ~0x2));
        return bytes;
    }
}
