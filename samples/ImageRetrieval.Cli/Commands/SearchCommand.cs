using System.CommandLine;
using System.Diagnostics;
using ImageRetrieval.ML.Search;
using Spectre.Console;

namespace ImageRetrieval.Cli.Commands;

/// <summary><c>imgret search</c>: the images of a saved index most similar to a query image.</summary>
internal static class SearchCommand
{
    public static Command Create()
    {
        var index = new Option<string>("--index") { Description = "Index directory (from 'imgret index').", Required = true };
        var query = new Option<string>("--query") { Description = "Query image file, or a folder of query images (one sub-folder per class: reports P@1 and latency percentiles).", Required = true };
        var limit = new Option<int>("--limit") { Description = "With a query folder: search at most N of its images (sorted by path).", DefaultValueFactory = _ => int.MaxValue };
        var k = new Option<int>("--k") { Description = "Number of results.", DefaultValueFactory = _ => 10 };
        var efSearch = new Option<int?>("--ef-search") { Description = $"HNSW beam width (default {ImageSearchIndexOptions.Defaults.EfSearch})." };
        var exact = new Option<bool>("--exact") { Description = "Exact brute-force search instead of HNSW." };
        var model = new Option<string?>("--model") { Description = "The model the index was built with (default: the path recorded in the index)." };
        var gallery = new Option<string?>("--gallery") { Description = "Where the gallery is now (default: the root recorded in the index)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object." };
        var html = new Option<string?>("--html") { Description = "Also write a self-contained HTML page with the query and its results." };

        var command = new Command("search", "Find the indexed images most similar to a query image.")
        {
            index, query, k, efSearch, exact, model, gallery, json, html, limit,
        };
        command.SetAction(parse => CliOutput.Run(() =>
        {
            string indexDir = parse.GetValue(index)!;
            string queryPath = parse.GetValue(query)!;
            using ImageSearchIndex opened = Open(indexDir, parse.GetValue(model), parse.GetValue(gallery));
            if (Directory.Exists(queryPath))
            {
                return SearchFolder(opened, queryPath, parse.GetValue(limit), parse.GetValue(k), parse.GetValue(efSearch), parse.GetValue(exact), parse.GetValue(json));
            }
            var watch = Stopwatch.StartNew();
            var results = opened.Search(queryPath, parse.GetValue(k), parse.GetValue(efSearch), exact: parse.GetValue(exact));
            double ms = watch.Elapsed.TotalMilliseconds;

            string? htmlPath = parse.GetValue(html);
            if (htmlPath is not null)
            {
                WriteHtml(opened, htmlPath, [(queryPath, null, results)], [$"{opened.Count} images, {opened.ModelMetadata.Architecture} {opened.Dimension}-d {opened.ModelMetadata.Metric}"]);
            }
            if (parse.GetValue(json))
            {
                CliOutput.WriteJson(new
                {
                    query = queryPath,
                    k = parse.GetValue(k),
                    exact = parse.GetValue(exact),
                    milliseconds = ms,
                    execution_provider = opened.ExecutionProvider.ToString(),
                    results = results.Select((r, i) => new { rank = i + 1, key = r.Key, path = r.Path, label = r.Label, distance = r.Distance }),
                });
                return 0;
            }
            var table = new Table().AddColumn("#").AddColumn("distance").AddColumn("label").AddColumn("path");
            for (int i = 0; i < results.Count; i++)
            {
                table.AddRow((i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), SearchCommandSupport.Format(results[i].Distance),
                    Markup.Escape(results[i].Label ?? ""), Markup.Escape(results[i].Path));
            }
            AnsiConsole.MarkupLineInterpolated($"Query {queryPath}: {results.Count} results in {ms:F1} ms ({(parse.GetValue(exact) ? "exact" : "HNSW")}, {opened.ExecutionProvider}).");
            AnsiConsole.Write(table);
            if (htmlPath is not null)
            {
                AnsiConsole.MarkupLineInterpolated($"Wrote [green]{htmlPath}[/].");
            }
            return 0;
        }));
        return command;
    }

