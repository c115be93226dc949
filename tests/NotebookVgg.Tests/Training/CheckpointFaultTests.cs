using NotebookVgg.Data;
using NotebookVgg.IO;
using NotebookVgg.Tests.TestSupport;
using NotebookVgg.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NotebookVgg.Tests.Training;

/// <summary>
/// Issue 27: checkpoints under real faults. A full disk or a read-only folder fails before the first epoch where that can be
/// known, and otherwise leaves the previous checkpoint whole and no temporary file; a writer killed while saving leaves the last
/// checkpoint loadable; two runs never write one checkpoint at once.
/// </summary>
[Collection(GlobalRandomState.Name)]
public sealed class CheckpointFaultTests
{
    private static readonly TrainingOptions Options = new() { Epochs = 1, BatchSize = 8, ImageSize = 32, Device = "cpu" };

    /// <summary>A model of about 2 MB, with Adam's state about 6.3 MB per checkpoint.</summary>
    private static (nn.Module Model, OptimizerHelper Optimizer) Model()
    {
        random.manual_seed(3);
        var model = nn.Sequential(("fc", nn.Linear(256, 2048)));
        var optimizer = optim.Adam(model.parameters());
        using (var loss = model.call(randn(2, 256)).sum())
            loss.backward();
        optimizer.step();
        return (model, optimizer);
    }

    private static CheckpointState State(int epoch) => new(epoch, Options, [], "test data", null, 0, [], null);

    private static long Estimate(nn.Module model) => Checkpoint.EstimateBytes(model, model.parameters(), 2);

    [Fact]
    public void EstimateBytes_IsTheCheckpointsSize_LessItsFewKilobytesOfZipAndJson()
    {
        using var dir = new TempDirectory();
        var (model, optimizer) = Model();
        using (model)
        using (optimizer)
        {
            Checkpoint.Save(dir.Combine("c.ckpt"), model, optimizer, State(1));
            long size = new FileInfo(dir.Combine("c.ckpt")).Length;
            long estimate = Estimate(model);
            Assert.InRange(size - estimate, 0, 64 * 1024);
        }
    }

    [Fact]
    public void ASaveOnAFullDisk_KeepsThePreviousCheckpoint_AndNoTemporary_SayingWhatIsNeeded()
    {
        var (model, optimizer) = Model();
        using (model)
        using (optimizer)
        {
            long size = Estimate(model);
            using var disk = FaultyFolder.FullDisk(size + size / 2); // one checkpoint fits, a second beside it does not
            string path = disk.Combine("run.ckpt");
            Checkpoint.Save(path, model, optimizer, State(1), size);

            var refused = Assert.Throws<WriteFailedException>(() => Checkpoint.Save(path, model, optimizer, State(2), size)); // known size: before writing
            var filled = Assert.Throws<WriteFailedException>(() => Checkpoint.Save(path, model, optimizer, State(2))); // unknown: ENOSPC mid-write

            foreach (var ex in new[] { refused, filled })
            {
                Assert.Equal(WriteProblem.DiskFull, ex.Problem);
                Assert.DoesNotContain("\n", ex.Message, StringComparison.Ordinal);
                Assert.StartsWith($"{path}: cannot write the checkpoint: the disk is full: ", ex.Message, StringComparison.Ordinal);
                Assert.EndsWith("the previous checkpoint there, if any, is intact (a resumed run continues from it); free space or choose another folder", ex.Message, StringComparison.Ordinal);
            }
            Assert.Contains($"{WriteFailure.Bytes(size)} needed, ", refused.Message, StringComparison.Ordinal);
            Assert.Equal(["run.ckpt"], disk.Entries());
            Assert.Equal(1, Checkpoint.Load(path, model, optimizer).EpochsCompleted);
        }
    }

