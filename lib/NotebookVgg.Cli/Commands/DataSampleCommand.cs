using System.ComponentModel;
using NotebookVgg.IO;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NotebookVgg.Cli.Commands;

/// <summary>
/// <c>nvgg data sample --out FILE</c>: the 12,000-image CIFAR-10 sample the tests use (1,000 training and 200 test images
/// per class), written from the real data set in the official layout, deterministically. The workflow makes it this way.
/// </summary>
internal sealed class DataSampleCommand : Command<DataSampleCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--data <DIR>")]
        [Description("Data folder holding CIFAR-10 (default as for 'data download').")]
        public string? Data { get; init; }

        [CommandOption("--out <FILE>")]
        [Description("The archive to write, e.g. cifar-10-sample-binary.tar.gz (required).")]
        public string? Out { get; init; }

        [CommandOption("--train-per-class <N>")]
        [Description("Training images per class, spread over the five batch files (default 1000).")]
        [DefaultValue(1000)]
        public int TrainPerClass { get; init; } = 1000;

        [CommandOption("--test-per-class <N>")]
        [Description("Test images per class (default 200).")]
        [DefaultValue(200)]
        public int TestPerClass { get; init; } = 200;

        [CommandOption("--seed <S>")]
        [Description("Seed of the records' order: the same data and seed write the same bytes (default 0).")]
        public int Seed { get; init; }

        public override ValidationResult Validate() =>
            string.IsNullOrWhiteSpace(Out) ? ValidationResult.Error("--out FILE is required") : ValidationResult.Success();
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var result = CifarSample.Write(ProjectPaths.DataDirectory(settings.Data), settings.Out!, settings.TrainPerClass, settings.TestPerClass, settings.Seed);
        // Plain lines (not wrapped to the terminal's width): scripts read the SHA-256 from here.
        Console.Out.WriteLine(
            $"Wrote {result.Archive}: {result.TrainPerClass:N0} training and {result.TestPerClass:N0} test images per class; SHA-256 {result.Sha256}");
        Console.Out.WriteLine($"Tests use it through {ProjectPaths.SampleEnvironmentVariable}={result.Archive}");
        return 0;
    }
}
