using System.Text;
using NotebookVgg.IO;

namespace NotebookVgg.Cli.Runner;

/// <summary>
/// The <c>--kernel-log</c> file: kernel events and console output from outside a cell, one line each. It is a diagnostic beside
/// the run, written from the kernel's threads too, so a write that fails (the disk fills) neither stops the notebook nor throws
/// there: the log stops, and <see cref="Failure"/> holds the one-line error the command reports once the notebook is done.
/// </summary>
internal sealed class KernelLogFile : TextWriter
{
    private const string Advice = "free space there or choose another --kernel-log path; the notebook ran on without it";
    private readonly string _path;
    private readonly StreamWriter _writer;
    private readonly FileLock? _held;
    private readonly Lock _gate = new();

    private KernelLogFile(string path, StreamWriter writer, FileLock? held)
    {
        _path = path;
        _writer = writer;
        _held = held;
    }

    /// <summary>
    /// Opens <paramref name="path"/> (appending or from empty), first checking that its folder takes a file (one line if not).
    /// It holds the log's lock (<c>NAME.lock</c>, freed by the kernel even after kill -9) while open: two runs naming one log would
    /// otherwise both start it empty and write from its start, over each other's bytes. The second run is refused before any cell,
    /// naming the first, and the first's log is left as it is. A run's children open it one after another, so they still share it.
    /// </summary>
    public static KernelLogFile Open(string path, bool append)
    {
        string full = Path.GetFullPath(path);
        // Checked before any notebook starts: a log that cannot be written fails in one line, not as a raw OS error.
        OutputCheck.EnsureCanWrite(full, "kernel log", advice: "choose a writable --kernel-log path; nothing was run");
        string lockPath = FileLock.PathFor(full);
        FileLock? held;
        try
        {
            held = FileLock.TryAcquire(lockPath, $"writing the kernel log {full}")
                ?? throw new WriteFailedException(full, WriteProblem.InUse,
                    $"{full}: cannot write the kernel log: another run is writing it ({FileLock.Holder(lockPath) ?? "it holds " + lockPath}); " +
                    "wait for it to finish, or choose another --kernel-log path; nothing was run");
        }
        catch (IOException ex) when (ex is not WriteFailedException { Problem: WriteProblem.InUse })
        {
            // The lock file cannot be written (a full disk): the log goes on without it; its own writes stop and say so at the end.
            held = null;
        }
        try
        {
            return new KernelLogFile(full, new StreamWriter(full, append) { AutoFlush = true }, held);
        }
        catch (Exception ex) when (WriteFailure.IsWriteError(ex))
        {
            held?.Dispose();
            throw WriteFailure.Explain(ex, full, "kernel log", null, "choose a writable --kernel-log path; nothing was run");
        }
    }

    /// <summary>Why the log stopped (one line, naming the file), or null while every line was written.</summary>
    public WriteFailedException? Failure { get; private set; }

    public override Encoding Encoding => _writer.Encoding;

    public override void Write(char value) => Guard(w => w.Write(value));

    public override void Write(string? value) => Guard(w => w.Write(value));

    public override void Write(char[] buffer, int index, int count) => Guard(w => w.Write(buffer, index, count));

    public override void WriteLine(string? value) => Guard(w => w.WriteLine(value));

    public override void Flush() => Guard(w => w.Flush());

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Guard(w => w.Flush());
            try
            {
                _writer.Dispose(); // after a failed write its buffer still holds what did not fit: closing tries once more
            }
            catch (Exception ex) when (WriteFailure.IsWriteError(ex))
            {
            }
            _held?.Dispose();
        }
        base.Dispose(disposing);
    }

    private void Guard(Action<StreamWriter> write)
    {
        lock (_gate)
        {
            if (Failure is not null)
                return;
            try
            {
                write(_writer);
            }
            catch (Exception ex) when (WriteFailure.IsWriteError(ex))
            {
                Failure = WriteFailure.Explain(ex, _path, "kernel log", null, Advice);
            }
        }
    }
}
