using System.Globalization;
using NotebookVgg.Data;
using NotebookVgg.Models;
using NotebookVgg.Runtime;
using NotebookVgg.Training;
using NotebookVgg.Transfer;
using NotebookVgg.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Cli.Benchmarks;

/// <summary>
/// The cases of <c>nvgg bench</c>: the float32 matmul rate (the machine's practical ceiling), VGG19 forward and train
/// step at 224×224, conv features at 32×32 (each in fp32 NCHW, fp32 channels-last and bf16 channels-last, with the
/// bf16 numerics beside the speed), loading CIFAR-10, the data pipeline per batch, and head training on cached features.
/// Each line: warm-up, median of the repeats, images/s, GFLOP/s with the FLOP count stated, peak resident memory.
/// </summary>
public sealed class BenchmarkSuite
{
    public const string Matmul = "matmul";
    public const string Forward = "forward";
    public const string Train = "train";
    public const string TrainerCase = "trainer";
    public const string Layers = "layers";
    public const string Features = "features";
    public const string Features112 = "features112";
    public const string Load = "load";
    public const string Pipeline = "pipeline";
    public const string Head = "head";
    public const string EndToEnd = "endtoend";

    public const string Fp32 = "fp32";
    public const string Bf16 = "bf16";
    public const string Fp32Nchw = "fp32 NCHW";
    public const string Fp32ChannelsLast = "fp32 channels-last";
    public const string Fp32Winograd = "fp32 channels-last, Winograd 3×3";
    public const string Fp32WinogradWherePays = "fp32 channels-last, Winograd 3×3 where it pays";
    public const string Fp32NchwWinogradWherePays = "fp32 NCHW, Winograd 3×3 where it pays";
    public const string Bf16ChannelsLast = "bf16 channels-last";
    public const string AutocastBf16ChannelsLast = "autocast bf16 channels-last";

    public const string PrecisionAuto = "precision auto";
    public const string PrecisionFp32 = "precision fp32";

    /// <summary>Every case, in the order they run.</summary>
    public static IReadOnlyList<string> AllCases { get; } = [Matmul, Forward, Train, TrainerCase, Layers, Features, Features112, Load, Pipeline, Head, EndToEnd];

    /// <summary>
    /// What a plain <c>nvgg bench</c> runs: every case but <see cref="Layers"/> (the train step layer by layer, a few minutes)
    /// and <see cref="EndToEnd"/> (about ten minutes here).
    /// </summary>
    public static IReadOnlyList<string> DefaultCases { get; } = [.. AllCases.Where(c => c is not (Layers or EndToEnd))];

    private const int ImageNetClasses = 1000;
    private const int Cifar10Classes = 10;

    private readonly BenchmarkSettings _settings;
    private readonly Benchmark _bench;
    private readonly IProgress<string>? _progress;
    private readonly List<BenchmarkResult> _results = [];
    private readonly List<string> _notes = [];
    private readonly List<LayerTiming> _layers = [];
    private readonly List<StepTiming> _steps = [];
    private long? _vggMacs224;
    private long? _featuresMacs32;
    private Cifar10Dataset? _dataset;
    private string? _temporaryData;

    public BenchmarkSuite(BenchmarkSettings settings, IProgress<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        _settings = settings;
        _bench = new Benchmark(settings.Repeats, settings.Warmup);
        _progress = progress;
    }

    /// <summary>
    /// Runs the chosen cases in order and returns the report (without PyTorch; see <see cref="BenchmarkReport.WithPyTorch"/>).
    /// <paramref name="afterCase"/> is called after each case with its name, e.g. to run PyTorch's same case next to it in time.
    /// </summary>
    public BenchmarkReport Run(Action<string>? afterCase = null)
    {
        if (_settings.Threads is { } threads)
            torch.set_num_threads(threads);
        if (_settings.KeepFreedMemory && !NativeAllocator.KeepFreedMemory())
            _notes.Add("glibc malloc could not be told to keep freed memory here (not glibc?): the C library's defaults were measured");
        var machine = MachineInfo.Collect();
        try
        {
            var actions = new Dictionary<string, Action>
            {
                [Matmul] = RunMatmul,
                [Forward] = RunForward,
                [Train] = RunTrain,
                [Layers] = RunLayers,
                [Features] = RunFeatures,
                [Features112] = RunFeatures112,
                [Load] = RunLoad,
                [Pipeline] = RunPipeline,
                [Head] = RunHead,
                [TrainerCase] = RunTrainer,
                [EndToEnd] = RunEndToEnd,
            };
            foreach (string c in AllCases.Where(_settings.Cases.Contains))
            {
                actions[c]();
                afterCase?.Invoke(c);
            }
        }
        finally
        {
            _dataset?.Dispose();
            if (_temporaryData is not null)
                Directory.Delete(_temporaryData, recursive: true);
        }
        machine = machine with { LoadAverageAtEnd = MachineInfo.LoadAverage() };
        _notes.Insert(0, _settings.WeightsPath is null
            ? "VGG19 weights are random (torchvision's initialization): speed does not depend on the values; the numerics compare bf16 with fp32 on the same random network."
            : $"VGG19 weights from {_settings.WeightsPath} (speed does not depend on them; the numerics do).");
        if (_settings.CpuTime)
            _notes.Insert(0, $"Timed by processor time (--cpu-time): every figure is the process's user + system seconds over its {torch.get_num_threads()} torch threads, " +
                "the time each iteration would take with those cores to itself; PyTorch's reference is timed the same way. The wall-clock times are kept in the JSON (times).");
        if (_settings.Quick)
            _notes.Insert(0, "QUICK MODE: small batches, data and repeats; these figures are not comparable with a full run.");
        return new BenchmarkReport
        {
            Machine = machine,
            Settings = _settings,
            Flops = new FlopCounts(_vggMacs224, _featuresMacs32,
                "FLOP = 2 × multiply-accumulate of convolutions and linear layers (ModelSummary); a train step = 3 × the forward"),
            Results = Finish(_results),
            Layers = [.. _layers],
            Steps = [.. _steps],
            Allocator = NativeAllocator.IsKeepingFreedMemory
                ? $"glibc malloc keeps freed memory for reuse (mallopt M_MMAP_MAX 0, M_TRIM_THRESHOLD 2 GiB; PyTorch gets GLIBC_TUNABLES={NativeAllocator.GlibcTunables})"
                : "the C library's malloc defaults (each large buffer a fresh mmap: page faults every step)",
            MemoryNote = _bench.PeakIsPerCase
                ? "peak resident memory per line: VmHWM from /proc/self/status, reset through /proc/self/clear_refs before each line (after malloc_trim hands back the free memory malloc kept; a model a case reuses from its previous line is included)"
                : "peak resident memory is the process's peak so far (VmHWM; /proc/self/clear_refs could not reset it here)",
            Notes = [.. _notes],
        }.WithPyTorch(null, null);
    }

