using System.Globalization;

namespace NotebookVgg.Data;

/// <summary>
/// Writes a CIFAR-10-shaped data set for offline runs and tests: the official binary layout and file names,
/// any number of records, the same bytes for the same seed. Each class has its own colour and its own
/// stripe orientation and frequency, with random phase, colour jitter, contrast and noise per image, so a
/// small CNN or a linear probe learns to tell the classes apart within an epoch or two, but not from one pixel.
/// A marker file (<see cref="Cifar10.SyntheticMarkerFileName"/>) is written first, so everything loaded from
/// the folder says <see cref="Cifar10.SyntheticSourceName"/>.
/// </summary>
public static class SyntheticCifar
{
    // The CIFAR-10 names, so code and charts work unchanged; the source name marks the data as synthetic.
    private static readonly string[] ClassNames = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>
    /// Writes <paramref name="dir"/>/cifar-10-batches-bin (train records spread over the five data_batch files,
    /// test records in test_batch.bin, classes balanced and shuffled) and returns <paramref name="dir"/>'s full path.
    /// The folder is built under a temporary name and renamed into place; an existing synthetic folder is
    /// replaced, an existing real one never is. Two writers of one folder take turns: <paramref name="log"/> hears that one waits.
    /// </summary>
    public static string Write(string dir, int trainCount, int testCount, int seed, Action<string>? log = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dir);
        if (trainCount < Cifar10.TrainFileNames.Count)
            throw new ArgumentOutOfRangeException(nameof(trainCount), $"{trainCount} train records: at least {Cifar10.TrainFileNames.Count} are needed (one per batch file)");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(testCount);

        string root = Path.GetFullPath(dir);
        string target = Path.Combine(root, Cifar10.FolderName);
        if (File.Exists(target))
            throw new IOException($"{target}: exists and is a file");

        // Two writers of the same folder take turns; a full disk or a read-only folder fails before a byte is written, in one line.
        using var writing = Cifar10Archive.BeginWriting(root, target, log, CancellationToken.None);
        if (Directory.Exists(target) && !File.Exists(Path.Combine(target, Cifar10.SyntheticMarkerFileName)))
            throw new IOException($"{target}: already exists and is not synthetic data; it is never overwritten");
        long bytes = (long)(trainCount + testCount) * Cifar10Reader.RecordBytes;
        if (IO.WriteFailure.FreeBytes(root) is { } free && free < bytes)
            throw IO.WriteFailure.NotEnoughSpace(target, "synthetic data", bytes, free);

