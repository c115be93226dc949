using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;

namespace NotebookVgg.Cli.Runner;

/// <summary>
/// papermill shows a progress bar; a C# notebook's long cell (notebook 4's feature extraction: 20 minutes on an AVX2 CPU)
/// printed nothing until it ended. While a cell runs longer than the interval, this writes one line per interval: how long
/// it has run, what the library has done meanwhile (images through the backbone or the trainer, and their rate, read from
/// the library's counters, meter "NotebookVgg") and the cell's latest line of output.
/// </summary>
internal sealed class CellProgress : IDisposable
{
    private readonly Action<string> _write;
    private readonly TimeSpan _interval;
    private readonly MeterListener _listener = new();
    private readonly Lock _gate = new();
    private readonly Timer _timer;
    // Per counter: images since the cell started, and at the previous line.
    private readonly Dictionary<string, (long Total, long AtLastLine)> _counts = new(StringComparer.Ordinal);
    private string? _label;
    private string _lastOutput = "";
    private Stopwatch _cell = new();
    private TimeSpan _lastLineAt;

    /// <summary>Lines go to <paramref name="write"/> every <paramref name="interval"/> while a cell runs.</summary>
    public CellProgress(Action<string> write, TimeSpan interval)
    {
        _write = write;
        _interval = interval;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "NotebookVgg")
                listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => Count(instrument.Name, value));
        _listener.Start();
        _timer = new Timer(_ => Tick(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public void Started(CellStart cell)
    {
        lock (_gate)
        {
            _label = $"{cell.Label} [{cell.ExecutionCount}]";
            _lastOutput = "";
            _counts.Clear();
            _cell = Stopwatch.StartNew();
            _lastLineAt = TimeSpan.Zero;
        }
        _timer.Change(_interval, _interval);
    }

    public void Output(CellOutput output)
    {
        if (output.Stream == "result")
            return;
        string? line = output.Text.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.Length > 0);
        if (line is null)
            return;
        lock (_gate)
            _lastOutput = line.Length <= 160 ? line : line[..157] + "...";
    }

    public void Finished()
    {
        _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        lock (_gate)
            _label = null;
    }

    public void Dispose()
    {
        _timer.Dispose();
        _listener.Dispose();
    }

    private void Count(string instrument, long value)
    {
        lock (_gate)
        {
            if (_label is null)
                return;
            var (total, atLastLine) = _counts.GetValueOrDefault(instrument);
            _counts[instrument] = (total + value, atLastLine);
        }
    }

    private void Tick()
    {
        string line;
        lock (_gate)
        {
            if (_label is null)
                return;
            var now = _cell.Elapsed;
            double seconds = Math.Max(1e-9, (now - _lastLineAt).TotalSeconds);
            var parts = new List<string> { $"{_label} running for {Duration(now)}" };
            foreach (var (instrument, (total, atLastLine)) in _counts.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                string what = instrument.Contains("features", StringComparison.Ordinal) ? "features" : "training";
                parts.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{what}: {total:N0} images, {(total - atLastLine) / seconds:F1} images/s"));
                _counts[instrument] = (total, total);
            }
            _lastLineAt = now;
            if (_lastOutput.Length > 0)
                parts.Add(_lastOutput);
            line = "  … " + string.Join(" · ", parts);
        }
        try
        {
            _write(line);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // The console is gone; the run goes on.
        }
    }

    private static string Duration(TimeSpan t) =>
        t.TotalMinutes >= 1 ? $"{(int)t.TotalMinutes}m{t.Seconds:00}s" : $"{t.TotalSeconds:F0}s";
}