    // ---- cases ------------------------------------------------------------------------------------------------

    private void RunMatmul()
    {
        int n = _settings.MatmulSize;
        double flops = 2.0 * n * n * n;
        foreach (var (configuration, dtype) in new[] { (Fp32, ScalarType.Float32), (Bf16, ScalarType.BFloat16) })
        {
            string name = $"matmul {n}×{n}";
            if (dtype == ScalarType.BFloat16 && !CpuSpeed.HasNativeBf16)
            {
                Skip(Matmul, name, configuration, NoBf16Reason);
                continue;
            }
            Report($"{name} {configuration}");
            _bench.BeginCase();
            using var g = new torch.Generator(1);
            using var a = torch.randn([n, n], generator: g).to(dtype);
            using var b = torch.randn([n, n], generator: g).to(dtype);
            var m = _bench.Measure(() =>
            {
                using var c = a.matmul(b);
            });
            _results.Add(Measured(Matmul, name, configuration, m, images: null, flops) with
            {
                Note = dtype == ScalarType.Float32 ? "the practical ceiling the targets use" : "bf16 ceiling, for reading the bf16 lines",
            });
        }
    }

    private void RunForward()
    {
        int batch = _settings.Batch224;
        string name = $"VGG19 forward 224×224, batch {batch}";
        _bench.BeginCase();
        using var model = CreateVgg();
        model.eval();
        double flops = 2.0 * VggMacs224(model) * batch;
        using var g = new torch.Generator(2);
        using var input = torch.randn([batch, 3, 224, 224], generator: g);
        MeasureInference(Forward, name, model, input, (m, x, path) => m.Logits(x, path), batch, flops, logits: true);
    }

    /// <summary>
    /// The train step in each layout nvgg's trainer can run, measured paired in time (<see cref="Benchmark.MeasureInterleaved"/>):
    /// one model and optimizer, conv weights contiguous as the trainer keeps them (TorchSharp 0.107 cannot save optimizer
    /// state for non-contiguous parameters); only the input's layout differs, and with it the layout every convolution runs in.
    /// </summary>
    private void RunTrain()
    {
        int batch = _settings.Batch224;
        string name = $"VGG19 train step 224×224, batch {batch} (SGD momentum 0.9, cross-entropy)";
        _bench.BeginCase();
        using var model = CreateVgg();
        model.train();
        double flops = 3 * 2.0 * VggMacs224(model) * batch;
        using var g = new torch.Generator(3);
        using var input = torch.randn([batch, 3, 224, 224], generator: g);
        using var labels = torch.randint(0, ImageNetClasses, [batch], generator: g);
        using var inputCl = CpuSpeed.ToChannelsLast(input);
        using var optimizer = SgdAsTheTrainerRunsIt(model);

        var lines = new List<(string Configuration, Tensor Input, bool Autocast, ConvolutionPath Path)>
        {
            (Fp32Nchw, input, false, ConvolutionPath.LibTorch), (Fp32ChannelsLast, inputCl, false, ConvolutionPath.LibTorch),
        };
        if (CpuSpeed.Isa.Effective == CpuIsa.Avx2)
            lines.Add((Fp32NchwWinogradWherePays, input, false, ConvolutionPath.WinogradWherePays)); // Backbone.Forward's path here
        if (!CpuSpeed.HasNativeBf16 || !CpuAutocast.IsAvailable)
        {
            Skip(Train, name, AutocastBf16ChannelsLast, !CpuSpeed.HasNativeBf16 ? NoBf16Reason
                : "libtorch's at::autocast exports were not found in libtorch_cpu, so CPU autocast cannot be switched on");
        }
        else
        {
            lines.Add((AutocastBf16ChannelsLast, inputCl, true, ConvolutionPath.LibTorch));
        }
        Report($"{name}: {string.Join(", ", lines.Select(l => l.Configuration))}, repeats in turn");
        var measurements = _bench.MeasureInterleaved([.. lines.Select(l => (Action)(() => TrainStep(model, optimizer, l.Input, labels, l.Autocast, l.Path)))]);
        for (int i = 0; i < lines.Count; i++)
        {
            var result = Measured(Train, name, lines[i].Configuration, measurements[i], batch, flops);
            _results.Add(lines[i].Autocast
                ? result with { Note = "mixed precision: fp32 weights, gradients and optimizer; bf16 compute inside autocast (forward and loss)" }
                : lines[i].Path == ConvolutionPath.WinogradWherePays
                ? result with { Note = string.Create(CultureInfo.InvariantCulture, $"the path nvgg uses here: Winograd F(4×4, 3×3) for the 3×3 layers of ≥ {Winograd3x3.MinInputChannels} input channels, forward and (through autograd) backward; oneDNN's direct kernels for the rest") }
                : result);
        }
    }