    [Fact]
    public void TrainingIntoAReadOnlyFolder_FailsBeforeTheFirstBatch()
    {
        using var folder = FaultyFolder.ReadOnly();
        random.manual_seed(0);
        using var head = nn.Sequential(("fc", nn.Linear(16, 10)));
        using var x = randn(8, 16);
        using var y = randint(0, 10, [8]);
        int batches = 0;
        var trainer = new Trainer(head, [new ParameterGroup("head", [.. head.parameters()], 1e-3)], Options, CPU);
        string path = folder.Combine("checkpoints", "run.ckpt");

        var ex = Assert.Throws<WriteFailedException>(() => trainer.Fit(new BatchSource("train", 8, 1, _ => Count()), null, new CheckpointOptions(path)));

        Assert.Equal(WriteProblem.ReadOnly, ex.Problem);
        Assert.StartsWith($"{path}: cannot write the checkpoint: {folder.Combine("checkpoints")} is on a read-only file system", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, batches);

        IEnumerable<(Tensor, Tensor)> Count()
        {
            batches++;
            yield return (x, y);
        }
    }

    [Fact]
    public void TrainingWithTooLittleSpaceForTheCheckpoint_FailsBeforeTheFirstBatch_NamingBothSizes()
    {
        using var disk = FaultyFolder.FullDisk(1024 * 1024);
        random.manual_seed(0);
        using var model = nn.Sequential(("fc", nn.Linear(256, 2048)));
        using var x = randn(8, 256);
        using var y = randint(0, 10, [8]);
        int batches = 0;
        var trainer = new Trainer(model, [new ParameterGroup("all", [.. model.parameters()], 1e-3)], Options, CPU);
        string path = disk.Combine("run.ckpt");

        var ex = Assert.Throws<WriteFailedException>(() => trainer.Fit(new BatchSource("train", 8, 1, _ => Count()), null, new CheckpointOptions(path)));

        Assert.Equal(WriteProblem.DiskFull, ex.Problem);
        Assert.Contains($"the disk is full: {WriteFailure.Bytes(Estimate(model))} needed, {WriteFailure.Bytes(disk.FreeBytes)} free", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, batches);
        Assert.Empty(disk.Entries());

        IEnumerable<(Tensor, Tensor)> Count()
        {
            batches++;
            yield return (x, y);
        }
    }