        string temporary = Path.Combine(root, $".synth-{Guid.NewGuid():N}");
        string building = Path.Combine(temporary, Cifar10.FolderName);
        try
        {
            Directory.CreateDirectory(building);
            File.WriteAllText(Path.Combine(building, Cifar10.SyntheticMarkerFileName), string.Create(CultureInfo.InvariantCulture,
                $"Synthetic CIFAR-10-shaped data written by NotebookVgg (seed {seed}, {trainCount} train and {testCount} test records).\nNot CIFAR-10: every result built from it must say so.\n"));
            File.WriteAllText(Path.Combine(building, Cifar10.MetaFileName), string.Join("\n", ClassNames) + "\n\n");

            var generator = new Generator(seed);
            var trainRandom = new Random(MixSeed(seed, 0, 2));
            byte[] trainRecords = generator.Records(trainCount, trainRandom);
            int files = Cifar10.TrainFileNames.Count, offset = 0;
            for (int f = 0; f < files; f++)
            {
                int count = trainCount / files + (f < trainCount % files ? 1 : 0);
                File.WriteAllBytes(Path.Combine(building, Cifar10.TrainFileNames[f]),
                    trainRecords.AsSpan(offset * Cifar10Reader.RecordBytes, count * Cifar10Reader.RecordBytes));
                offset += count;
            }
            var testRandom = new Random(MixSeed(seed, 0, 3));
            File.WriteAllBytes(Path.Combine(building, Cifar10.TestFileName), generator.Records(testCount, testRandom));

            if (Directory.Exists(target))
                Directory.Delete(target, recursive: true); // synthetic, checked above
            Directory.Move(building, target);
        }
        catch (Exception ex) when (IO.WriteFailure.IsWriteError(ex) && IO.WriteFailure.Classify(ex) != IO.WriteProblem.Other)
        {
            throw IO.WriteFailure.Explain(ex, target, "synthetic data", bytes);
        }
        finally
        {
            if (Directory.Exists(temporary))
                Directory.Delete(temporary, recursive: true);
        }
        return root;
    }

    /// <summary>Per-class appearance, fixed for a seed; per-image variation drawn from the caller's Random.</summary>
    private sealed class Generator
    {
        private const int Pixels = 32 * 32;
        private readonly float[][] _colour = new float[Cifar10.ClassCount][];     // RGB base colour, 0–255
        private readonly float[][] _stripeSin = new float[Cifar10.ClassCount][];  // sin of the stripe angle per pixel
        private readonly float[][] _stripeCos = new float[Cifar10.ClassCount][];

        public Generator(int seed)
        {
            var random = new Random(MixSeed(seed, 0, 4));
            for (int k = 0; k < Cifar10.ClassCount; k++)
            {
                // Hues evenly around the wheel (jittered by seed), stripes at k·18° with 2–4 cycles per image.
                double hue = (k + random.NextDouble() * 0.3) / Cifar10.ClassCount;
                _colour[k] = Hsv(hue, 0.55, 0.70);
                double angle = Math.PI * k / Cifar10.ClassCount;
                double cycles = 2 + k % 3;
                _stripeSin[k] = new float[Pixels];
                _stripeCos[k] = new float[Pixels];
                for (int y = 0; y < 32; y++)
                {
                    for (int x = 0; x < 32; x++)
                    {
                        double a = 2 * Math.PI * cycles * (x * Math.Cos(angle) + y * Math.Sin(angle)) / 32;
                        _stripeSin[k][y * 32 + x] = (float)Math.Sin(a);
                        _stripeCos[k][y * 32 + x] = (float)Math.Cos(a);
                    }
                }
            }
        }

        /// <summary><paramref name="count"/> records (balanced labels, shuffled) in the 3,073-byte layout.</summary>
        public byte[] Records(int count, Random random)
        {
            byte[] labels = new byte[count];
            for (int i = 0; i < count; i++)
                labels[i] = (byte)(i % Cifar10.ClassCount);
            random.Shuffle(labels);

            byte[] records = new byte[count * (long)Cifar10Reader.RecordBytes];
            byte[] noise = new byte[Cifar10Reader.ImageBytes];
            for (int i = 0; i < count; i++)
            {
                int k = labels[i];
                var record = records.AsSpan(i * Cifar10Reader.RecordBytes, Cifar10Reader.RecordBytes);
                record[0] = labels[i];
                double phase = random.NextDouble() * 2 * Math.PI;
                float sinPhase = (float)Math.Sin(phase), cosPhase = (float)Math.Cos(phase);
                float contrast = 30f + 40f * (float)random.NextDouble();
                random.NextBytes(noise);
                for (int c = 0; c < 3; c++)
                {
                    float level = _colour[k][c] + 50f * ((float)random.NextDouble() - 0.5f);
                    var plane = record.Slice(1 + c * Pixels, Pixels);
                    var noisePlane = noise.AsSpan(c * Pixels, Pixels);
                    for (int p = 0; p < Pixels; p++)
                    {
                        // sin(a + phase) = sin a cos phase + cos a sin phase
                        float stripe = _stripeSin[k][p] * cosPhase + _stripeCos[k][p] * sinPhase;
                        float value = level + contrast * stripe + (noisePlane[p] - 127.5f) * 0.25f;
                        plane[p] = (byte)Math.Clamp(MathF.Round(value), 0f, 255f);
                    }
                }
            }
            return records;
        }

        private static float[] Hsv(double h, double s, double v)
        {
            double f = h * 6 - Math.Floor(h * 6);
            double p = v * (1 - s), q = v * (1 - f * s), t = v * (1 - (1 - f) * s);
            (double r, double g, double b) = ((int)Math.Floor(h * 6) % 6) switch
            {
                0 => (v, t, p),
                1 => (q, v, p),
                2 => (p, v, t),
                3 => (p, q, v),
                4 => (t, p, v),
                _ => (v, p, q),
            };
            return [(float)(r * 255), (float)(g * 255), (float)(b * 255)];
        }
    }

    /// <summary>A well-mixed 31-bit seed from (seed, epoch, stream) (SplitMix64 finalizer).</summary>
    private static int MixSeed(int seed, int epoch, int stream)
    {
        ulong z = ((ulong)(uint)seed << 32) ^ ((ulong)(uint)epoch << 2) ^ (ulong)stream;
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (int)(z & 0x7FFFFFFF);
    }
}