    /// <summary>
    /// The train step as <c>nvgg train</c> and the notebooks' fine-tunes run it — the library's <see cref="Trainer"/> on the
    /// backbone's forward, in the configuration precision auto picks here — for comparison with the train case's bare step:
    /// what the trainer adds (its bookkeeping, schedule and memory handling). Its trim rule once made every step page-fault
    /// its buffers anew, 2.4× as slow as the bare step, and no case saw it. Each timed run is one epoch of
    /// <see cref="BenchmarkSettings.TrainerSteps"/> steps with a new trainer (a new optimizer), as each nvgg train starts.
    /// </summary>
    private void RunTrainer()
    {
        int batch = _settings.Batch224, steps = _settings.TrainerSteps;
        string configuration = DefaultConfiguration(TrainerCase)!;
        string name = $"VGG19 train step through the Trainer (nvgg train's path) 224×224, batch {batch}, {steps} steps per run (SGD momentum 0.9)";
        Report($"{name}: {configuration}");
        _bench.BeginCase();
        using var model = CreateVgg();
        model.train();
        var precision = configuration == AutocastBf16ChannelsLast ? NotebookVgg.Runtime.Precision.Bf16 : NotebookVgg.Runtime.Precision.Fp32;
        var random = WeightsReference.Random.Preprocessing;
        var backbone = new Backbone("vgg19", WeightsReference.Random, null, 224, Interpolation.Bilinear, random.Mean, random.Std, precision, 0);
        using var g = new torch.Generator(3);
        using var input = torch.randn([batch, 3, 224, 224], generator: g);
        using var labels = torch.randint(0, ImageNetClasses, [batch], generator: g);
        var source = new BatchSource("random 224×224 batches", (long)batch * steps, steps,
            _ => Enumerable.Range(0, steps).Select(_ => (input.alias(), labels.alias())));
        var options = new TrainingOptions
        {
            Mode = TrainingMode.FineTune, Epochs = 1, BatchSize = batch, LearningRate = 1e-3, Optimizer = OptimizerKind.Sgd, Momentum = 0.9, Seed = 0,
        };
        var m = _bench.Measure(() =>
        {
            var trainer = new Trainer(new BackboneModel(backbone, model), [new ParameterGroup("all", [.. model.parameters()], options.LearningRate)], options, CPU);
            trainer.Fit(source);
        });
        double flops = 3 * 2.0 * VggMacs224(model) * batch * steps;
        _results.Add(Measured(TrainerCase, name, configuration, m, (long)batch * steps, flops) with
        {
            Note = string.Create(CultureInfo.InvariantCulture, $"seconds = one run of {steps} steps with a new trainer and optimizer; compare images/s with the train case's default line"),
        });
    }

    /// <summary>SGD with momentum 0.9 as nvgg's trainer creates it, with the library's one-pass update (PyTorch's side runs torch.optim.SGD, its own default).</summary>
    private static TorchSharp.Modules.SGD SgdAsTheTrainerRunsIt(nn.Module model) =>
        new NotebookVgg.Training.OnePass.SGD([new TorchSharp.Modules.SGD.ParamGroup(model.parameters(), 1e-3, 0.9, 0, 0, false, false)], 1e-3);

    private static void TrainStep(Vgg model, optim.Optimizer optimizer, Tensor input, Tensor labels, bool autocast, ConvolutionPath path)
    {
        using var scope = NewDisposeScope();
        optimizer.zero_grad();
        Tensor loss;
        if (autocast)
        {
            using (CpuSpeed.Autocast())
                loss = nn.functional.cross_entropy(model.Logits(input, path), labels);
        }
        else
        {
            loss = nn.functional.cross_entropy(model.Logits(input, path), labels);
        }
        loss.backward();
        optimizer.step();
    }

