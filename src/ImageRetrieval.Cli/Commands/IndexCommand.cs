using System.CommandLine;
using ImageRetrieval.Cli.Output;
using ImageRetrieval.Cli.Services;
using ImageRetrieval.ML.Indexing;
using ImageRetrieval.ML.Search;
using Spectre.Console;

namespace ImageRetrieval.Cli.Commands;

/// <summary><c>imgret index</c>: embeds every image of a folder and saves a searchable index.</summary>
internal static class IndexCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = ModelArgument.Description("Embedding model"), Required = true };
        var images = new Option<string>("--images") { Description = "Gallery folder (its sub-folder names become labels).", Required = true };
        var output = new Option<string>("--out") { Description = "Index directory to create or update (atomic).", Required = true };
        var recursive = new Option<bool>("--recursive") { Description = "Include sub-folders.", DefaultValueFactory = _ => true };
        var threads = new Option<int>("--threads") { Description = "Decoding threads (ONNX Runtime uses 1 intra-op thread).", DefaultValueFactory = _ => 2 };
        var m = new Option<int>("--m") { Description = "HNSW links per node.", DefaultValueFactory = _ => HnswOptions.Defaults.M };
        var efConstruction = new Option<int>("--ef-construction") { Description = "HNSW build beam width.", DefaultValueFactory = _ => HnswOptions.Defaults.EfConstruction };
        var json = new Option<bool>("--json") { Description = "Print one JSON object last." };

        var command = new Command("index", "Index a folder of images with an embedding model and save the index.")
        {
            model, images, output, recursive, threads, m, efConstruction, json,
        };
        command.SetAction(parse => CliOutput.Run(() =>
        {
            var options = new ImageSearchIndexOptions
            {
                M = parse.GetValue(m),
                EfConstruction = parse.GetValue(efConstruction),
                IndexingThreads = Math.Max(1, parse.GetValue(threads)),
                Embedder = SearchSession.EmbedderOptions(parse.GetValue(threads)),
            };
            string modelPath = ModelArgument.Resolve(parse.GetValue(model)!);
            string outDir = parse.GetValue(output)!;
            using var index = ImageSearchIndex.Create(modelPath, parse.GetValue(images)!, options, ConsoleLogger.Instance);
            AnsiConsole.MarkupLineInterpolated($"Model {ModelArgument.DisplayName(parse.GetValue(model)!)}: {index.ModelMetadata.Architecture}, {index.Dimension}-d {index.ModelMetadata.Metric}, running on {index.ExecutionProvider}.");
            IndexingReport report = SearchConsole.WithProgress("Indexing", progress => index.AddFolder(null, parse.GetValue(recursive), progress));
            SearchConsole.PrintReport(report);
            index.Save(outDir);
            AnsiConsole.MarkupLineInterpolated($"Saved {index.Count} images to [green]{outDir}[/].");
            if (parse.GetValue(json))
            {
                CliOutput.WriteJson(new IndexJson(Path.GetFullPath(outDir), index.Count, report.Added, report.Replaced, report.Skipped.Count, report.IgnoredFiles,
                    report.Elapsed.TotalSeconds, report.ImagesPerSecond, index.ExecutionProvider.ToString()), CliJsonContext.Default.IndexJson);
            }
            return 0;
        }));
        return command;
    }

    /// <summary><c>--json</c> of <c>imgret index</c>.</summary>
    internal sealed record IndexJson(string Index, int Count, int Added, int Replaced, int Skipped, int IgnoredFiles, double Seconds,
        double ImagesPerSecond, string ExecutionProvider);
}
