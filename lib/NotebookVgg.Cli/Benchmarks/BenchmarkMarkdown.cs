using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace NotebookVgg.Cli.Benchmarks;

/// <summary>
/// A saved <c>nvgg bench --output</c> report as the README's Markdown table: per case the line nvgg uses by default
/// first (marked), then the other configurations; the PyTorch ratio where the same run measured one; the targets below.
/// Read as JSON nodes, so a report written by an older nvgg renders too.
/// </summary>
internal static class BenchmarkMarkdown
{
    public static string Render(JsonObject report, string source)
    {
        var c = CultureInfo.InvariantCulture;
        var md = new StringBuilder();
        var results = report["results"]?.AsArray().OfType<JsonObject>().ToList()
            ?? throw new InvalidDataException($"{source}: no \"results\" array: not an nvgg bench report");
        var comparisons = report["comparisons"]?.AsArray().OfType<JsonObject>().ToList() ?? [];

        md.AppendLine("| case | configuration | images/s | GFLOP/s | × PyTorch (same run) | peak RSS MB | numerics vs fp32 |");
        md.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var group in results.GroupBy(r => Text(r["case"])))
        {
            // What a user gets by default leads; the rest keep the bench's order.
            var ordered = group.OrderByDescending(r => r["default"]?.GetValue<bool>() == true).ToList();
            foreach (var (r, i) in ordered.Select((r, i) => (r, i)))
            {
                bool isDefault = r["default"]?.GetValue<bool>() == true;
                string configuration = Text(r["configuration"]) + (isDefault ? " **(default)**" : "");
                if (r["skipped"] is { } skipped)
                {
                    md.AppendLine(string.Create(c, $"| {(i == 0 ? Text(r["name"]) : "")} | {configuration} | skipped: {Text(skipped)} | | | | |"));
                    continue;
                }
                double? imagesPerSecond = Number(r["imagesPerSecond"]);
                string rate = imagesPerSecond is { } ips ? ips.ToString(ips >= 100 ? "N0" : "0.0", c)
                    : Number(r["seconds"]) is { } s ? s.ToString("0.00", c) + " s" : "";
                string gflops = Number(r["gflopsPerSecond"]) is { } g ? g.ToString("0", c) : "";
                var comparison = comparisons.FirstOrDefault(p => Text(p["case"]) == group.Key && Text(p["configuration"]) == Text(r["configuration"]));
                string ratio = Number(comparison?["ratio"]) is { } x ? x.ToString("0.00", c) + "×" : "";
                string rss = Number(r["peakResidentMb"]) is { } m ? m.ToString("N0", c) : "";
                var numerics = new List<string>();
                if (Number(r["relativeL2"]) is { } l2)
                    numerics.Add("rel. L2 " + l2.ToString("0.0e+00", c));
                if (Number(r["top1Agreement"]) is { } top1)
                    numerics.Add("top-1 agree " + top1.ToString("P0", c));
                md.AppendLine($"| {(i == 0 ? Text(r["name"]) : "")} | {configuration} | {rate} | {gflops} | {ratio} | {rss} | {string.Join(", ", numerics)} |");
            }
        }

        var layers = Deserialize<List<LayerTiming>>(report["layers"]) ?? [];
        if (layers.Count > 0)
        {
            var pytorchNode = report["pyTorch"] as JsonObject;
            var columns = LayerTable.Columns(layers, Deserialize<List<StepTiming>>(report["steps"]) ?? [],
                (report["machine"] as JsonObject)?["trainingLayout"]?.ToString(),
                Deserialize<List<LayerTiming>>(pytorchNode?["layers"]), Deserialize<List<StepTiming>>(pytorchNode?["steps"]),
                Text(pytorchNode?["framework"]) is { Length: > 0 } f ? f : "PyTorch");
            md.AppendLine();
            md.AppendLine("The train step layer by layer (`layers` case; milliseconds, median): each layer alone on the activations a step gives it — " +
                "forward with autograd recording, the gradient for its input (∂input), the gradients for its weight and bias (∂weight) — then whole steps split where the training loop sees them.");
            md.AppendLine();
            md.Append(LayerTable.Markdown(columns));
        }

        var machine = report["machine"] as JsonObject;
        md.AppendLine();
        md.AppendLine(string.Create(c, $"Machine: {Text(machine?["cpu"])}, {Text(machine?["logicalCores"])} logical cores, torch threads {Text(machine?["torchThreads"])}, " +
            $"native bf16 {(machine?["nativeBf16"]?.GetValue<bool>() == true ? "yes" : "no")}; {Text(machine?["operatingSystem"])}, {Text(machine?["dotNetVersion"])}, " +
            $"TorchSharp {Text(machine?["torchSharpVersion"])} / libtorch {Text(machine?["libTorchVersion"])}. Load average at start / end: " +
            $"{Text(machine?["loadAverageAtStart"])} / {Text(machine?["loadAverageAtEnd"])}."));
        if (machine?["instructionSets"] is { } isa)
        {
            md.AppendLine();
            md.AppendLine($"Kernels: instruction sets {Text(isa)}; ATen {Text(machine["atenCapability"])}; {Text(machine["oneDnn"])}; fp32 training {Text(machine["trainingLayout"])}. " +
                string.Join(" ", machine["kernels"]?.AsArray().Select(k => $"oneDNN convolutions, {Text(k)}.") ?? []));
        }
        if (report["pyTorch"] is JsonObject pytorch)
        {
            md.AppendLine();
            string core = Text(pytorch["blasCore"]) is { Length: > 0 } k ? $" ({k} kernels)" : "";
            string oneDnn = Text(pytorch["oneDnn"]) is { Length: > 0 } o ? $"; {o}" : "";
            md.AppendLine($"PyTorch: {Text(pytorch["framework"])}, {Text(pytorch["threads"])} threads, BLAS {string.Join(", ", pytorch["blas"]?.AsArray().Select(Text) ?? [])}{core}{oneDnn}; fp32 NCHW.");
        }
        var targets = report["targets"]?.AsArray().OfType<JsonObject>().ToList() ?? [];
        if (targets.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("| target | wanted | measured (default line) | met |");
            md.AppendLine("|---|---|---|---|");
            foreach (var t in targets)
            {
                string value = Number(t["value"]) is not { } v ? "" : Text(t["unit"]) switch
                {
                    "seconds" => v.ToString("0.00", c) + " s",
                    "fraction" => v.ToString("P1", c),
                    _ => v.ToString("0.00", c) + "×",
                };
                string met = t["met"]?.GetValue<bool?>() switch { true => "yes", false => "**no**", null => "n/a" };
                md.AppendLine($"| {Text(t["name"])} | {Text(t["target"])} | {value} | {met} |");
            }
        }
        return md.ToString();
    }

    private static readonly System.Text.Json.JsonSerializerOptions ReadOptions = new() { PropertyNameCaseInsensitive = true };

    private static T? Deserialize<T>(JsonNode? node) where T : class => node is null ? null : System.Text.Json.JsonSerializer.Deserialize<T>(node, ReadOptions);

    private static string Text(JsonNode? node) => node?.ToString().Replace("|", "\\|", StringComparison.Ordinal) ?? "";

    private static double? Number(JsonNode? node) => node is JsonValue v && v.TryGetValue(out double d) ? d : null;
}