    /// <summary>
    /// Where a train step's time goes: every layer of VGG19 timed alone on the activations a step gives it (forward with
    /// autograd recording; the gradient with respect to its input; the gradients with respect to its weight and bias,
    /// each by itself), in both layouts, the two timed in turn layer by layer; then whole steps split into zero_grad,
    /// forward and loss, backward and the optimizer's update. bench/pytorch_reference.py does the same in PyTorch.
    /// </summary>
    private void RunLayers()
    {
        int batch = _settings.Batch224;
        _bench.BeginCase();
        using var model = CreateVgg();
        model.train();
        using var g = new torch.Generator(6);
        using var input = torch.randn([batch, 3, 224, 224], generator: g);
        using var labels = torch.randint(0, ImageNetClasses, [batch], generator: g);
        using var flatten = nn.Flatten();
        // On AVX2 also the path nvgg trains with there: Winograd for the 3×3 layers where it pays (Backbone.Forward).
        bool winograd = CpuSpeed.Isa.Effective == CpuIsa.Avx2;
        string[] configurations = winograd ? [Fp32Nchw, Fp32ChannelsLast, Fp32NchwWinogradWherePays] : [Fp32Nchw, Fp32ChannelsLast];
        ConvolutionPath[] paths = [ConvolutionPath.LibTorch, ConvolutionPath.LibTorch, ConvolutionPath.WinogradWherePays];
        var layers = model.features.named_children().Select(c => ("features." + c.name, (nn.Module<Tensor, Tensor>)c.module))
            .Append(("avgpool", model.avgpool)).Append(("flatten", flatten))
            .Concat(model.classifier.named_children().Select(c => ("classifier." + c.name, (nn.Module<Tensor, Tensor>)c.module)))
            .ToList();
        var activations = winograd
            ? new[] { input.alias(), CpuSpeed.ToChannelsLast(input), input.alias() }
            : new[] { input.alias(), CpuSpeed.ToChannelsLast(input) };
        try
        {
            for (int i = 0; i < layers.Count; i++)
            {
                var (name, module) = layers[i];
                Report($"layers: {name} ({module.GetType().Name}), {string.Join(" and ", configurations)}");
                for (int k = 0; k < configurations.Length; k++)
                {
                    var path = paths[k];
                    Func<Tensor, Tensor> forward = t => Vgg.RunLayer(module, t, path);
                    _layers.Add(TimeLayer(configurations[k], name, module, forward, activations[k], dataGradient: i > 0));
                    using var noGrad = torch.no_grad();
                    var next = forward(module is TorchSharp.Modules.ReLU ? activations[k].clone() : activations[k]);
                    activations[k].Dispose();
                    activations[k] = next;
                }
            }
        }
        finally
        {
            foreach (var a in activations)
                a.Dispose();
        }

        Report("layers: whole steps split into zero_grad, forward, backward and optimizer step");
        using var optimizer = SgdAsTheTrainerRunsIt(model);
        using var inputCl = CpuSpeed.ToChannelsLast(input);
        var parts = configurations.Select(_ => new List<(double Wall, double Cpu)[]>()).ToArray();
        var whole = _bench.MeasureInterleaved([.. configurations.Select((c, k) => (Action)(() =>
        {
            using var scope = NewDisposeScope();
            Tensor? loss = null;
            parts[k].Add(
            [
                Benchmark.Time(() => optimizer.zero_grad()),
                Benchmark.Time(() => loss = nn.functional.cross_entropy(model.Logits(k == 1 ? inputCl : input, paths[k]), labels)),
                Benchmark.Time(() => loss!.backward()),
                Benchmark.Time(() => optimizer.step()),
            ]);
        }))]);
        for (int k = 0; k < configurations.Length; k++)
        {
            var timed = parts[k].Skip(Math.Max(1, _settings.Warmup)).ToList();
            double Part(int i)
            {
                var wall = timed.Select(p => p[i].Wall).ToList();
                return Seconds(new Measurement(Benchmark.Median(wall), wall, null) { CpuTimes = [.. timed.Select(p => p[i].Cpu)] });
            }
            _steps.Add(new StepTiming(configurations[k], Part(0), Part(1), Part(2), Part(3), Seconds(whole[k])));
        }
    }

    /// <summary>One layer alone on <paramref name="x"/>: forward (graph recorded), then each gradient by itself against a random output gradient.</summary>
    private LayerTiming TimeLayer(string configuration, string name, nn.Module<Tensor, Tensor> module, Func<Tensor, Tensor> forward, Tensor x, bool dataGradient)
    {
        bool inPlace = module is TorchSharp.Modules.ReLU; // VGG's ReLUs work in place: give them a copy, made outside the timing
        using var scope = NewDisposeScope();
        var xi = x.detach().requires_grad_(dataGradient);
        double forwardSeconds = TimeWithSetup(() => inPlace ? xi.clone() : xi, t => forward(t));
        var y = forward(inPlace ? xi.clone() : xi);
        var gradOutput = torch.randn_like(y);
        var weights = module.parameters().Where(p => p.requires_grad).Cast<Tensor>().ToList();
        double? data = dataGradient ? Seconds(_bench.Measure(() =>
        {
            using var s = NewDisposeScope();
            torch.autograd.grad([y], [xi], [gradOutput], retain_graph: true);
        })) : null;
        double? weight = weights.Count > 0 ? Seconds(_bench.Measure(() =>
        {
            using var s = NewDisposeScope();
            torch.autograd.grad([y], weights, [gradOutput], retain_graph: true);
        })) : null;
        return new LayerTiming(configuration, name, module.GetType().Name, string.Join('×', y.shape), forwardSeconds, data, weight);
    }

