using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using NotebookVgg.Data;
using NotebookVgg.IO;
using NotebookVgg.Models;
using NotebookVgg.Training;
using NotebookVgg.Transfer;
using NotebookVgg.Weights;
using static TorchSharp.torch;

namespace NotebookVgg.Tests.TestSupport;

/// <summary>
/// A writer in a process of its own, for faults one process cannot stage in itself: killed with SIGKILL mid-write, or two
/// writers at once. It runs this test assembly's <see cref="ChildProgram"/> (<c>dotnet NotebookVgg.Tests.dll MODE ...</c>),
/// which says what it is doing one line at a time on stdout.
/// </summary>
public sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly BlockingCollection<string> _lines = [];
    private readonly Task<string> _stderr;
    private readonly List<string> _seen = [];

    private ChildProcess(Process process)
    {
        _process = process;
        _stderr = process.StandardError.ReadToEndAsync();
        _ = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
                _lines.Add(line);
            _lines.CompleteAdding();
        });
    }

    /// <summary>Starts <c>dotnet NotebookVgg.Tests.dll</c> with <paramref name="args"/> (a <see cref="ChildProgram"/> mode and its arguments).</summary>
    public static ChildProcess Start(params string[] args) => Start(null, args);

    /// <summary>As <see cref="Start(string[])"/>, with extra environment variables.</summary>
    public static ChildProcess Start(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(typeof(ChildProgram).Assembly.Location);
        foreach (string arg in args)
            start.ArgumentList.Add(arg);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            start.Environment[name] = value;
        return new ChildProcess(Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start"));
    }

    /// <summary>The process id.</summary>
    public int Id => _process.Id;

    /// <summary>Waits for a stdout line starting with <paramref name="prefix"/> and returns it; fails naming what was printed instead.</summary>
    public string WaitFor(string prefix, TimeSpan? timeout = null)
    {
        var limit = Stopwatch.StartNew();
        var wait = timeout ?? TimeSpan.FromMinutes(2);
        while (limit.Elapsed < wait)
        {
            if (!_lines.TryTake(out string? line, TimeSpan.FromMilliseconds(100)))
            {
                if (_lines.IsCompleted)
                    break;
                continue;
            }
            _seen.Add(line);
            if (line.StartsWith(prefix, StringComparison.Ordinal))
                return line;
        }
        throw new TimeoutException($"child {string.Join(' ', _process.StartInfo.ArgumentList.Skip(1))}: no line '{prefix}…' within {wait.TotalSeconds:F0} s; " +
            $"stdout: {string.Join(" | ", _seen)}; stderr: {(_process.HasExited ? _stderr.Result : "(running)")}");
    }

    /// <summary>kill -9: the process gets no chance to clean up.</summary>
    public void KillHard()
    {
        _process.Kill(); // SIGKILL on Linux
        _process.WaitForExit();
    }

    /// <summary>Waits for the end; returns the exit code, every stdout line not yet taken, and stderr.</summary>
    public (int ExitCode, string Stdout, string Stderr) WaitForExit(TimeSpan? timeout = null)
    {
        if (!_process.WaitForExit(timeout ?? TimeSpan.FromMinutes(2)))
        {
            KillHard();
            throw new TimeoutException($"child {string.Join(' ', _process.StartInfo.ArgumentList.Skip(1))} did not finish; stdout: {string.Join(" | ", _seen)}");
        }
        _process.WaitForExit(); // the output readers have finished too
        var rest = new List<string>(_seen);
        while (_lines.TryTake(out string? line, TimeSpan.FromSeconds(5)))
            rest.Add(line);
        return (_process.ExitCode, string.Join('\n', rest), _stderr.Result);
    }

    public void Dispose()
    {
        if (!_process.HasExited)
            KillHard();
        _process.Dispose();
        _lines.Dispose();
    }
}

/// <summary>
/// The writers <see cref="ChildProcess"/> runs, each through the library's own write path. Exit code 3: the library refused to
/// write, with its one-line message on stderr.
/// </summary>
public static class ChildProgram
{
    public const int Refused = 3;

    public static int Main(string[] args)
    {
        try
        {
            switch (args[0])
            {
                case "hold-write":
                    // Starts writing the file, says so, and never finishes: the parent kills it mid-write.
                    AtomicFile.Write(args[1], "test file", stream =>
                    {
                        stream.Write(Filled(int.Parse(args[2], CultureInfo.InvariantCulture), 7));
                        stream.Flush();
                        Say("WRITING");
                        Thread.Sleep(Timeout.Infinite);
                    });
                    return 0;
                case "write":
                    // Writes the file again and again, every byte = VALUE: two of these at once race on the same name.
                    for (int i = 0; i < int.Parse(args[4], CultureInfo.InvariantCulture); i++)
                        AtomicFile.WriteAllBytes(args[1], Filled(int.Parse(args[2], CultureInfo.InvariantCulture), byte.Parse(args[3], CultureInfo.InvariantCulture)));
                    Say("DONE");
                    return 0;
                case "hold-lock":
                    using (var held = FileLock.TryAcquire(args[1], "holding the lock for a test"))
                    {
                        Say(held is null ? "BUSY" : "LOCKED");
                        if (held is not null)
                            Thread.Sleep(Timeout.Infinite);
                    }
                    return 0;
                case "save-checkpoints":
                    SaveCheckpointsForever(args[1]);
                    return 0;
                case "train":
                    Train(args[1], int.Parse(args[2], CultureInfo.InvariantCulture));
                    Say("TRAINED");
                    return 0;
                case "features":
                    Features(args[1], args[2], args[3]);
                    return 0;
                case "precision":
                    CheckPrecision(args[1], args[2]);
                    return 0;
                case "sample-data":
                    // What a notebook of the smoke profile does first: no CIFAR-10 in the data folder, so the sample is extracted there.
                    Say("PATH " + RunInputs.DataAsync(args[1], MissingData.Substitute, m => Say("LOG " + m)).GetAwaiter().GetResult());
                    return 0;
                default:
                    Console.Error.WriteLine($"unknown mode {args[0]}");
                    return 2;
            }
        }
        catch (WriteFailedException ex)
        {
            Console.Error.WriteLine(ex.Message);
            return Refused;
        }
    }

