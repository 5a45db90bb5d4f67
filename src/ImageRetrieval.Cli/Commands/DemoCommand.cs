using System.Text.Json.Serialization;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using ImageRetrieval.Cli.Output;
using ImageRetrieval.Cli.Services;
using ImageRetrieval.Datasets.Evaluation;
using ImageRetrieval.ML.Search;
using Spectre.Console;

namespace ImageRetrieval.Cli.Commands;

/// <summary>
/// <c>imgret demo</c>: the README's first command. Indexes the bundled Fashion-MNIST gallery with the bundled model,
/// searches with the bundled queries (the query-folder runner of <c>search --query DIR</c>), prints each query's top
/// results and P@1, and writes results.html.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = ModelArgument.Description($"Embedding model (default: {RepositoryPaths.Model} of this repository)") };
        var gallery = new Option<string?>("--gallery") { Description = $"Gallery folder (default: {RepositoryPaths.Gallery})." };
        var queries = new Option<string?>("--queries") { Description = $"Query folder, one sub-folder per label (default: {RepositoryPaths.Queries})." };
        var output = new Option<string?>("--index-out") { Description = "Where to save the index (default: a temporary folder)." };
        var html = new Option<string>("--html") { Description = "Results page to write.", DefaultValueFactory = _ => "results.html" };
        var k = new Option<int>("--k") { Description = "Results per query.", DefaultValueFactory = _ => 5 };
        var threads = new Option<int>("--threads") { Description = "Decoding threads.", DefaultValueFactory = _ => 2 };
        var json = new Option<bool>("--json") { Description = "Print one JSON summary object last." };

        var command = new Command("demo", "Index the bundled sample gallery, run the bundled queries, print P@1 and write results.html.")
        {
            model, gallery, queries, output, html, k, threads, json,
        };
        command.SetAction(parse => CliOutput.Run(() =>
        {
            var total = Stopwatch.StartNew();
            string modelPath = parse.GetValue(model) is { } named ? ModelArgument.Resolve(named) : RepositoryPaths.Require(RepositoryPaths.Model, "--model");
            string galleryDir = parse.GetValue(gallery) ?? RepositoryPaths.Require(RepositoryPaths.Gallery, "--gallery");
            string queryDir = parse.GetValue(queries) ?? RepositoryPaths.Require(RepositoryPaths.Queries, "--queries");
            string indexDir = parse.GetValue(output) ?? Path.Combine(Path.GetTempPath(), "imgret-demo-index");
            string htmlPath = parse.GetValue(html)!;

            var options = new ImageSearchIndexOptions { IndexingThreads = 1, Embedder = SearchSession.EmbedderOptions(parse.GetValue(threads)) };
            using var index = ImageSearchIndex.Create(modelPath, galleryDir, options, ConsoleLogger.Instance);
            AnsiConsole.MarkupLineInterpolated($"Model [bold]{ModelArgument.DisplayName(parse.GetValue(model) ?? modelPath)}[/]: {index.ModelMetadata.Architecture}, {index.Dimension}-d {index.ModelMetadata.Metric}, trained on {index.ModelMetadata.TrainingDataset}; running on {index.ExecutionProvider}.");
            IndexingReport report = SearchConsole.WithProgress("Indexing gallery", progress => index.AddFolder(null, true, progress));
            SearchConsole.PrintReport(report);
            index.Save(indexDir);

            var run = QueryFolderRunner.Run(index, queryDir, new QueryFolderOptions { K = parse.GetValue(k), CompareWithExact = true, KeepResults = true });
            PrintQueries(run, parse.GetValue(k));
            double precision = run.PrecisionAt1 ?? 0, exactPrecision = run.ExactPrecisionAt1 ?? 0, median = run.Percentile(0.5);
            SearchResultsPage.Write(index, htmlPath, run.Outcomes.Select(o => (o.Path, o.Label, o.Results)).ToList(),
            [
                $"Model {Path.GetFileName(modelPath)} ({index.ModelMetadata.Architecture}, {index.Dimension}-d {index.ModelMetadata.Metric}); {index.Count} gallery images; {run.Queries} queries.",
                $"P@1 = {precision.ToString("F3", CultureInfo.InvariantCulture)} with HNSW (exact search: {exactPrecision.ToString("F3", CultureInfo.InvariantCulture)}).",
                "Green: same label as the query; red: a different label.",
            ]);
            AnsiConsole.MarkupLineInterpolated($"P@1 over {run.LabelledQueries} queries: [bold]{precision:F3}[/] (HNSW), {exactPrecision:F3} (exact). Median query latency {median:F1} ms. Total {total.Elapsed.TotalSeconds:F1} s.");
            AnsiConsole.MarkupLineInterpolated($"Wrote [green]{Path.GetFullPath(htmlPath)}[/]; index saved in {indexDir}.");
            if (parse.GetValue(json))
            {
                CliOutput.WriteJson(new DemoJson(index.Count, run.Queries, precision, exactPrecision, median, report.ImagesPerSecond, Path.GetFullPath(htmlPath)),
                    CliJsonContext.Default.DemoJson);
            }
            return 0;
        }));
        return command;
    }

    private static void PrintQueries(QueryFolderResult run, int k)
    {
        CliOutput.ReportSkipped(run.Failures);
        var table = new Table().AddColumn("query").AddColumn("label").AddColumn($"top {k} (label, distance)").AddColumn("top-1");
        foreach (QueryOutcome query in run.Outcomes)
        {
            table.AddRow(Markup.Escape(Path.GetFileName(query.Path)), Markup.Escape(query.Label ?? ""),
                Markup.Escape(string.Join(", ", query.Results.Select(r => $"{r.Label} {SearchConsole.Format(r.Distance)}"))),
                query.TopMatches == true ? "[green]✓[/]" : "[red]✗[/]");
        }
        AnsiConsole.Write(table);
    }

    /// <summary><c>--json</c> of the demo.</summary>
    internal sealed record DemoJson(int GalleryCount, int QueryCount, [property: JsonPropertyName("p_at_1")] double PAt1, [property: JsonPropertyName("p_at_1_exact")] double PAt1Exact,
        double MedianQueryMs, double IndexingImagesPerSecond, string Html);
}