    /// <summary>Median time of <paramref name="run"/> over the bench's repeats after its warm-up, each on a fresh <paramref name="setup"/> (not timed).</summary>
    private double TimeWithSetup(Func<Tensor> setup, Action<Tensor> run)
    {
        var wall = new List<double>();
        var cpu = new List<double>();
        for (int i = 0; i < _bench.Warmup + _bench.Repeats; i++)
        {
            using var scope = NewDisposeScope();
            var t = setup();
            var (w, c) = Benchmark.Time(() => run(t));
            if (i >= _bench.Warmup)
            {
                wall.Add(w);
                cpu.Add(c);
            }
        }
        return Seconds(new Measurement(Benchmark.Median(wall), wall, null) { CpuTimes = cpu });
    }

    private void RunFeatures()
    {
        int batch = _settings.Batch32;
        string name = $"VGG19 conv features (vgg.features) 32×32, batch {batch}";
        _bench.BeginCase();
        using var model = CreateVgg();
        model.eval();
        double flops = 2.0 * FeaturesMacs32(model) * batch;
        using var g = new torch.Generator(4);
        using var input = torch.randn([batch, 3, 32, 32], generator: g);
        MeasureInference(Features, name, model, input, (m, x, path) => m.RunFeatures(x, path), batch, flops, logits: false);
    }

    /// <summary>
    /// What the <c>cpu</c> profile spends most of its time on: fc7 features (4,096 values) of 112×112 inputs, eval mode.
    /// </summary>
    private void RunFeatures112()
    {
        int batch = _settings.Batch112;
        string name = $"VGG19 fc7 features 112×112 (the cpu profile), batch {batch}";
        _bench.BeginCase();
        using var model = CreateVgg();
        model.eval();
        var summary = ModelSummary.Of(model, 112);
        double flops = 2.0 * (summary.MacsUnder("features") + summary.MacsUnder("classifier.0") + summary.MacsUnder("classifier.3")) * batch;
        using var g = new torch.Generator(5);
        using var input = torch.randn([batch, 3, 112, 112], generator: g);
        MeasureInference(Features112, name, model, input, (m, x, path) => m.ExtractFeatures(x, FeatureCut.Fc7, path), batch, flops, logits: false);
    }

    /// <summary>
    /// The inference lines of a case, in order: fp32 NCHW (the reference for the numerics), fp32 channels-last (the
    /// model's conv weights are converted), and the library's own path, CPU autocast bf16 with channels-last inputs.
    /// </summary>
    private void MeasureInference(string benchmarkCase, string name, Vgg model, Tensor input, Func<Vgg, Tensor, ConvolutionPath, Tensor> run,
        int batch, double flops, bool logits)
    {
        using var noGrad = torch.no_grad();
        Tensor? reference = null;
        try
        {
            Report($"{name} {Fp32Nchw}");
            var (m, output) = MeasureOutput(() => run(model, input, ConvolutionPath.LibTorch));
            reference = output;
            var nchw = Measured(benchmarkCase, name, Fp32Nchw, m, batch, flops);
            _results.Add(logits ? nchw with { DistinctTop1Classes = DistinctTop1(reference) } : nchw);

            Report($"{name} {Fp32ChannelsLast}");
            _bench.BeginCase();
            CpuSpeed.ConvertToChannelsLast(model);
            using var inputCl = CpuSpeed.ToChannelsLast(input);
            (m, output) = MeasureOutput(() => run(model, inputCl, ConvolutionPath.LibTorch));
            using (output)
                _results.Add(WithNumerics(Measured(benchmarkCase, name, Fp32ChannelsLast, m, batch, flops), output, reference, logits));

            // On AVX2 the line the library runs (Winograd for the layers where it pays); elsewhere every 3×3 layer by
            // Winograd, to show what it would cost against that CPU's direct kernels.
            bool avx2 = CpuSpeed.Isa.Effective == CpuIsa.Avx2;
            string winograd = avx2 ? Fp32WinogradWherePays : Fp32Winograd;
            Report($"{name} {winograd}");
            _bench.BeginCase();
            (m, output) = MeasureOutput(() => run(model, inputCl, avx2 ? ConvolutionPath.WinogradWherePays : ConvolutionPath.Winograd));
            using (output)
                _results.Add(WithNumerics(Measured(benchmarkCase, name, winograd, m, batch, flops), output, reference, logits) with
                {
                    Note = avx2
                        ? string.Create(CultureInfo.InvariantCulture, $"the path nvgg uses here: Winograd F(4×4, 3×3) for the 3×3 layers of ≥ {Winograd3x3.MinInputChannels} input channels, oneDNN's direct kernels for the rest")
                        : "every 3×3 layer by Winograd F(4×4, 3×3) (36 sgemm products); nvgg uses it on AVX2 CPUs only",
                });

            if (SkipAutocast(benchmarkCase, name))
                return;
            Report($"{name} {AutocastBf16ChannelsLast}");
            _bench.BeginCase();
            (m, output) = MeasureOutput(() => { using (CpuSpeed.Autocast()) return run(model, inputCl, ConvolutionPath.LibTorch).to_type(ScalarType.Float32); });
            using (output)
                _results.Add(WithNumerics(Measured(benchmarkCase, name, AutocastBf16ChannelsLast, m, batch, flops), output, reference, logits) with
                {
                    Note = "the path nvgg uses: CPU autocast (bf16 compute, fp32 weights), channels-last",
                });
        }
        finally
        {
            reference?.Dispose();
        }
    }

