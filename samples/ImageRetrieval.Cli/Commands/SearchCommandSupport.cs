using System.Globalization;
using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Search;
using Spectre.Console;

namespace ImageRetrieval.Cli.Commands;

/// <summary>Pieces shared by index, search, info and demo.</summary>
internal static class SearchCommandSupport
{
    /// <summary>Finds a path relative to the repository (or the current directory, or the app folder), walking up: lets `dotnet run` work from any folder of a clone.</summary>
    public static string? FindUpwards(string relative)
    {
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, relative);
                if (File.Exists(candidate) || Directory.Exists(candidate))
                {
                    return candidate;
                }
            }
        }
        return null;
    }

    public static ImageEmbedderOptions EmbedderOptions(int threads) => new()
    {
        IntraOpNumThreads = 1,
        DecodeParallelism = Math.Max(1, threads),
        BatchSize = 64,
    };

    /// <summary>Runs an indexing call under a Spectre progress bar (plain output when not interactive).</summary>
    public static IndexingReport WithProgress(string title, Func<IProgress<IndexingProgress>, IndexingReport> run)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            return run(new Progress<IndexingProgress>(_ => { }));
        }
        IndexingReport? report = null;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                ProgressTask task = context.AddTask(title, maxValue: 1);
                report = run(new SynchronousProgress<IndexingProgress>(p =>
                {
                    task.MaxValue = Math.Max(1, p.Total);
                    task.Value = p.Completed;
                }));
                task.Value = task.MaxValue;
            });
        return report!;
    }

    public static void PrintReport(IndexingReport report, int maxSkippedShown = 20)
    {
        AnsiConsole.MarkupLineInterpolated(
            $"Indexed [green]{report.Added}[/] new and [green]{report.Replaced}[/] replaced images in {report.Elapsed.TotalSeconds:F1} s ({report.ImagesPerSecond:F0} images/s); {report.Skipped.Count} skipped, {report.IgnoredFiles} non-image files ignored.");
        foreach (SkippedImage skipped in report.Skipped.Take(maxSkippedShown))
        {
            AnsiConsole.MarkupLineInterpolated($"  [yellow]skipped[/] {skipped.Path}: {skipped.Reason}");
        }
        if (report.Skipped.Count > maxSkippedShown)
        {
            AnsiConsole.MarkupLineInterpolated($"  … and {report.Skipped.Count - maxSkippedShown} more.");
        }
    }

    public static string Format(float value) => value.ToString("G4", CultureInfo.InvariantCulture);

    /// <summary>Calls the handler on the reporting thread (System.Progress would post to the thread pool).</summary>
    private sealed class SynchronousProgress<T>(Action<T> handler) : IProgress<T>
    {
        public void Report(T value) => handler(value);
    }
}
