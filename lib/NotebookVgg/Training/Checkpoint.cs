using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using NotebookVgg.IO;
using NotebookVgg.Weights;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NotebookVgg.Training;

/// <summary>Everything besides the tensors that a resumed run needs.</summary>
internal sealed record CheckpointState(
    int EpochsCompleted,
    TrainingOptions Options,
    List<EpochRecord> History,
    string DataName,
    double? BestValidationAccuracy,
    int EpochsWithoutImprovement,
    byte[] RngState,
    JsonObject? Model);

/// <summary>
/// A checkpoint is one zip file: <c>state.json</c>, <c>model.bin</c> (TorchSharp's format) and
/// <c>optimizer.bin</c>. It is written under a temporary name and renamed, so a run killed while saving
/// leaves the previous checkpoint intact.
/// </summary>
internal static class Checkpoint
{
    internal const string StateEntry = "state.json";
    private const string ModelEntry = "model.bin";
    private const string OptimizerEntry = "optimizer.bin";

    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>What to do when a checkpoint cannot be written, for the end of its one-line error.</summary>
    private const string Advice = "the previous checkpoint there, if any, is intact (a resumed run continues from it); free space or choose another folder";

    /// <summary>
    /// Before a run that writes a checkpoint at <paramref name="path"/>, and before its long work: takes the checkpoint's lock
    /// (<c>path.lock</c>; a second run writing the same checkpoint fails here, naming the first) and checks that the folder takes a
    /// file of <paramref name="estimatedBytes"/> (<see cref="EstimateBytes"/>). Dispose the result when the run ends.
    /// </summary>
    /// <exception cref="WriteFailedException">The folder cannot be written, has too little free space, or another run writes this checkpoint.</exception>
    public static FileLock BeginWriting(string path, long estimatedBytes)
    {
        string full = Path.GetFullPath(path);
        OutputCheck.EnsureCanWrite(full, "checkpoint", estimatedBytes, "choose a writable folder with enough free space; nothing was changed");
        string lockPath = FileLock.PathFor(full);
        return FileLock.TryAcquire(lockPath, $"writing the checkpoint {full}", reentrant: true)
            ?? throw new WriteFailedException(full, WriteProblem.InUse,
                $"{full}: cannot write the checkpoint: another run is writing it ({FileLock.Holder(lockPath) ?? "it holds " + lockPath}); " +
                "wait for it to finish, or choose another checkpoint file");
    }