    private void RunLoad()
    {
        _bench.BeginCase();
        string dir = DataFolder();
        Report("Cifar10.Load");
        Cifar10Dataset? last = null;
        var m = _bench.Measure(() =>
        {
            last?.Dispose();
            last = Cifar10.Load(dir);
        });
        _dataset?.Dispose();
        _dataset = last!;
        long images = _dataset.Train.Count + _dataset.Test.Count;
        _results.Add(Measured(Load, string.Create(CultureInfo.InvariantCulture, $"Cifar10.Load, {images:N0} images ({_dataset.SourceName})"), "uint8", m, images, flops: null) with
        {
            Note = "binary batch files read into one uint8 tensor; after the warm-up the files are in the page cache",
        });
    }

    private void RunPipeline()
    {
        _bench.BeginCase();
        if (_dataset is null)
        {
            Report("loading the data for the pipeline case");
            _dataset = Cifar10.Load(DataFolder());
        }
        int batch = _settings.Batch224, batches = _settings.PipelineBatches;
        string name = $"data pipeline: batch of {batch} from memory, resize 32→224 (bilinear) + normalize";
        Report(name);
        var iterator = new BatchIterator(_dataset.Train, batch,
            x => ImageTransforms.Prepare(x, 224, Preprocessing.ImageNet, Interpolation.Bilinear), shuffle: true, seed: 0, dropLast: true);
        int epoch = 0;
        var m = _bench.Measure(() =>
        {
            int seen = 0;
            foreach (var _ in iterator.Epoch(epoch++))
            {
                if (++seen == batches)
                    break;
            }
        });
        _results.Add(Measured(Pipeline, name, Fp32, m, (long)batch * batches, flops: null) with
        {
            Note = string.Create(CultureInfo.InvariantCulture, $"{batches} batches per timed iteration (index_select + ImageTransforms.Prepare), on the same threads as the model"),
        });
    }

    private void RunHead()
    {
        int n = _settings.HeadSamples, d = _settings.HeadFeatures, epochs = _settings.HeadEpochs, batchSize = _settings.HeadBatchSize;
        string name = string.Create(CultureInfo.InvariantCulture,
            $"head training on cached features: {n:N0} × {d:N0} → Linear {Cifar10Classes}, Adam, {epochs} epochs, batch {batchSize} (Trainer)");
        Report(name);
        _bench.BeginCase();
        // Random but fixed: class centres plus noise, so the head has something to learn and its accuracy shows it did.
        using var g = new torch.Generator(5);
        using var labels = torch.randint(0, Cifar10Classes, [n], generator: g);
        Tensor features;
        using (var scope = NewDisposeScope())
        {
            var centres = torch.randn([Cifar10Classes, d], generator: g);
            features = (centres.index_select(0, labels) + 2 * torch.randn([n, d], generator: g)).relu_().MoveToOuterDisposeScope();
        }
        using var _ = features;
        int batchesPerEpoch = (n + batchSize - 1) / batchSize;
        var source = new BatchSource("cached features (random, fixed)", n, batchesPerEpoch, epoch => Batches(epoch));
        TrainingResult? last = null;
        var m = _bench.Measure(() =>
        {
            using var head = nn.Linear(d, Cifar10Classes);
            var options = new TrainingOptions { Epochs = epochs, BatchSize = batchSize, LearningRate = 1e-3, Optimizer = OptimizerKind.Adam, Seed = 0 };
            var trainer = new Trainer(head, [new ParameterGroup("head", [.. head.parameters()], options.LearningRate)], options, CPU);
            last = trainer.Fit(source);
        });
        double flops = 3 * 2.0 * d * Cifar10Classes * n * epochs;
        var final = last!.History.Epochs[^1];
        _results.Add(Measured(Head, name, Fp32, m, (long)n * epochs, flops) with
        {
            Note = string.Create(CultureInfo.InvariantCulture, $"seconds = one whole run of {epochs} epochs; images/s counts samples × epochs; train accuracy after the last epoch {final.TrainAccuracy:P1}"),
        });

        IEnumerable<(Tensor, Tensor)> Batches(int epoch)
        {
            using var shuffle = new torch.Generator((ulong)(1000 + epoch));
            // Made on the first MoveNext, inside the Trainer's per-batch dispose scope: detached so it lives for the whole epoch.
            using var order = torch.randperm(n, generator: shuffle).DetachFromDisposeScope();
            for (long start = 0; start < n; start += batchSize)
            {
                using var index = order.narrow(0, start, Math.Min(batchSize, n - start));
                yield return (features.index_select(0, index), labels.index_select(0, index));
            }
        }
    }

    // ---- helpers ----------------------------------------------------------------------------------------------

    private const string NoBf16Reason = "this CPU has no native bfloat16 instructions (AVX512_BF16 or AMX): bf16 would be emulated and slower";

    private Vgg CreateVgg()
    {
        torch.random.manual_seed(0);
        var model = Vgg.Create("vgg19", ImageNetClasses);
        if (_settings.WeightsPath is { } path)
            WeightLoader.Load(model, path);
        return model;
    }

    private long VggMacs224(Vgg model) => _vggMacs224 ??= ModelSummary.Of(model, 224).TotalMacs;

