using System.CommandLine;
using System.Diagnostics;
using ImageRetrieval.ML.Datasets;
using ImageRetrieval.ML.Evaluation;
using ImageRetrieval.ML.Imaging;
using Spectre.Console;

namespace ImageRetrieval.Cli.Commands;

/// <summary><c>imgret eval</c>: retrieval metrics (P@1, Recall@1/5/10, MAP@R) of an embedding model by exact search.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "Training checkpoint to evaluate.", Required = true };
        var dataset = new Option<string>("--dataset") { Description = "fashion-mnist: test images as queries against the training images as gallery.", DefaultValueFactory = _ => "fashion-mnist" };
        dataset.AcceptOnlyFromAmong("fashion-mnist");
        var data = new Option<string?>("--data") { Description = $"Fashion-MNIST folder (default: ${FashionMnist.DataEnvironmentVariable}, then {FashionMnist.DebianDirectory})." };
        var gallery = new Option<string?>("--gallery") { Description = "Gallery image folder (one sub-folder per class); replaces --dataset." };
        var queries = new Option<string?>("--queries") { Description = "Query image folder labelled like the gallery; with --gallery." };
        var resize = new Option<ImageResizeMode>("--resize") { Description = "How folder images are fitted to the model's input.", DefaultValueFactory = _ => ImageResizeMode.IsoCrop };
        var galleryLimit = new Option<int>("--gallery-limit") { Description = "Use only the first N gallery images.", DefaultValueFactory = _ => int.MaxValue };
        var queryLimit = new Option<int>("--query-limit") { Description = "Use only the first N queries.", DefaultValueFactory = _ => int.MaxValue };
        var threads = new Option<int>("--threads") { Description = "Threads for libtorch and the search (0: all cores).", DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json") { Description = "Print the result as one JSON line." };

        var command = new Command("eval", "Measure retrieval quality of an embedding model: P@1, Recall@1/5/10 and MAP@R by exact search.")
        {
            checkpoint, dataset, data, gallery, queries, resize, galleryLimit, queryLimit, threads, json,
        };
        command.SetAction(parse => CliOutput.Run(() =>
        {
            int threadCount = parse.GetValue(threads);
            if (threadCount > 0)
            {
                TorchSharp.torch.set_num_threads(threadCount);
            }
            using IEmbeddingSource source = new CheckpointEmbeddingSource(parse.GetValue(checkpoint)!);
            var (gallerySet, querySet, skipped) = LoadSets(
                source, parse.GetValue(gallery), parse.GetValue(queries), parse.GetValue(data), parse.GetValue(resize));
            gallerySet = gallerySet.Take(parse.GetValue(galleryLimit));
            querySet = querySet.Take(parse.GetValue(queryLimit));
            bool quiet = parse.GetValue(json);
            var result = Evaluate(source, querySet, gallerySet, threadCount, quiet, out double embedSeconds, out double searchSeconds);

            if (quiet)
            {
                CliOutput.WriteJson(new
                {
                    model = source.Description,
                    queries = querySet.Name,
                    gallery = gallerySet.Name,
                    query_count = result.QueryCount,
                    gallery_count = gallerySet.Count,
                    skipped_files = skipped,
                    precision_at_1 = result.PrecisionAt1,
                    recall_at_1 = result.RecallAt1,
                    recall_at_5 = result.RecallAt5,
                    recall_at_10 = result.RecallAt10,
                    map_at_r = result.MapAtR,
                    embed_seconds = embedSeconds,
                    search_seconds = searchSeconds,
                });
            }
            else
            {
                AnsiConsole.MarkupLineInterpolated($"[bold]{source.Description}[/]: {result.QueryCount} queries ({querySet.Name}) against {gallerySet.Count} gallery images ({gallerySet.Name}).");
                var table = new Table().AddColumns("P@1", "Recall@1", "Recall@5", "Recall@10", "MAP@R");
                table.AddRow($"{result.PrecisionAt1:F4}", $"{result.RecallAt1:F4}", $"{result.RecallAt5:F4}", $"{result.RecallAt10:F4}", $"{result.MapAtR:F4}");
                AnsiConsole.Write(table);
                AnsiConsole.MarkupLineInterpolated($"Embedding {embedSeconds:F1} s, exact search {searchSeconds:F1} s.");
            }
            return 0;
        }));
        return command;
    }

    internal static RetrievalMetricsResult Evaluate(IEmbeddingSource source, LabeledImageSet queries, LabeledImageSet gallery, int threads, bool quiet, out double embedSeconds, out double searchSeconds)
    {
        var watch = Stopwatch.StartNew();
        float[] q = null!, g = null!;
        void Embed(Action<IProgress<int>?, IProgress<int>?> body)
        {
            if (quiet)
            {
                body(null, null);
                return;
            }
            AnsiConsole.Progress().Start(context =>
            {
                var qTask = context.AddTask($"Embedding {queries.Count} queries", maxValue: queries.Count);
                var gTask = context.AddTask($"Embedding {gallery.Count} gallery images", maxValue: gallery.Count);
                body(new Progress<int>(n => qTask.Value = n), new Progress<int>(n => gTask.Value = n));
                qTask.Value = queries.Count;
                gTask.Value = gallery.Count;
            });
        }
        Embed((qp, gp) =>
        {
            q = source.Embed(queries, qp);
            g = source.Embed(gallery, gp);
        });
        embedSeconds = watch.Elapsed.TotalSeconds;
        watch.Restart();
        var distance = source.Metric == "cosine" ? RetrievalDistance.Cosine : RetrievalDistance.Euclidean;
        var result = RetrievalMetrics.Compute(q, queries.Labels, g, gallery.Labels, source.Dimension, distance, maxDegreeOfParallelism: threads > 0 ? threads : -1);
        searchSeconds = watch.Elapsed.TotalSeconds;
        return result;
    }

    private static (LabeledImageSet Gallery, LabeledImageSet Queries, int Skipped) LoadSets(
        IEmbeddingSource source, string? galleryDir, string? queryDir, string? data, ImageResizeMode resize)
    {
        if (galleryDir is null && queryDir is null)
        {
            var (c, h, w) = source.InputShape;
            if (c != 1 || h != FashionMnist.ImageSide || w != FashionMnist.ImageSide)
            {
                throw new ArgumentException($"The model expects {c}x{h}x{w} images; Fashion-MNIST is 1x28x28. Pass --gallery and --queries folders instead.");
            }
            return (FashionMnist.Load(FashionMnist.Split.Train, data), FashionMnist.Load(FashionMnist.Split.Test, data), 0);
        }
        if (galleryDir is null || queryDir is null)
        {
            throw new ArgumentException("--gallery and --queries go together.");
        }
        var (channels, height, width) = source.InputShape;
        var options = new ImageDecodeOptions { Width = width, Height = height, Channels = channels, ResizeMode = resize };
        var (galleryResult, queryResult) = ImageFolderDataset.LoadSplits(galleryDir, queryDir, options);
        var skipped = galleryResult.Skipped.Concat(queryResult!.Skipped).ToList();
        foreach (var failure in skipped.Take(10))
        {
            AnsiConsole.MarkupLineInterpolated($"[yellow]skipped:[/] {failure.Message}");
        }
        if (skipped.Count > 0)
        {
            AnsiConsole.MarkupLineInterpolated($"[yellow]{skipped.Count} undecodable file(s) left out.[/]");
        }
        return (galleryResult.Images, queryResult.Images, skipped.Count);
    }
}