    /// <summary>
    /// The size of a checkpoint of <paramref name="model"/>: its state (parameters and buffers) plus the optimizer's
    /// <paramref name="optimizerSlots"/> tensors per trained parameter (Adam keeps 2, SGD with momentum 1, plain SGD 0).
    /// Slightly below the real size (the zip's and state.json's few kilobytes are left out), so a check against it never refuses a
    /// checkpoint that would fit.
    /// </summary>
    public static long EstimateBytes(nn.Module model, IEnumerable<Parameter> trained, int optimizerSlots)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(trained);
        using var scope = NewDisposeScope();
        long state = model.state_dict().Values.Sum(t => t.numel() * t.element_size());
        long optimizer = trained.Sum(p => p.numel() * p.element_size()) * optimizerSlots;
        return state + optimizer;
    }

    /// <summary>
    /// Writes <paramref name="state"/>, the model's tensors and (if given) the optimizer's state to one zip at
    /// <paramref name="path"/>, replacing any earlier checkpoint there only once complete. <paramref name="estimatedBytes"/>
    /// (<see cref="EstimateBytes"/>) is checked against the free space first and named in the error when the disk fills.
    /// </summary>
    /// <exception cref="WriteFailedException">The checkpoint could not be written; no temporary file is left, an earlier checkpoint is intact.</exception>
    public static void Save(string path, nn.Module model, OptimizerHelper? optimizer, CheckpointState state, long? estimatedBytes = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(state);
        AtomicFile.Write(path, "checkpoint", stream =>
        {
            using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
            using (var s = zip.CreateEntry(StateEntry, CompressionLevel.Fastest).Open())
                JsonSerializer.Serialize(s, state, Json);
            using (var s = zip.CreateEntry(ModelEntry, CompressionLevel.NoCompression).Open())
            using (var writer = new BinaryWriter(s))
                SaveContiguous(model, writer);
            if (optimizer is not null)
            {
                using var s = zip.CreateEntry(OptimizerEntry, CompressionLevel.NoCompression).Open();
                using var writer = new BinaryWriter(s);
                optimizer.save_state_dict(writer);
            }
        }, estimatedBytes, Advice);
    }

    /// <summary>Reads only the state (history, settings, model description).</summary>
    public static CheckpointState ReadState(string path)
    {
        using var zip = OpenArchive(path);
        return ReadState(zip, path);
    }

    /// <summary>Restores the model's tensors (strictly) and, if given, the optimizer's; returns the state.</summary>
    public static CheckpointState Load(string path, nn.Module model, OptimizerHelper? optimizer = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var zip = OpenArchive(path);
        var state = ReadState(zip, path);
        try
        {
            using (var weights = StateDict.ReadTorchSharp($"{path}!{ModelEntry}", EntryBytes(zip, ModelEntry, path)))
                WeightLoader.Load(model, weights); // strict, per-key errors, and copy_ works into channels-last parameters
            if (optimizer is not null)
            {
                using var s = new MemoryStream(EntryBytes(zip, OptimizerEntry, path), writable: false);
                using var reader = new BinaryReader(s);
                optimizer.load_state_dict(reader);
            }
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or EndOfStreamException or IOException or WeightsMismatchException)
        {
            throw new InvalidDataException($"{path}: the checkpoint does not fit this model: {ex.Message}", ex);
        }
        return state;
    }

    /// <summary>TorchSharp's writer needs contiguous tensors; channels-last parameters are written through a contiguous copy.</summary>
    private static void SaveContiguous(nn.Module model, BinaryWriter writer)
    {
        using var scope = NewDisposeScope();
        var contiguous = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.is_contiguous() ? kv.Value : kv.Value.contiguous());
        nn.Module.save_state_dict(writer, contiguous);
    }

    /// <summary>
    /// Keeps the finished checkpoint <paramref name="source"/> as <paramref name="best"/>, atomically: a hard link where the file
    /// system has them (no second copy of a 1.7 GB file on the disk, no time), else a copy.
    /// </summary>
    public static void KeepAsBest(string source, string best) =>
        AtomicFile.LinkOrCopy(source, best, "best checkpoint", Advice);

    private static ZipArchive OpenArchive(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no such checkpoint", path);
        RegularFile.EnsureReadable(path, "a checkpoint");
        try
        {
            return ZipFile.OpenRead(path);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"{path}: not a NotebookVgg checkpoint (not a zip archive: {ex.Message})", ex);
        }
    }

    private static CheckpointState ReadState(ZipArchive zip, string path)
    {
        var entry = zip.GetEntry(StateEntry) ?? throw new InvalidDataException($"{path}: not a NotebookVgg checkpoint (no {StateEntry})");
        try
        {
            using var s = entry.Open();
            var state = JsonSerializer.Deserialize<CheckpointState>(s, Json) ?? throw new InvalidDataException($"{path}: {StateEntry} is empty");
            Validate(state, path);
            return state;
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path}: {StateEntry} is corrupt: {ex.Message}", ex);
        }
    }

    /// <summary>The options and the epoch count, checked on load (the model's description is its owner's to check): a nonsense value is an error naming the file and the field.</summary>
    private static void Validate(CheckpointState state, string path)
    {
        void Fail(string field, object? value, string expected) =>
            throw new InvalidDataException($"{path}: {StateEntry}: {field} {value ?? "null"} is invalid ({expected})");
        if (state.Options is null)
            Fail("options", null, "missing");
        try
        {
            state.Options!.Validate();
        }
        catch (ArgumentException ex)
        {
            throw new InvalidDataException($"{path}: {StateEntry}: {ex.Message}", ex);
        }
        if (state.EpochsCompleted < 0)
            Fail("epochsCompleted", state.EpochsCompleted, "at least 0");
    }

    /// <summary>TorchSharp's readers seek; zip entry streams cannot, so each entry is read into memory first (once).</summary>
    private static byte[] EntryBytes(ZipArchive zip, string name, string path)
    {
        var entry = zip.GetEntry(name) ?? throw new InvalidDataException($"{path}: the checkpoint has no {name}");
        return StateDict.ReadEntry(entry, path, Array.MaxLength);
    }
}
