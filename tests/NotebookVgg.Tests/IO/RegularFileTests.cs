using System.Diagnostics;
using NotebookVgg.Data;
using NotebookVgg.Imaging;
using NotebookVgg.Tests.TestSupport;
using NotebookVgg.Training;
using NotebookVgg.Weights;

namespace NotebookVgg.Tests.IO;

/// <summary>Issue 13: a named pipe given as an input used to block forever; every reader refuses it at once.</summary>
public sealed class RegularFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    // "weights checksum": a run pins the SHA-256 of its weights file before reading it (nvgg train --weights PIPE hung there).
    public static TheoryData<string> Readers() => ["weights", "weights checksum", "image", "checkpoint", "archive"];

    [Theory]
    [MemberData(nameof(Readers))]
    public async Task ANamedPipe_IsRefusedAtOnce_NamingIt(string reader)
    {
        string fifo = _dir.Combine("pipe");
        using (var mkfifo = Process.Start("mkfifo", [fifo]))
            mkfifo.WaitForExit();
        Assert.True(File.Exists(fifo), "mkfifo made no pipe");
        Action read = reader switch
        {
            "weights" => () => StateDict.Read(fifo).Dispose(),
            "weights checksum" => () => WeightsStore.Sha256Of(fifo),
            "image" => () => ImageFiles.Read(fifo).Dispose(),
            "checkpoint" => () => Checkpoint.ReadState(fifo),
            _ => () => Cifar10.ExtractAsync(fifo, _dir.Combine("data")).GetAwaiter().GetResult(),
        };

        var attempt = Task.Run(() => Record.Exception(read));
        var finished = await Task.WhenAny(attempt, Task.Delay(TimeSpan.FromSeconds(20)));
        Assert.True(finished == attempt, $"reading a named pipe as {reader} blocked");

        var ex = Assert.IsType<InvalidDataException>(await attempt);
        Assert.StartsWith(fifo + ": empty, or not a regular file", ex.Message, StringComparison.Ordinal);
    }
    [Theory]
    [MemberData(nameof(Readers))]
    public void AShellsProcessSubstitution_ALinkToAnAnonymousPipe_IsRefusedNamingIt(string reader)
    {
        // bash's <(cat FILE) passes /dev/fd/N, a link to "pipe:[…]"; it used to fail with "Stream does not support seeking."
        using var pipe = new System.IO.Pipes.AnonymousPipeServerStream(System.IO.Pipes.PipeDirection.Out);
        string path = $"/proc/self/fd/{pipe.ClientSafePipeHandle.DangerousGetHandle()}";
        Assert.True(File.Exists(path), $"{path} does not show the pipe");
        Action read = reader switch
        {
            "weights" => () => StateDict.Read(path).Dispose(),
            "weights checksum" => () => WeightsStore.Sha256Of(path),
            "image" => () => ImageFiles.Read(path).Dispose(),
            "checkpoint" => () => Checkpoint.ReadState(path),
            _ => () => Cifar10.ExtractAsync(path, _dir.Combine("data")).GetAwaiter().GetResult(),
        };

        var ex = Assert.IsType<InvalidDataException>(Record.Exception(read));
        Assert.StartsWith(path + ": empty, or not a regular file", ex.Message, StringComparison.Ordinal);
    }
}