    private static int SearchFolder(ImageSearchIndex index, string folder, int limit, int k, int? efSearch, bool exact, bool json)
    {
        QueryFolderResult r = QueryFolderRunner.Run(index, folder, limit, k, efSearch, exact);
        if (json)
        {
            CliOutput.WriteJson(new
            {
                queries = r.Queries,
                failed = r.Failures.Count,
                k,
                exact,
                ef_search = efSearch ?? ImageSearchIndexOptions.Defaults.EfSearch,
                gallery_count = index.Count,
                p_at_1 = r.PrecisionAt1,
                latency_ms = new { p50 = r.Percentile(0.50), p90 = r.Percentile(0.90), p99 = r.Percentile(0.99), max = r.Percentile(1.0), mean = r.LatenciesMs.Count == 0 ? double.NaN : r.LatenciesMs.Average() },
                execution_provider = index.ExecutionProvider.ToString(),
                failures = r.Failures.Select(f => new { path = f.Path, reason = f.Reason }),
            });
            return 0;
        }
        foreach (var failure in r.Failures.Take(20))
        {
            AnsiConsole.MarkupLineInterpolated($"[yellow]skipped[/] {failure.Path}: {failure.Reason}");
        }
        AnsiConsole.MarkupLineInterpolated($"{r.Queries} queries from {folder} against {index.Count} images ({(exact ? "exact" : "HNSW")}, {index.ExecutionProvider}), {r.Failures.Count} failed.");
        AnsiConsole.MarkupLineInterpolated($"Latency per query from a file (decode + embed + search, after one warm-up): p50 {r.Percentile(0.50):F2} ms, p90 {r.Percentile(0.90):F2} ms, p99 {r.Percentile(0.99):F2} ms.");
        if (r.PrecisionAt1 is { } p)
        {
            AnsiConsole.MarkupLineInterpolated($"P@1 over {r.LabelledQueries} labelled queries: [bold]{p:F4}[/]");
        }
        return 0;
    }

    internal static ImageSearchIndex Open(string indexDir, string? model, string? gallery)
    {
        ImageSearchIndexInfo info = ImageSearchIndex.ReadInfo(indexDir);
        string modelPath = model ?? info.ModelPath
            ?? throw new ArgumentException($"Index '{indexDir}' does not record its model's path; pass --model.");
        if (model is null && !File.Exists(modelPath))
        {
            throw new FileNotFoundException($"The model recorded in the index ('{modelPath}') no longer exists; pass --model with the model the index was built with.", modelPath);
        }
        return ImageSearchIndex.Open(indexDir, modelPath, gallery, SearchCommandSupport.EmbedderOptions(1));
    }

    /// <summary>Writes the results page; gallery images are read from the index's gallery root.</summary>
    internal static void WriteHtml(ImageSearchIndex index, string path, IReadOnlyList<(string QueryPath, string? QueryLabel, IReadOnlyList<ImageSearchResult> Results)> queries, IReadOnlyList<string> summary)
    {
        var sections = new List<QueryResults>();
        foreach (var (queryPath, queryLabel, results) in queries)
        {
            var hits = results.Select(r =>
            {
                string file = index.ResolvePath(new IndexedImage(r.Key, r.Path, r.Label));
                byte[] bytes = File.Exists(file) ? File.ReadAllBytes(file) : [];
                return new SearchResultsPage.Hit(r.Path, bytes, r.Label, r.Distance);
            }).ToList();
            sections.Add(new QueryResults(Path.GetFileName(queryPath), File.ReadAllBytes(queryPath), queryLabel, hits));
        }
        string html = SearchResultsPage.Render("ImageRetrieval results", sections, summary);
        string full = Path.GetFullPath(path);
        string temp = full + ".tmp";
        File.WriteAllText(temp, html);
        File.Move(temp, full, overwrite: true);
    }
}
