using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using NotebookVgg.Cli.Benchmarks;
using NotebookVgg.IO;
using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;

namespace NotebookVgg.Cli.Commands;

/// <summary><c>nvgg bench</c>: throughput on this machine, optionally beside PyTorch's in the same run.</summary>
internal sealed class BenchCommand : Command<BenchCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--json")]
        [Description("Print the report as JSON (progress goes to stderr).")]
        public bool Json { get; init; }

        [CommandOption("--threads <N>")]
        [Description("Torch intra-op threads (default: libtorch's choice); PyTorch gets the same.")]
        public int? Threads { get; init; }

        [CommandOption("--repeats <N>")]
        [Description("Timed repeats per line after one warm-up; the median is reported (default 3; 1 with --quick).")]
        public int? Repeats { get; init; }

        [CommandOption("--quick")]
        [Description("Small batches, data and repeats: seconds instead of minutes; figures not comparable with a full run.")]
        public bool Quick { get; init; }

        [CommandOption("--pytorch")]
        [Description("Also run bench/pytorch_reference.py (Debian's python3-torch) after the .NET cases and compare.")]
        public bool PyTorch { get; init; }

        [CommandOption("--python <PATH>")]
        [Description("Python with torch and torchvision for --pytorch (default /usr/bin/python3).")]
        [DefaultValue(PyTorchReference.DefaultPython)]
        public string Python { get; init; } = PyTorchReference.DefaultPython;

        [CommandOption("--pytorch-script <FILE>")]
        [Description("The PyTorch reference script (default: bench/pytorch_reference.py found above the working directory).")]
        public string? PyTorchScript { get; init; }

        [CommandOption("--cases <LIST>")]
        [Description("Comma-separated subset of: matmul, forward, train, trainer (the train step through nvgg train's Trainer), layers, features, features112, load, pipeline, head, endtoend (default: all but layers, the train step layer by layer, a few minutes, and endtoend, the cpu profile's whole run on 10,000 images with precision auto and fp32, about ten minutes here).")]
        public string? Cases { get; init; }

        [CommandOption("--data <DIR>")]
        [Description("CIFAR-10 folder for the load and pipeline cases (default: 60,000 synthetic images in a temporary folder).")]
        public string? Data { get; init; }

        [CommandOption("--weights <FILE>")]
        [Description("VGG19 weights for the model cases (only the bf16 numerics depend on them; default: random initialization).")]
        public string? Weights { get; init; }

        [CommandOption("--head-features <N>")]
        [Description("Length of the cached feature vectors in the head case: 4096 (after fc7, default) or 25088 (after avgpool).")]
        [DefaultValue(4096)]
        public int HeadFeatures { get; init; } = 4096;

        [CommandOption("--cpu-time")]
        [Description("Time by processor time over torch threads instead of the wall clock (both sides): for a machine shared with other work.")]
        public bool CpuTime { get; init; }

        [CommandOption("--default-malloc")]
        [Description("Measure with the C library's malloc defaults instead of keeping freed memory for reuse (both sides; slower).")]
        public bool DefaultMalloc { get; init; }

        [CommandOption("--output <FILE>")]
        [Description("Also write the JSON report to FILE (atomically).")]
        public string? Output { get; init; }

        [CommandOption("--markdown")]
        [Description("Print the report as the README's Markdown table (default lines first) instead of the console tables.")]
        public bool Markdown { get; init; }

        [CommandOption("--from <FILE>")]
        [Description("Measure nothing: render the report saved in FILE (by --output), e.g. with --markdown.")]
        public string? From { get; init; }

        public override ValidationResult Validate()
        {
            if (Markdown && Json)
                return ValidationResult.Error("--markdown and --json: choose one");
            if (Threads is < 1)
                return ValidationResult.Error($"--threads {Threads}: must be at least 1");
            if (Repeats is < 1)
                return ValidationResult.Error($"--repeats {Repeats}: must be at least 1");
            if (HeadFeatures is not (4096 or 25088))
                return ValidationResult.Error($"--head-features {HeadFeatures}: must be 4096 or 25088");
            foreach (string c in ParseCases(Cases))
            {
                if (!BenchmarkSuite.AllCases.Contains(c))
                    return ValidationResult.Error($"--cases: unknown case '{c}' (cases: {string.Join(", ", BenchmarkSuite.AllCases)})");
            }
            return ValidationResult.Success();
        }

        public static IReadOnlyList<string> ParseCases(string? list) =>
            string.IsNullOrWhiteSpace(list) ? BenchmarkSuite.DefaultCases
            : [.. list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(c => c.ToLowerInvariant())];
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (settings.From is { } saved)
        {
            RegularFile.EnsureReadable(saved, "bench report");
            JsonObject savedReport;
            try
            {
                savedReport = JsonNode.Parse(File.ReadAllText(saved)) as JsonObject ?? throw new JsonException("not a JSON object");
            }
            catch (JsonException ex)
            {
                throw new InvalidDataException($"{saved}: not an nvgg bench report ({ex.Message.ReplaceLineEndings(" ")})", ex);
            }
            Console.Out.Write(settings.Json ? savedReport.ToJsonString(JsonOutput.Options) + "\n" : BenchmarkMarkdown.Render(savedReport, saved));
            return 0;
        }
        var benchSettings = new BenchmarkSettings
        {
            Repeats = settings.Repeats ?? (settings.Quick ? 1 : 3),
            Threads = settings.Threads,
            Quick = settings.Quick,
            CpuTime = settings.CpuTime,
            Cases = Settings.ParseCases(settings.Cases),
            DataDirectory = settings.Data,
            WeightsPath = settings.Weights,
            HeadFeatures = settings.HeadFeatures,
            KeepFreedMemory = !settings.DefaultMalloc,
        };
        // The report is written after minutes of measuring: a folder that cannot take it fails now, not then.
        if (settings.Output is { } reportPath)
            OutputCheck.EnsureCanWrite(reportPath, "bench report", advice: "choose a writable --output folder; nothing was measured");
        string? script = null;
        if (settings.PyTorch)
        {
            // Find the script before minutes of measuring, so a missing one fails at once.
            script = settings.PyTorchScript ?? PyTorchReference.FindScript()
                ?? throw new FileNotFoundException($"{PyTorchReference.ScriptRelativePath}: not found above {Environment.CurrentDirectory}; run from the repository or pass --pytorch-script");
            if (!File.Exists(script))
                throw new FileNotFoundException($"{script}: PyTorch reference script not found", script);
        }

        var clock = Stopwatch.StartNew();
        var progress = new SynchronousProgress(what => Console.Error.WriteLine($"[{clock.Elapsed:mm\\:ss}] bench: {what}"));
        // PyTorch runs each case right after nvgg's: on a shared machine the two then meet the same load.
        var pytorchParts = new List<PyTorchReport>();
        string? error = null;
        void RunPyTorch(string benchmarkCase)
        {
            if (script is null || error is not null || !PyTorchReference.Cases.Contains(benchmarkCase))
                return;
            progress.Report($"PyTorch reference, {benchmarkCase}: {script}");
            try
            {
                pytorchParts.Add(PyTorchReference.Run(script, settings.Python, benchSettings with { Cases = [benchmarkCase] }, torch.get_num_threads(), TimeSpan.FromMinutes(30)));
            }
            catch (Exception ex) when (ex is InvalidOperationException or InvalidDataException or TimeoutException or FileNotFoundException)
            {
                error = ex.Message.ReplaceLineEndings(" ");
            }
        }
        var report = new BenchmarkSuite(benchSettings, progress).Run(RunPyTorch);
        if (script is not null)
            report = report.WithPyTorch(error is null ? PyTorchReference.Merge(pytorchParts) : null, error);
        progress.Report($"done in {clock.Elapsed.TotalSeconds:0} s");

        string json = JsonSerializer.Serialize(report, JsonOutput.Options);
        if (settings.Output is { } output)
            AtomicFile.WriteAllText(output, json + "\n", "bench report");
        if (settings.Json)
            Console.Out.WriteLine(json);
        else if (settings.Markdown)
            Console.Out.Write(BenchmarkMarkdown.Render((JsonObject)JsonNode.Parse(json)!, "this run"));
        else
            WriteTables(report);
        if (report.PyTorchError is { } failure)
            throw new InvalidOperationException($"the PyTorch reference produced no figures: {failure}");
        return 0;
    }

    private static void WriteTables(BenchmarkReport report)
    {
        var c = CultureInfo.InvariantCulture;
        var m = report.Machine;
        AnsiConsole.MarkupLine(Markup.Escape(string.Create(c,
            $"{m.Cpu}: {m.LogicalCores} logical cores, torch threads {m.TorchThreads}, native bf16 {(m.NativeBf16 ? "yes" : "no")}; TorchSharp {m.TorchSharpVersion}, libtorch {m.LibTorchVersion}; load average {m.LoadAverageAtStart ?? "?"} at start, {m.LoadAverageAtEnd ?? "?"} at end")));
        AnsiConsole.MarkupLine(Markup.Escape($"instruction sets: {m.InstructionSets ?? "?"}; ATen kernels {m.AtenCapability ?? "?"}; {m.OneDnn ?? "oneDNN: unknown"}; fp32 training {m.TrainingLayout ?? "?"}"));
        foreach (string k in m.Kernels)
            AnsiConsole.MarkupLine(Markup.Escape($"  oneDNN convolution kernels, {k}"));
        var counts = new List<string> { report.Flops.Convention };
        if (report.Flops.Vgg19Macs224 is { } vgg)
            counts.Add(string.Create(c, $"VGG19 at 224: {vgg:N0} MACs"));
        if (report.Flops.Features32Macs is { } features)
            counts.Add(string.Create(c, $"vgg19.features at 32: {features:N0} MACs"));
        AnsiConsole.MarkupLine(Markup.Escape(string.Create(c, $"median of {report.Settings.Repeats} after {report.Settings.Warmup} warm-up; {string.Join("; ", counts)}")));

        foreach (var group in report.Results.GroupBy(r => r.Case))
            AnsiConsole.MarkupLine(Markup.Escape($"  {group.Key}: {group.First().Name}"));

        bool withPyTorch = report.PyTorch is not null;
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumn("case").AddColumn("configuration")
            .AddColumn(new TableColumn("images/s").RightAligned()).AddColumn(new TableColumn("GFLOP/s").RightAligned())
            .AddColumn(new TableColumn("of matmul").RightAligned()).AddColumn(new TableColumn("× fp32 NCHW").RightAligned())
            .AddColumn(new TableColumn("peak MiB").RightAligned());
        if (withPyTorch)
            table.AddColumn(new TableColumn("PyTorch").RightAligned()).AddColumn(new TableColumn("× PyTorch").RightAligned());
        string lastCase = "";
        foreach (var r in report.Results)
        {
            string name = r.Case == lastCase ? "" : r.Case;
            lastCase = r.Case;
            var cells = new List<string> { Markup.Escape(name), Markup.Escape(r.Configuration) + (r.Default ? " [bold]◀ default[/]" : "") };
            if (r.Skipped is not null)
            {
                cells.Add($"[grey]skipped: {Markup.Escape(r.Skipped)}[/]");
                while (cells.Count < table.Columns.Count)
                    cells.Add("");
                table.AddRow(cells.ToArray());
                continue;
            }
            cells.Add(Format(r.ImagesPerSecond, r.ImagesPerSecond >= 100 ? "N0" : "0.00"));
            cells.Add(Format(r.GflopsPerSecond, r.GflopsPerSecond >= 10 ? "0" : "0.00"));
            cells.Add(Format(r.FractionOfMatmul, "P0"));
            cells.Add(r.SpeedupOverFp32Nchw is { } x ? string.Create(c, $"{x:0.00}×") : "");
            cells.Add(Format(r.PeakResidentMb, "N0"));
            if (withPyTorch)
            {
                var comparison = report.Comparisons.FirstOrDefault(p => p.Case == r.Case && p.Configuration == r.Configuration);
                cells.Add(Format(comparison?.PyTorch, comparison?.PyTorch >= 100 ? "N0" : "0.00"));
                cells.Add(comparison?.Ratio is { } ratio ? string.Create(c, $"{ratio:0.00}×") : "");
            }
            table.AddRow(cells.ToArray());
        }
        AnsiConsole.Write(table);

        if (report.Layers.Count > 0)
        {
            var columns = LayerTable.Columns(report.Layers, report.Steps, report.Machine.TrainingLayout,
                report.PyTorch?.Layers, report.PyTorch?.Steps, report.PyTorch?.Framework ?? "PyTorch");
            var layerTable = new Table().Border(TableBorder.Rounded).Title("train step layer by layer, milliseconds (median): forward / ∂input / ∂weight").AddColumn("layer");
            foreach (var column in columns)
                layerTable.AddColumn(new TableColumn(Markup.Escape(column.Title)).RightAligned());
            foreach (var row in LayerTable.Rows(columns))
            {
                layerTable.AddRow([Markup.Escape(row.Label), .. row.Cells.Select(cell => row.IsStep ? LayerTable.Ms(cell.Forward)
                    : $"{LayerTable.Ms(cell.Forward)} / {LayerTable.Ms(cell.Data)} / {LayerTable.Ms(cell.Weight)}")]);
            }
            AnsiConsole.Write(layerTable);
        }

        var compared = report.Results.Where(r => r.RelativeL2 is not null).ToList();
        if (compared.Count > 0)
        {
            var numerics = new Table().Border(TableBorder.Rounded).Title("numerics against fp32 NCHW on the benchmark batch")
                .AddColumn("case").AddColumn("configuration").AddColumn(new TableColumn("rel. L2").RightAligned())
                .AddColumn(new TableColumn("top-1 agree").RightAligned()).AddColumn(new TableColumn("centered rel. L2").RightAligned())
                .AddColumn(new TableColumn("centered top-1").RightAligned()).AddColumn("distinct top-1");
            foreach (var r in compared)
            {
                numerics.AddRow(Markup.Escape(r.Case), Markup.Escape(r.Configuration), Format(r.RelativeL2, "0.0e+0"), Format(r.Top1Agreement, "P0"),
                    Format(r.CenteredRelativeL2, "0.0e+0"), Format(r.CenteredTop1Agreement, "P0"), Markup.Escape(r.DistinctTop1Classes ?? ""));
            }
            AnsiConsole.Write(numerics);
            AnsiConsole.MarkupLine("[grey]centered = logits minus their batch mean: the input-dependent part, which decides between inputs when random weights give them all nearly the same logits[/]");
        }

        foreach (var r in report.Results.Where(r => r.Note is not null && r.Skipped is null))
            AnsiConsole.MarkupLine($"[grey]{Markup.Escape($"{r.Case} {r.Configuration}: {r.Note}")}[/]");
        if (report.PyTorch is { } p)
            AnsiConsole.MarkupLine(Markup.Escape($"PyTorch reference: {p.Describe()}; fp32 NCHW, default settings; peak memory is its process's running peak"));
        if (report.PyTorchError is { } error)
            AnsiConsole.MarkupLine($"[red]PyTorch reference failed:[/] {Markup.Escape(error)}");

        if (report.Targets.Count > 0)
        {
            var targets = new Table().Border(TableBorder.Rounded).AddColumn("target").AddColumn("wanted")
                .AddColumn(new TableColumn("measured").RightAligned()).AddColumn("met").AddColumn("how");
            foreach (var t in report.Targets)
            {
                string value = t.Value is not { } v ? "" : t.Unit switch
                {
                    "seconds" => string.Create(c, $"{v:0.00} s"),
                    "fraction" => string.Create(c, $"{v:P1}"),
                    _ => string.Create(c, $"{v:0.00}×"),
                };
                string met = t.Met switch { true => "[green]yes[/]", false => "[red]no[/]", null => "[grey]n/a[/]" };
                targets.AddRow(Markup.Escape(t.Name), Markup.Escape(t.Target), value, met, Markup.Escape(t.Detail));
            }
            AnsiConsole.Write(targets);
        }
        AnsiConsole.MarkupLine($"[grey]{Markup.Escape(report.Allocator)}[/]");
        AnsiConsole.MarkupLine($"[grey]{Markup.Escape(report.MemoryNote)}[/]");
        foreach (string note in report.Notes)
            AnsiConsole.MarkupLine($"[grey]{Markup.Escape(note)}[/]");
    }

    private static string Format(double? value, string format) => value is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "";

    /// <summary>Reports on the calling thread at once (Progress&lt;T&gt; would post to the thread pool and reorder lines).</summary>
    private sealed class SynchronousProgress(Action<string> report) : IProgress<string>
    {
        public void Report(string value) => report(value);
    }
}
