using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using ImageRetrieval.ML.Search;
using Spectre.Console;

namespace ImageRetrieval.Cli.Commands;

/// <summary>
/// <c>imgret demo</c>: the README's main job. Indexes the bundled Fashion-MNIST gallery with the
/// bundled model, searches with the bundled queries, prints each query's top results and P@1, and
/// writes results.html.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Embedding model (default: models/fashion-mnist-embed.onnx of this repository)." };
        var gallery = new Option<string?>("--gallery") { Description = "Gallery folder (default: samples/data/gallery)." };
        var queries = new Option<string?>("--queries") { Description = "Query folder, one sub-folder per label (default: samples/data/queries)." };
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
            string modelPath = parse.GetValue(model) ?? Find("models/fashion-mnist-embed.onnx");
            string galleryDir = parse.GetValue(gallery) ?? Find("samples/data/gallery");
            string queryDir = parse.GetValue(queries) ?? Find("samples/data/queries");
            string indexDir = parse.GetValue(output) ?? Path.Combine(Path.GetTempPath(), "imgret-demo-index");
            int topK = parse.GetValue(k);
            var total = Stopwatch.StartNew();

            var options = new ImageSearchIndexOptions
            {
                IndexingThreads = 1,
                Embedder = SearchCommandSupport.EmbedderOptions(parse.GetValue(threads)),
            };
            using var index = ImageSearchIndex.Create(modelPath, galleryDir, options);
            AnsiConsole.MarkupLineInterpolated($"Model [bold]{Path.GetFileName(modelPath)}[/]: {index.ModelMetadata.Architecture}, {index.Dimension}-d {index.ModelMetadata.Metric}, trained on {index.ModelMetadata.TrainingDataset}; running on {index.ExecutionProvider}.");
            IndexingReport report = SearchCommandSupport.WithProgress("Indexing gallery", progress => index.AddFolder(null, true, progress));
            SearchCommandSupport.PrintReport(report);
            index.Save(indexDir);

            var queryFiles = Directory.EnumerateFiles(queryDir, "*", SearchOption.AllDirectories)
                .Where(f => f.EndsWith(".png", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jpeg", StringComparison.OrdinalIgnoreCase))
                .Order(StringComparer.Ordinal).ToList();
            if (queryFiles.Count == 0)
            {
                throw new DirectoryNotFoundException($"No query images found in '{queryDir}'.");
            }
            var page = new List<(string, string?, IReadOnlyList<ImageSearchResult>)>();
            int hits = 0, exactHits = 0;
            var latencies = new List<double>();
            var table = new Table().AddColumn("query").AddColumn("label").AddColumn($"top {topK} (label, distance)").AddColumn("top-1");
            foreach (string file in queryFiles)
            {
                string? label = Path.GetFileName(Path.GetDirectoryName(file));
                var watch = Stopwatch.StartNew();
                var results = index.Search(file, topK);
                latencies.Add(watch.Elapsed.TotalMilliseconds);
                var exact = index.Search(file, 1, exact: true);
                bool hit = results.Count > 0 && results[0].Label == label;
                hits += hit ? 1 : 0;
                exactHits += exact.Count > 0 && exact[0].Label == label ? 1 : 0;
                table.AddRow(Markup.Escape(Path.GetFileName(file)), Markup.Escape(label ?? ""),
                    Markup.Escape(string.Join(", ", results.Select(r => $"{r.Label} {SearchCommandSupport.Format(r.Distance)}"))),
                    hit ? "[green]✓[/]" : "[red]✗[/]");
                page.Add((file, label, results));
            }
            AnsiConsole.Write(table);
            double precision = (double)hits / queryFiles.Count;
            double exactPrecision = (double)exactHits / queryFiles.Count;
            latencies.Sort();
            double p50 = latencies[latencies.Count / 2];
            string htmlPath = parse.GetValue(html)!;
            SearchCommand.WriteHtml(index, htmlPath, page,
            [
                $"Model {Path.GetFileName(modelPath)} ({index.ModelMetadata.Architecture}, {index.Dimension}-d {index.ModelMetadata.Metric}); {index.Count} gallery images; {queryFiles.Count} queries.",
                $"P@1 = {precision.ToString("F3", CultureInfo.InvariantCulture)} with HNSW (exact search: {exactPrecision.ToString("F3", CultureInfo.InvariantCulture)}).",
                "Green: same label as the query; red: a different label.",
            ]);
            AnsiConsole.MarkupLineInterpolated($"P@1 over {queryFiles.Count} queries: [bold]{precision:F3}[/] (HNSW), {exactPrecision:F3} (exact). Median query latency {p50:F1} ms. Total {total.Elapsed.TotalSeconds:F1} s.");
            AnsiConsole.MarkupLineInterpolated($"Wrote [green]{Path.GetFullPath(htmlPath)}[/]; index saved in {indexDir}.");
            if (parse.GetValue(json))
            {
                CliOutput.WriteJson(new
                {
                    gallery_count = index.Count,
                    query_count = queryFiles.Count,
                    p_at_1 = precision,
                    p_at_1_exact = exactPrecision,
                    median_query_ms = p50,
                    indexing_images_per_second = report.ImagesPerSecond,
                    html = Path.GetFullPath(htmlPath),
                });
            }
            return 0;
        }));
        return command;
    }

    private static string Find(string relative) =>
        SearchCommandSupport.FindUpwards(relative)
        ?? throw new FileNotFoundException($"'{relative}' not found above the current directory; run from a clone of the repository or pass the path explicitly.");
}
