using System.Text.Json.Serialization;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using ImageRetrieval.Cli.Output;
using ImageRetrieval.Cli.Services;
using ImageRetrieval.Datasets.Evaluation;
using ImageRetrieval.ML.Indexing;
using ImageRetrieval.ML.Search;
using Spectre.Console;

namespace ImageRetrieval.Cli.Commands;

/// <summary><c>imgret search</c>: the images of a saved index most similar to a query image, or a folder of queries measured.</summary>
internal static class SearchCommand
{
    public static Command Create()
    {
        var index = new Option<string>("--index") { Description = "Index directory (from 'imgret index').", Required = true };
        var query = new Option<string>("--query") { Description = "Query image file, or a folder of query images (one sub-folder per class: reports P@1 and latency percentiles).", Required = true };
        var limit = new Option<int>("--limit") { Description = "With a query folder: search at most N of its images (sorted by path).", DefaultValueFactory = _ => int.MaxValue };
        var k = new Option<int>("--k") { Description = "Number of results.", DefaultValueFactory = _ => 10 };
        var efSearch = new Option<int?>("--ef-search") { Description = $"HNSW beam width (default {HnswOptions.Defaults.EfSearch})." };
        var exact = new Option<bool>("--exact") { Description = "Exact brute-force search instead of HNSW." };
        var model = new Option<string?>("--model") { Description = ModelArgument.Description("The model the index was built with (default: the one recorded in the index)") };
        var gallery = new Option<string?>("--gallery") { Description = "Where the gallery is now (default: the root recorded in the index)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object." };
        var html = new Option<string?>("--html") { Description = "Also write a self-contained HTML page with the query and its results." };

        var command = new Command("search", "Find the indexed images most similar to a query image.")
        {
            index, query, k, efSearch, exact, model, gallery, json, html, limit,
        };
        command.SetAction(parse => CliOutput.Run(() =>
        {
            string queryPath = parse.GetValue(query)!;
            int topK = parse.GetValue(k);
            bool isExact = parse.GetValue(exact);
            using ImageSearchIndex opened = SearchSession.Open(parse.GetValue(index)!, parse.GetValue(model), parse.GetValue(gallery));
            if (Directory.Exists(queryPath))
            {
                var options = new QueryFolderOptions { Limit = parse.GetValue(limit), K = topK, EfSearch = parse.GetValue(efSearch), Exact = isExact };
                PrintFolder(opened, queryPath, options, QueryFolderRunner.Run(opened, queryPath, options), parse.GetValue(json));
                return 0;
            }
            var watch = Stopwatch.StartNew();
            var results = opened.Search(queryPath, topK, parse.GetValue(efSearch), exact: isExact);
            double ms = watch.Elapsed.TotalMilliseconds;
            string? htmlPath = parse.GetValue(html);
            if (htmlPath is not null)
            {
                SearchResultsPage.Write(opened, htmlPath, [(queryPath, null, results)], [$"{opened.Count} images, {opened.ModelMetadata.Architecture} {opened.Dimension}-d {opened.ModelMetadata.Metric}"]);
            }
            if (parse.GetValue(json))
            {
                CliOutput.WriteJson(new SearchJson(queryPath, topK, isExact, ms, opened.ExecutionProvider.ToString(),
                    results.Select((r, i) => new SearchHitJson(i + 1, r.Key, r.Path, r.Label, r.Distance)).ToList()), CliJsonContext.Default.SearchJson);
                return 0;
            }
            var table = new Table().AddColumn("#").AddColumn("distance").AddColumn("label").AddColumn("path");
            for (int i = 0; i < results.Count; i++)
            {
                table.AddRow((i + 1).ToString(CultureInfo.InvariantCulture), SearchConsole.Format(results[i].Distance), Markup.Escape(results[i].Label ?? ""), Markup.Escape(results[i].Path));
            }
            AnsiConsole.MarkupLineInterpolated($"Query {queryPath}: {results.Count} results in {ms:F1} ms ({(isExact ? "exact" : "HNSW")}, {opened.ExecutionProvider}).");
            AnsiConsole.Write(table);
            if (htmlPath is not null)
            {
                AnsiConsole.MarkupLineInterpolated($"Wrote [green]{htmlPath}[/].");
            }
            return 0;
        }));
        return command;
    }

    private static void PrintFolder(ImageSearchIndex index, string folder, QueryFolderOptions options, QueryFolderResult r, bool json)
    {
        if (json)
        {
            CliOutput.WriteJson(new QueryFolderJson(r.Queries, r.Failures.Count, options.K, options.Exact, options.EfSearch ?? HnswOptions.Defaults.EfSearch,
                index.Count, r.PrecisionAt1, new LatencyJson(r.Percentile(0.50), r.Percentile(0.90), r.Percentile(0.99), r.Percentile(1.0), r.MeanLatencyMs),
                index.ExecutionProvider.ToString(), r.Failures.Select(f => new FailureJson(f.Path, f.Reason)).ToList()), CliJsonContext.Default.QueryFolderJson);
            return;
        }
        CliOutput.ReportSkipped(r.Failures, shown: 20);
        AnsiConsole.MarkupLineInterpolated($"{r.Queries} queries from {folder} against {index.Count} images ({(options.Exact ? "exact" : "HNSW")}, {index.ExecutionProvider}), {r.Failures.Count} failed.");
        AnsiConsole.MarkupLineInterpolated($"Latency per query from a file (decode + embed + search, after one warm-up): p50 {r.Percentile(0.50):F2} ms, p90 {r.Percentile(0.90):F2} ms, p99 {r.Percentile(0.99):F2} ms.");
        if (r.PrecisionAt1 is { } p)
        {
            AnsiConsole.MarkupLineInterpolated($"P@1 over {r.LabelledQueries} labelled queries: [bold]{p:F4}[/]");
        }
    }

    /// <summary><c>--json</c> of one query.</summary>
    internal sealed record SearchJson(string Query, int K, bool Exact, double Milliseconds, string ExecutionProvider, IReadOnlyList<SearchHitJson> Results);

    /// <summary>One result of <see cref="SearchJson"/>.</summary>
    internal sealed record SearchHitJson(int Rank, long Key, string Path, string? Label, float Distance);

    /// <summary><c>--json</c> of a query folder.</summary>
    internal sealed record QueryFolderJson(int Queries, int Failed, int K, bool Exact, int EfSearch, int GalleryCount, [property: JsonPropertyName("p_at_1")] double? PAt1,
        LatencyJson LatencyMs, string ExecutionProvider, IReadOnlyList<FailureJson> Failures);

    /// <summary>Query latency percentiles in milliseconds.</summary>
    internal sealed record LatencyJson(double P50, double P90, double P99, double Max, double Mean);

    /// <summary>A query that could not be searched.</summary>
    internal sealed record FailureJson(string Path, string Reason);
}
