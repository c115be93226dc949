using System.Globalization;

namespace NotebookVgg.Runtime;

/// <summary>
/// This process's resident memory as Linux reports it in /proc/self/status: VmRSS now, VmHWM the peak.
/// The peak can be reset to the current size by writing "5" to /proc/self/clear_refs (Linux 4.0+), where the
/// kernel allows it; that is what makes a peak per benchmark case possible. Elsewhere the figures are null.
/// </summary>
internal static class ResidentMemory
{
    private const string StatusFile = "/proc/self/status";
    private const string ClearRefsFile = "/proc/self/clear_refs";

    /// <summary>Peak resident set size in MiB since the process started or the last <see cref="TryResetPeak"/>; null where unknown.</summary>
    public static double? PeakMegabytes() => ReadKilobytes("VmHWM:") is { } kb ? kb / 1024.0 : null;

    /// <summary>Current resident set size in MiB; null where unknown.</summary>
    public static double? CurrentMegabytes() => ReadKilobytes("VmRSS:") is { } kb ? kb / 1024.0 : null;

    /// <summary>Resets the peak to the current resident size. False where the kernel does not allow it or ignores it (the peak then stays the process's).</summary>
    public static bool TryResetPeak()
    {
        if (!OperatingSystem.IsLinux())
            return false;
        try
        {
            File.WriteAllText(ClearRefsFile, "5");
            // Some sandboxes accept the write and ignore it: the reset counts only if the peak is now near the current size.
            return PeakMegabytes() is { } peak && CurrentMegabytes() is { } current && peak <= current + 16;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static long? ReadKilobytes(string field)
    {
        if (!OperatingSystem.IsLinux())
            return null;
        try
        {
            foreach (string line in File.ReadLines(StatusFile))
            {
                if (!line.StartsWith(field, StringComparison.Ordinal))
                    continue;
                string value = line[field.Length..].Trim();
                int space = value.IndexOf(' ', StringComparison.Ordinal);
                return long.Parse(space < 0 ? value : value[..space], NumberStyles.Integer, CultureInfo.InvariantCulture);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
        return null;
    }
}