    private long FeaturesMacs32(Vgg model) => _featuresMacs32 ??= ModelSummary.Of(model, 32).MacsUnder("features");

    /// <summary>Measures <paramref name="run"/> and keeps the output of its last iteration (for the numerics).</summary>
    private (Measurement, Tensor) MeasureOutput(Func<Tensor> run)
    {
        Tensor? last = null;
        var m = _bench.Measure(() =>
        {
            using var scope = NewDisposeScope();
            var output = run();
            last?.Dispose();
            last = output.MoveToOuterDisposeScope();
        });
        last!.DetachFromDisposeScope();
        return (m, last);
    }

    private string DataFolder()
    {
        if (_settings.DataDirectory is { } dir)
            return dir;
        if (_temporaryData is null)
        {
            Report(string.Create(CultureInfo.InvariantCulture, $"writing {_settings.SyntheticTrainCount + _settings.SyntheticTestCount:N0} synthetic CIFAR-10-shaped images to a temporary folder"));
            _temporaryData = Directory.CreateTempSubdirectory("nvgg-bench-").FullName;
            SyntheticCifar.Write(_temporaryData, _settings.SyntheticTrainCount, _settings.SyntheticTestCount, seed: 0);
            _notes.Add("load and pipeline: synthetic CIFAR-10-shaped data in a temporary folder (same file layout and sizes as CIFAR-10); --data DIR uses real files");
        }
        return _temporaryData;
    }