    [Fact]
    public void TwoRunsIntoOneCheckpoint_TheSecondIsRefusedAtOnce_NamingTheFirst_WhichFinishes()
    {
        using var dir = new TempDirectory();
        string path = dir.Combine("run.ckpt");
        using var first = ChildProcess.Start("train", path, "150");
        first.WaitFor("TRAINING");
        using var second = ChildProcess.Start("train", path, "150");

        var refused = second.WaitForExit();
        var finished = first.WaitForExit();

        Assert.Equal(ChildProgram.Refused, refused.ExitCode);
        Assert.StartsWith($"{path}: cannot write the checkpoint: another run is writing it (pid {first.Id} (", refused.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("TRAINING", refused.Stdout, StringComparison.Ordinal); // refused before its first batch
        Assert.Equal(0, finished.ExitCode);
        Assert.Equal(2, Checkpoint.ReadState(path).EpochsCompleted);
        Assert.Equal(["run.ckpt"], dir.Files()); // no lock file, no temporary
    }

    [Fact]
    public void AWriterKilledWhileSaving_LeavesTheLastCheckpointLoadable_AndTheNextSaveRemovesItsTemporary()
    {
        using var dir = new TempDirectory();
        string path = dir.Combine("run.ckpt");
        using var writer = ChildProcess.Start("save-checkpoints", path);
        writer.WaitFor("SAVED 2");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (Directory.GetFiles(dir.Path, "run.ckpt.*.partial").Length == 0 && clock.Elapsed < TimeSpan.FromSeconds(30))
            Thread.SpinWait(1000);

        writer.KillHard();

        Assert.Single(Directory.GetFiles(dir.Path, "run.ckpt.*.partial")); // killed mid-save
        random.manual_seed(1);
        using var model = nn.Sequential(("fc", nn.Linear(512, 4096)));
        using var optimizer = optim.Adam(model.parameters());
        var state = Checkpoint.Load(path, model, optimizer);
        Assert.True(state.EpochsCompleted >= 2);
        Thread.Sleep(1100); // past the grace period for a temporary file that may be between creation and lock
        Checkpoint.Save(path, model, optimizer, State(state.EpochsCompleted + 1));
        Assert.Equal(["run.ckpt"], dir.Files());
    }

    [Fact]
    public void TheBestCheckpoint_IsAHardLink_TakingNoSecondCopysSpace_AndKeepsItsEpochWhenTheLatestIsReplaced()
    {
        var (model, optimizer) = Model();
        using (model)
        using (optimizer)
        {
            long size = Estimate(model);
            using var disk = FaultyFolder.FullDisk(3 * size);
            string path = disk.Combine("run.ckpt"), best = disk.Combine("run.best.ckpt");
            Checkpoint.Save(path, model, optimizer, State(1), size);
            long freeBefore = disk.FreeBytes;

            Checkpoint.KeepAsBest(path, best);

            Assert.True(freeBefore - disk.FreeBytes < 64 * 1024, $"the best copy took {freeBefore - disk.FreeBytes} bytes");
            Checkpoint.Save(path, model, optimizer, State(2), size);
            Assert.Equal(1, Checkpoint.ReadState(best).EpochsCompleted);
            Assert.Equal(2, Checkpoint.ReadState(path).EpochsCompleted);
            Assert.Equal(["run.best.ckpt", "run.ckpt"], disk.Entries());
        }
    }

    [Fact]
    public void ABestCheckpointKilledMidWay_KeepsThePreviousBestWhole_AndTheNextKeepAsBestRemovesItsTemporary()
    {
        // KeepAsBest links the checkpoint to a temporary name, then renames it over NAME.best.ckpt: a kill -9 between the two
        // leaves exactly that link (no process holds it open), so the test makes that link under the name KeepAsBest uses.
        // A kill before the link leaves nothing, after the rename the new best is whole.
        using var dir = new TempDirectory();
        string path = dir.Combine("run.ckpt"), best = dir.Combine("run.best.ckpt");
        var (model, optimizer) = Model();
        using (model)
        using (optimizer)
        {
            Checkpoint.Save(path, model, optimizer, State(1));
            Checkpoint.KeepAsBest(path, best);
            Checkpoint.Save(path, model, optimizer, State(2));
            string leftover = AtomicFile.TempNameFor(Path.GetFullPath(best));
            HardLink(path, leftover);

            Assert.Equal(1, Checkpoint.Load(best, model, optimizer).EpochsCompleted); // the previous best, whole and loadable
            Assert.Equal(["run.best.ckpt", Path.GetFileName(leftover), "run.ckpt"], dir.Files());

            Thread.Sleep(1100); // past the grace period for a temporary file that may be between creation and lock
            Checkpoint.Save(path, model, optimizer, State(3));
            Checkpoint.KeepAsBest(path, best);

            Assert.Equal(["run.best.ckpt", "run.ckpt"], dir.Files());
            Assert.Equal(3, Checkpoint.Load(best, model, optimizer).EpochsCompleted);
        }
    }

    [Fact]
    public void ABestCheckpointInAReadOnlyFolder_FailsInOneLineNamingIt_AndThePreviousBestIsUntouched()
    {
        // In a run the checkpoint's preflight (TrainingIntoAReadOnlyFolder_FailsBeforeTheFirstBatch) stops first: the best
        // checkpoint shares its folder. Called on its own, KeepAsBest says the same in one line.
        var (model, optimizer) = Model();
        using (model)
        using (optimizer)
        {
            byte[]? previous = null;
            using var folder = FaultyFolder.ReadOnly(source =>
            {
                Checkpoint.Save(Path.Combine(source, "run.ckpt"), model, optimizer, State(2));
                File.WriteAllBytes(Path.Combine(source, "run.best.ckpt"), previous = [1, 2, 3]);
            });
            string best = folder.Combine("run.best.ckpt");

            var ex = Assert.Throws<WriteFailedException>(() => Checkpoint.KeepAsBest(folder.Combine("run.ckpt"), best));

            Assert.Equal(WriteProblem.ReadOnly, ex.Problem);
            Assert.StartsWith($"{best}: cannot write the best checkpoint: {folder.Path} is on a read-only file system", ex.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("\n", ex.Message, StringComparison.Ordinal);
            Assert.Equal(previous, File.ReadAllBytes(best));
            Assert.Equal(["run.best.ckpt", "run.ckpt"], folder.Entries());
        }
    }

    private static void HardLink(string existing, string newName)
    {
        using var ln = System.Diagnostics.Process.Start("ln", [existing, newName]);
        ln.WaitForExit();
        Assert.Equal(0, ln.ExitCode);
    }
}