    private static void Say(string line)
    {
        Console.Out.WriteLine(line);
        Console.Out.Flush();
    }

    private static byte[] Filled(int length, byte value)
    {
        byte[] bytes = new byte[length];
        Array.Fill(bytes, value);
        return bytes;
    }

    /// <summary>A small model and Adam state (about 24 MB per checkpoint), saved over and over; "SAVED n" after each.</summary>
    private static void SaveCheckpointsForever(string path)
    {
        random.manual_seed(1);
        using var model = nn.Sequential(("fc", nn.Linear(512, 4096)));
        using var optimizer = optim.Adam(model.parameters());
        using (var loss = model.call(randn(4, 512)).sum())
            loss.backward();
        optimizer.step();
        var options = new TrainingOptions { Epochs = 1, BatchSize = 4, ImageSize = 32, Device = "cpu" };
        long bytes = Checkpoint.EstimateBytes(model, model.parameters(), 2);
        for (int n = 1; ; n++)
        {
            var state = new CheckpointState(n, options, [], "test data", null, 0, [], null);
            Checkpoint.Save(path, model, optimizer, state, bytes);
            Say($"SAVED {n}");
        }
    }

    /// <summary>
    /// Trains a small head with a checkpoint at <paramref name="path"/>; its data source takes <paramref name="millisecondsPerBatch"/>
    /// per batch (the long work of a real run). "TRAINING" once the first batch is read.
    /// </summary>
    private static void Train(string path, int millisecondsPerBatch)
    {
        random.manual_seed(0);
        using var head = nn.Sequential(("fc", nn.Linear(16, 10)));
        using var x = randn(8, 16);
        using var y = randint(0, 10, [8]);
        var options = new TrainingOptions { Epochs = 2, BatchSize = 8, ImageSize = 32, Device = "cpu" };
        var trainer = new Trainer(head, [new ParameterGroup("head", [.. head.parameters()], 1e-3)], options, CPU);
        bool said = false;
        IEnumerable<(Tensor, Tensor)> Batches(int epoch)
        {
            for (int i = 0; i < 10; i++)
            {
                if (!said)
                {
                    Say("TRAINING");
                    said = true;
                }
                Thread.Sleep(millisecondsPerBatch);
                yield return (x, y);
            }
        }
        trainer.Fit(new BatchSource("train", 80, 10, Batches), null, new CheckpointOptions(path));
    }

    /// <summary>
    /// The features of the test split of the synthetic set in <paramref name="data"/>, cached in <paramref name="cache"/>. Once the
    /// extraction has started ("EXTRACTING") it waits for the file <paramref name="gate"/> to exist, so the parent decides how long
    /// it is busy. Prints the log lines ("LOG ..."), and at the end "FROMCACHE True|False" and the features' "SUM".
    /// </summary>
    private static void Features(string cache, string data, string gate)
    {
        random.manual_seed(11);
        using var model = Vgg.CreateReducedWidth("vgg11", widthDivisor: 16, hiddenUnits: 64, numClasses: 10);
        using var set = Cifar10.Load(data);
        var backbone = new Backbone("vgg11", WeightsReference.Random, FeatureCut.Fc7, 32, Interpolation.Bilinear,
            Preprocessing.ImageNet.Mean, Preprocessing.ImageNet.Std, NotebookVgg.Runtime.Precision.Fp32, Seed: 11);
        bool started = false;
        var progress = new Progress(p =>
        {
            if (!started)
                Say("EXTRACTING");
            started = true;
            for (var clock = System.Diagnostics.Stopwatch.StartNew(); !File.Exists(gate) && clock.Elapsed < TimeSpan.FromMinutes(1);)
                Thread.Sleep(50);
        });
        using var features = FeatureCache.GetOrCompute(backbone, model, set.Test, cache, 8, progress: progress, log: m => Say("LOG " + m));
        Say($"FROMCACHE {features.FromCache}");
        Say(string.Create(CultureInfo.InvariantCulture, $"SUM {features.Features.sum().item<float>():R}"));
    }

    /// <summary>The precision check of a small random model, cached in <paramref name="cache"/>; "READY", then it waits for <paramref name="gate"/>.</summary>
    private static void CheckPrecision(string cache, string gate)
    {
        random.manual_seed(11);
        using var model = Vgg.CreateReducedWidth("vgg11", widthDivisor: 16, hiddenUnits: 64, numClasses: 10);
        using var batch = randn(4, 3, 32, 32);
        Say("READY");
        for (var clock = System.Diagnostics.Stopwatch.StartNew(); !File.Exists(gate) && clock.Elapsed < TimeSpan.FromMinutes(1);)
            Thread.Sleep(5);
        var choice = PrecisionCheck.Choose(NotebookVgg.Runtime.Precision.Auto, CPU, model, batch, FeatureCut.Fc7, "key", cache, m => Say("LOG " + m));
        Say($"BF16 {choice.Bf16}");
    }

    private sealed class Progress(Action<ExtractionProgress> report) : IProgress<ExtractionProgress>
    {
        public void Report(ExtractionProgress value) => report(value);
    }
}