    /// <summary>
    /// What a CPU user waits for: the cpu profile's recipe (<c>nvgg train --profile cpu</c>: fc7 features of 112×112 inputs,
    /// then the linear head) on 10,000 real-sized training images, from a cold feature cache, once with the default
    /// precision (auto) and once in fp32. The images are synthetic, 32×32 like CIFAR-10's: the time does not depend on
    /// the pixels, and a synthetic set has exactly the images per class the profile asks for.
    /// </summary>
    private void RunEndToEnd()
    {
        int perClass = _settings.EndToEndTrainPerClass;
        string root = Directory.CreateTempSubdirectory("nvgg-bench-endtoend-").FullName;
        try
        {
            // The tutorial's split keeps 9/10 of each training file for training: 10/9 as many records give perClass each.
            string data = SyntheticCifar.Write(Path.Combine(root, "data"), (perClass * 10 * 10 + 8) / 9 + 100, _settings.EndToEndTestCount, seed: 0);
            foreach (var (configuration, precision) in new[] { (PrecisionAuto, Precision.Auto), (PrecisionFp32, Precision.Fp32) })
            {
                var profile = Profiles.Cpu;
                var settings = TransferSettings.FromProfile(profile, data, _settings.WeightsPath) with
                {
                    Options = profile.Options with { Precision = precision, Device = "cpu", Epochs = _settings.Quick ? 2 : profile.Options.Epochs },
                    TrainPerClass = perClass,
                    TestPerClass = _settings.EndToEndTestCount / 10,
                    FeatureCacheDirectory = Path.Combine(root, "features-" + precision), // cold: each line computes its features
                };
                Report($"end to end: cpu profile, {perClass * 10:N0} training images, {configuration}");
                _bench.BeginCase();
                TransferResult? result = null;
                var m = new Benchmark(repeats: 1, warmup: 0).Measure(() => result = new TransferLearning().Run(settings));
                long images = perClass * 10L;
                _results.Add(Measured(EndToEnd, string.Create(CultureInfo.InvariantCulture,
                    $"cpu profile end to end (nvgg train): {perClass * 10:N0} training images at {settings.Options.ImageSize}×{settings.Options.ImageSize}, cold feature cache"),
                    configuration, m, images, flops: null) with
                {
                    Note = string.Create(CultureInfo.InvariantCulture,
                        $"ran in {result!.Precision.Name}; seconds = the whole run once: features of the training, validation and {result.Test.Count:N0} test images, " +
                        $"then {settings.Options.Epochs} head epochs; images/s counts training images; test accuracy {result.Test.Accuracy:P1} on {result.DataName} (synthetic: speed, not accuracy, is measured here)"),
                });
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private void Report(string what) => _progress?.Report(what);

    private void Skip(string benchmarkCase, string name, string configuration, string reason) =>
        _results.Add(new BenchmarkResult { Case = benchmarkCase, Name = name, Configuration = configuration, Skipped = reason });

    private BenchmarkResult Measured(string benchmarkCase, string name, string configuration, Measurement m, long? images, double? flops)
    {
        double seconds = Seconds(m);
        return new()
        {
            Case = benchmarkCase,
            Name = name,
            Configuration = configuration,
            ImagesPerIteration = images,
            Seconds = seconds,
            Times = m.Times,
            CpuTimes = m.CpuTimes,
            ImagesPerSecond = images / seconds,
            FlopsPerIteration = flops,
            GflopsPerSecond = flops / seconds / 1e9,
            PeakResidentMb = m.PeakResidentMb,
        };
    }

    /// <summary>A measurement's median by the run's clock (<see cref="BenchmarkSettings.CpuTime"/>).</summary>
    private double Seconds(Measurement m) => m.Seconds(_settings.CpuTime, torch.get_num_threads());

    /// <summary>
    /// Adds relative L2 of <paramref name="output"/> against the fp32 NCHW output; for logits also top-1 agreement, and both
    /// again on the logits minus their batch mean (random weights give every input nearly the same raw logits).
    /// </summary>
    private static BenchmarkResult WithNumerics(BenchmarkResult result, Tensor output, Tensor reference, bool logits)
    {
        using var scope = NewDisposeScope();
        using var noGrad = torch.no_grad();
        var o = output.to(ScalarType.Float32);
        var r = reference.to(ScalarType.Float32);
        result = result with { RelativeL2 = RelativeL2(o, r) };
        if (!logits)
            return result;
        var oc = o - o.mean([0], keepdim: true);
        var rc = r - r.mean([0], keepdim: true);
        return result with
        {
            Top1Agreement = Top1Agreement(o, r),
            CenteredRelativeL2 = RelativeL2(oc, rc),
            CenteredTop1Agreement = Top1Agreement(oc, rc),
            DistinctTop1Classes = DistinctTop1(o),
        };

        static double RelativeL2(Tensor a, Tensor b) => (a - b).norm().item<float>() / Math.Max(1e-30, b.norm().item<float>());
        static double Top1Agreement(Tensor a, Tensor b) => a.argmax(1).eq(b.argmax(1)).to(ScalarType.Float32).mean().item<float>();
    }

    /// <summary>"3/16 raw, 16/16 centered": distinct top-1 classes over the batch, of the logits and of the logits minus their batch mean.</summary>
    private static string DistinctTop1(Tensor logits)
    {
        using var scope = NewDisposeScope();
        var l = logits.to(ScalarType.Float32);
        long raw = torch.unique(l.argmax(1)).Item1.shape[0];
        long centered = torch.unique((l - l.mean([0], keepdim: true)).argmax(1)).Item1.shape[0];
        return string.Create(CultureInfo.InvariantCulture, $"{raw}/{l.shape[0]} raw, {centered}/{l.shape[0]} centered");
    }

    /// <summary>Records a skipped autocast line (no native bf16, or no autocast entry points) and says whether it did.</summary>
    private bool SkipAutocast(string benchmarkCase, string name)
    {
        if (CpuSpeed.HasNativeBf16 && CpuAutocast.IsAvailable)
            return false;
        Skip(benchmarkCase, name, AutocastBf16ChannelsLast, !CpuSpeed.HasNativeBf16 ? NoBf16Reason
            : "libtorch's CPU autocast entry points were not found");
        return true;
    }

    /// <summary>
    /// The configuration <c>nvgg train</c>, <c>nvgg eval</c> and the notebooks use by default on this machine for a case
    /// (precision auto: autocast bf16 where the CPU has native bf16, else fp32; channels-last except fp32 training, which runs NCHW: CpuSpeed.ForConvolutions),
    /// or null for a case no user path runs (the matmul). Auto may still fall back to fp32 for a given weights file.
    /// </summary>
    public static string? DefaultConfiguration(string benchmarkCase) => benchmarkCase switch
    {
        Forward or Features or Features112 => CpuSpeed.HasNativeBf16 && CpuAutocast.IsAvailable ? AutocastBf16ChannelsLast
            : CpuSpeed.Isa.Effective == CpuIsa.Avx2 ? Fp32WinogradWherePays : Fp32ChannelsLast, // Backbone.Forward
        Train or TrainerCase => CpuSpeed.HasNativeBf16 && CpuAutocast.IsAvailable ? AutocastBf16ChannelsLast
            : CpuSpeed.Isa.Effective == CpuIsa.Avx2 ? Fp32NchwWinogradWherePays : Fp32Nchw, // CpuSpeed.ForConvolutions, Backbone.Forward
        Layers => CpuSpeed.Isa.Effective == CpuIsa.Avx2 ? Fp32NchwWinogradWherePays : Fp32Nchw,
        Load => "uint8",
        Pipeline or Head => Fp32,
        EndToEnd => PrecisionAuto,
        _ => null,
    };

    /// <summary>Fills in what needs the whole run: fraction of the matmul rate, speed-up over fp32 NCHW, the pipeline's share of a train step.</summary>
    private List<BenchmarkResult> Finish(List<BenchmarkResult> results)
    {
        double? matmul = results.FirstOrDefault(r => r.Case == Matmul && r.Configuration == Fp32 && r.Skipped is null)?.GflopsPerSecond;
        double? fastestStep = results.Where(r => r.Case == Train && r.Skipped is null).Select(r => r.Seconds).Min();
        var finished = new List<BenchmarkResult>();
        foreach (var r in results)
        {
            var baseline = results.FirstOrDefault(b => b.Case == r.Case && b.Configuration == Fp32Nchw && b.Skipped is null);
            var f = r with { Default = r.Configuration == DefaultConfiguration(r.Case) };
            if (r.Skipped is null && r.GflopsPerSecond is { } gflops && matmul is { } ceiling && r.Case != Head)
                f = f with { FractionOfMatmul = gflops / ceiling };
            if (r.Skipped is null && baseline?.ImagesPerSecond is { } b && r.ImagesPerSecond is { } ips)
                f = f with { SpeedupOverFp32Nchw = ips / b };
            if (r.Case == Pipeline && r.Skipped is null && fastestStep is { } step && r.Seconds is { } s)
                f = f with { ShareOfTrainStep = s / _settings.PipelineBatches / step };
            finished.Add(f);
        }
        return finished;
    }
}
