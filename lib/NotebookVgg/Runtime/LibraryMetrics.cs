using System.Diagnostics.Metrics;

namespace NotebookVgg.Runtime;

/// <summary>
/// Counters of the work a long cell or command does, as standard .NET metrics (meter "NotebookVgg"): a notebook runner's
/// progress line (<c>nvgg run</c>) and <c>dotnet-counters</c> read them, whatever the calling code logs itself.
/// </summary>
internal static class LibraryMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "NotebookVgg";

    private static readonly Meter Meter = new(MeterName);

    /// <summary>Images passed through a frozen backbone to make features (feature extraction, not cached).</summary>
    public static Counter<long> FeatureImages { get; } =
        Meter.CreateCounter<long>("notebookvgg.features.images", "{image}", "images whose features were computed");

    /// <summary>Training images seen by a trainer (one per image per epoch).</summary>
    public static Counter<long> TrainingImages { get; } =
        Meter.CreateCounter<long>("notebookvgg.training.images", "{image}", "training images seen by the trainer");
}
