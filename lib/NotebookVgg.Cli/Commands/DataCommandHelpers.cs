using NotebookVgg.IO;
using Spectre.Console;

namespace NotebookVgg.Cli.Commands;

/// <summary>Shared by the data commands: URL parsing and the download progress bar.</summary>
internal static class DataCommandHelpers
{
    /// <summary>An http(s) or file URL, or a local path (made a file URL).</summary>
    public static Uri ParseSource(string text)
    {
        if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" or "file")
            return uri;
        if (File.Exists(text) || Directory.Exists(text))
        {
            string full = Path.GetFullPath(text);
            return new Uri(Directory.Exists(full) ? Path.TrimEndingDirectorySeparator(full) + Path.DirectorySeparatorChar : full);
        }
        throw new ArgumentException($"--mirror '{text}': neither an http(s)/file URL nor an existing local path");
    }

    /// <summary>A one-line message beside a progress bar (another process holds the file; a cache moved): to stderr, as the CLI's notes go.</summary>
    public static void Say(string message) => Console.Error.WriteLine($"nvgg: {message}");

    /// <summary>Runs <paramref name="work"/> with a Spectre progress bar fed by its download progress.</summary>
    public static Task<T> WithProgressAsync<T>(string description, Func<IProgress<DownloadProgress>, Task<T>> work) =>
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(description, autoStart: true, maxValue: 1);
                var result = await work(new BarProgress(task));
                task.Value = task.MaxValue;
                task.StopTask();
                return result;
            });

    /// <summary>Reports synchronously (ProgressTask is thread-safe), so the bar never lags behind the end.</summary>
    private sealed class BarProgress(ProgressTask task) : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value)
        {
            if (value.TotalBytes is { } total && total > 0)
                task.MaxValue = total;
            else
                task.IsIndeterminate = !value.Completed;
            task.Value = value.BytesReceived;
        }
    }
}
