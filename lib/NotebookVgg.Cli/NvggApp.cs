using NotebookVgg.Cli.Commands;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NotebookVgg.Cli;

/// <summary>Builds the <c>nvgg</c> command tree. Every command lives in Commands/ and is registered here once.</summary>
public static partial class NvggApp
{
    /// <summary>Exit code for a command that failed (bad input, failed download, ...).</summary>
    public const int Failure = 1;

    /// <summary>Exit code for a command line that could not be parsed.</summary>
    public const int UsageError = 2;

    public static int Run(string[] args)
    {
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("nvgg");
            config.UseAssemblyInformationalVersion();
            config.SetExceptionHandler((ex, _) => ReportError(ex));
            config.Settings.StrictParsing = true; // an unknown option is an error, never silently ignored
            config.SetInterceptor(new NativeRuntimeCheck());
            config.AddCommand<DoctorCommand>("doctor")
                .WithDescription("Check the environment: TorchSharp/libtorch, devices, threads, caches, native-runtime fix, data present.")
                .WithExample("doctor", "--json");
            config.AddBranch("weights", weights =>
            {
                weights.SetDescription("Pretrained weights: inspect files, list the registry, download into the cache.");
                weights.AddCommand<WeightsInspectCommand>("inspect")
                    .WithDescription("Show a weights file's detected format, tensor count, parameter count, keys with shapes and dtypes.")
                    .WithExample("weights", "inspect", "data/weights/vgg19-dcbb9e9d.pth");
                weights.AddCommand<WeightsListCommand>("list")
                    .WithDescription("List the registered pretrained weights (URL, SHA-256, accuracy) and whether each is cached.");
                weights.AddCommand<WeightsDownloadCommand>("download")
                    .WithDescription("Download a registered weights file into the cache and verify its SHA-256.")
                    .WithExample("weights", "download", "vgg19")
                    .WithExample("weights", "download", "vgg19", "--mirror", "file:///media/usb/weights/");
            });
            config.AddCommand<LogitsCommand>("logits")
                .WithDescription("Load weights strictly into a VGG and write its logits for an input tensor (safetensors in, safetensors out).")
                .WithExample("logits", "--weights", "vgg19.pth", "--input", "in.safetensors", "--output", "out.safetensors");
            config.AddCommand<SummaryCommand>("summary")
                .WithDescription("Per-layer summary of a VGG: output shapes, parameters, trainable, multiply-accumulates.")
                .WithExample("summary", "--arch", "vgg19", "--image-size", "32", "--classes", "10");
            config.AddBranch("data", data =>
            {
                data.SetDescription("CIFAR-10: download, extract, generate synthetic data, summarize.");
                data.AddCommand<DataDownloadCommand>("download")
                    .WithDescription("Download CIFAR-10 (binary version) into the data folder: cached, verified, extracted safely.")
                    .WithExample("data", "download", "--mirror", "file:///mnt/usb/cifar-10-binary.tar.gz");
                data.AddCommand<DataExtractCommand>("extract")
                    .WithDescription("Extract a CIFAR-10 binary archive placed by hand (or the shared sample) into the data folder.")
                    .WithExample("data", "extract", "../shared/data/cifar-10-sample-binary.tar.gz");
                data.AddCommand<DataSynthCommand>("synth")
                    .WithDescription("Write a synthetic CIFAR-10-shaped data set (same layout; labelled synthetic everywhere).")
                    .WithExample("data", "synth", "--out", "/tmp/synth", "--train", "5000", "--test", "1000");
                data.AddCommand<DataSampleCommand>("sample")
                    .WithDescription("Write the 12,000-image sample the tests use (1,000 train / 200 test per class) from CIFAR-10, in the official layout, deterministically.")
                    .WithExample("data", "sample", "--out", "cifar-10-sample-binary.tar.gz");
                data.AddCommand<DataSummaryCommand>("summary")
                    .WithDescription("Counts per split and class, per-channel mean/std of the train pixels, class names.")
                    .WithExample("data", "summary", "--json");
            });
            config.AddCommand<TrainCommand>("train")
                .WithDescription("Train: features (frozen VGG, cached features, new head), finetune or scratch; profiles smoke, cpu, gpu-tutorial, gpu.")
                .WithExample("train", "--profile", "smoke", "--data", "data", "--checkpoint", "data/checkpoints/smoke.ckpt")
                .WithExample("train", "--profile", "cpu", "--weights", "vgg19", "--checkpoint", "data/checkpoints/cpu.ckpt", "--json");
            config.AddCommand<EvalCommand>("eval")
                .WithDescription("Evaluate a checkpoint on the test split: accuracy, top-5, per-class metrics, confusion matrix.")
                .WithExample("eval", "--checkpoint", "data/checkpoints/cpu.ckpt", "--json");
            config.AddCommand<PredictCommand>("predict")
                .WithDescription("Top-k classes with probabilities for image files, with a trained checkpoint.")
                .WithExample("predict", "--checkpoint", "data/checkpoints/cpu.ckpt", "cat.png", "ship.jpg");
            config.AddCommand<BenchCommand>("bench")
                .WithDescription("Throughput on this machine (images/s, GFLOP/s, peak memory): matmul ceiling, VGG19 forward/train/features in fp32, channels-last and bf16, the train step through the Trainer, data pipeline, head training; --pytorch compares with PyTorch in the same run.")
                .WithExample("bench", "--pytorch", "--repeats", "3")
                .WithExample("bench", "--quick", "--json", "--cases", "matmul,features");
            config.AddCommand<ExportCommand>("export")
                .WithDescription("Write notebooks as .NET 10 file-based apps (dotnet run NAME.cs): no notebook kernel needed; display(...) and charts go to an HTML report.")
                .WithExample("export", "notebooks", "--to", "cs");
            config.AddCommand<RunCommand>("run")
                .WithDescription("Run C# notebooks headless (papermill-style): parameters, executed copies, offline HTML reports.")
                .WithExample("run", "notebooks/04-training.ipynb", "-p", "epochs", "5", "--html")
                .WithExample("run", "notebooks", "--output", "artifacts/notebooks", "--timeout", "600");
        });
        if (args.Length > 0 && args[0] == "run")
            args = RunCommand.NormalizeParameterArguments(args);
        return app.Run(args);
    }

    /// <summary>The known long option closest to <paramref name="name"/> (edit distance at most 2), over every command's settings.</summary>
    internal static string? Closest(string name)
    {
        var known = typeof(NvggApp).Assembly.GetTypes()
            .Where(t => typeof(CommandSettings).IsAssignableFrom(t))
            .SelectMany(t => t.GetProperties())
            .SelectMany(p => p.GetCustomAttributes(typeof(CommandOptionAttribute), inherit: true).Cast<CommandOptionAttribute>())
            .SelectMany(a => a.LongNames)
            .Distinct(StringComparer.Ordinal);
        return known.Select(k => (k, d: Distance(k, name))).Where(x => x.d <= 2).OrderBy(x => x.d).ThenBy(x => x.k, StringComparer.Ordinal)
            .Select(x => x.k).FirstOrDefault();
    }

    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"[Uu]nknown option '-*([^']+)'")]
    private static partial System.Text.RegularExpressions.Regex UnknownOption();

    /// <summary>One clear line on stderr, never a stack trace: the message names the file or value at fault.</summary>
    private static int ReportError(Exception ex)
    {
        var root = ex is CommandAppException ? ex : (ex.InnerException is { } inner && ex is System.Reflection.TargetInvocationException ? inner : ex);
        string message = root.Message.ReplaceLineEndings(" ").Trim();
        if (root is CommandParseException && UnknownOption().Match(message) is { Success: true } unknown && Closest(unknown.Groups[1].Value) is { } suggestion)
            message = $"{message.TrimEnd('.')} (did you mean --{suggestion}?)";
        var stderr = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        if (Console.IsErrorRedirected)
            stderr.Profile.Width = 4096; // one line in logs, not wrapped at 80 columns
        stderr.MarkupLine($"[red]nvgg: error:[/] {Markup.Escape(message)}");
        return root is CommandParseException or CommandConfigurationException ? UsageError : Failure;
    }

    /// <summary>Before a command that computes with tensors: one line saying to run <c>nvgg doctor --fix</c> where TorchSharp cannot load yet.</summary>
    private sealed class NativeRuntimeCheck : ICommandInterceptor
    {
        // These need no tensors (run: each notebook's setup cell checks for itself), and doctor is the way out.
        private static readonly HashSet<string> WithoutTensors = ["doctor", "download", "extract", "synth", "list", "run", "export"];

        public void Intercept(CommandContext context, CommandSettings settings)
        {
            if (!WithoutTensors.Contains(context.Name))
                Runtime.NativeRuntime.ThrowIfNotReady();
        }
    }
}
