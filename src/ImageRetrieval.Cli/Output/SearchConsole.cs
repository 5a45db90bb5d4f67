using System.Globalization;
using ImageRetrieval.ML.Search;
using Spectre.Console;

namespace ImageRetrieval.Cli.Output;

/// <summary>Console output shared by index, search and demo: an indexing progress bar, the indexing report, distances.</summary>
internal static class SearchConsole
{
    /// <summary>Runs an indexing call under a Spectre progress bar (no bar when the console is not interactive).</summary>
    public static IndexingReport WithProgress(string title, Func<IProgress<IndexingProgress>?, IndexingReport> run)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            return run(null);
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

    /// <summary>One line of figures, then the skipped images (the first <paramref name="maxSkippedShown"/>).</summary>
    public static void PrintReport(IndexingReport report, int maxSkippedShown = 20)
    {
        AnsiConsole.MarkupLineInterpolated(
            $"Indexed [green]{report.Added}[/] new and [green]{report.Replaced}[/] replaced images in {report.Elapsed.TotalSeconds:F1} s ({report.ImagesPerSecond:F0} images/s); {report.Skipped.Count} skipped, {report.IgnoredFiles} non-image files ignored.");
        foreach (var skipped in report.Skipped.Take(maxSkippedShown))
        {
            AnsiConsole.MarkupLineInterpolated($"  [yellow]skipped[/] {skipped.Path}: {skipped.Reason}");
        }
        if (report.Skipped.Count > maxSkippedShown)
        {
            AnsiConsole.MarkupLineInterpolated($"  … and {report.Skipped.Count - maxSkippedShown} more.");
        }
    }

    /// <summary>A distance as the tables show it.</summary>
    public static string Format(float value) => value.ToString("G4", CultureInfo.InvariantCulture);
}
