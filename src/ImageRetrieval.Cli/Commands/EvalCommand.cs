using System.Text.Json.Serialization;
using System.CommandLine;
using ImageRetrieval.Cli.Output;
using ImageRetrieval.Cli.Services;
using ImageRetrieval.Datasets.Evaluation;
using ImageRetrieval.ML.Imaging;
using ImageRetrieval.ML.Indexing;
using ImageRetrieval.Training.Networks;
using Spectre.Console;

namespace ImageRetrieval.Cli.Commands;

/// <summary><c>imgret eval</c>: retrieval metrics (P@1, Recall@1/5/10, MAP@R) of an embedding model by exact search, and through HNSW for ONNX models.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string?>("--checkpoint") { Description = "Training checkpoint to evaluate (TorchSharp)." };
        var model = new Option<string?>("--model") { Description = ModelArgument.Description("ONNX model to evaluate (ONNX Runtime; also evaluates HNSW search)") };
        var efSearch = new Option<int>("--ef-search") { Description = "HNSW beam width for the HNSW section (raised to each query's R).", DefaultValueFactory = _ => HnswOptions.Defaults.EfSearch };
        var m = new Option<int>("--m") { Description = "HNSW links per node for the HNSW section.", DefaultValueFactory = _ => HnswOptions.Defaults.M };
        var noHnsw = new Option<bool>("--no-hnsw") { Description = "Exact search only." };
        var pretrainedFeatures = new Option<bool>("--pretrained-features") { Description = $"Evaluate ImageNet ResNet-18 features without any training through TorchSharp at any --size (the 512 pooled features of {ResNet18Weights.PackageId} {ResNet18Weights.PackageVersion}, L2-normalised; RGB). At 224 px, --model imagenet-resnet18 runs them through ONNX Runtime, several times faster." };
        var rawPixels = new Option<bool>("--raw-pixels") { Description = "Evaluate the raw-pixel baseline: 0–255 pixels at --channels x --size x --size, Euclidean distance." };
        var size = new Option<int>("--size") { Description = "Input side for --pretrained-features and --raw-pixels.", DefaultValueFactory = _ => 64 };
        var channels = new Option<int>("--channels") { Description = "Channels for --raw-pixels: 1 (grey) or 3 (RGB).", DefaultValueFactory = _ => 3 };
        channels.AcceptOnlyFromAmong("1", "3");
        var dataset = new Option<string>("--dataset")
        {
            Description = "fashion-mnist: the 10,000 test images as queries against the 60,000 training images as gallery. "
                + "oxford102: the test split (tstid, 6,149 images) as queries against the train split (trnid, 1,020 images) as gallery, decoded at the model's input size. "
                + "folder: --queries against --gallery (implied by --gallery).",
            DefaultValueFactory = _ => DatasetSelection.FashionMnistName,
        };
        dataset.AcceptOnlyFromAmong([.. DatasetSelection.Names]);
        var data = new Option<string?>("--data") { Description = DatasetSelection.DataDescription };
        var gallery = new Option<string?>("--gallery") { Description = "Gallery image folder (one sub-folder per class); replaces --dataset." };
        var queries = new Option<string?>("--queries") { Description = "Query image folder labelled like the gallery; with --gallery." };
        var resize = new Option<ImageResizeMode>("--resize") { Description = "How folder images are fitted to the model's input.", DefaultValueFactory = _ => ImageResizeMode.IsoCrop };
        var galleryLimit = new Option<int>("--gallery-limit") { Description = "Use only the first N gallery images.", DefaultValueFactory = _ => int.MaxValue };
        var queryLimit = new Option<int>("--query-limit") { Description = "Use only the first N queries.", DefaultValueFactory = _ => int.MaxValue };
        var threads = new Option<int>("--threads") { Description = "Threads for libtorch and the search (0: all cores).", DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json") { Description = "Print the result as one JSON line." };

        var command = new Command("eval", "Measure retrieval quality of an embedding model (checkpoint, ONNX, ImageNet ResNet-18 features or raw pixels): P@1, Recall@1/5/10 and MAP@R by exact search, and with an HNSW index for ONNX models.")
        {
            checkpoint, model, pretrainedFeatures, rawPixels, size, channels, dataset, data, gallery, queries, resize, galleryLimit, queryLimit, threads, efSearch, m, noHnsw, json,
        };
        command.SetAction(parse => CliOutput.Run(() =>
        {
            int threadCount = parse.GetValue(threads);
            string? checkpointPath = parse.GetValue(checkpoint), modelPath = parse.GetValue(model);
            bool imageNet = parse.GetValue(pretrainedFeatures), raw = parse.GetValue(rawPixels);
            if ((checkpointPath is null ? 0 : 1) + (modelPath is null ? 0 : 1) + (imageNet ? 1 : 0) + (raw ? 1 : 0) != 1)
            {
                throw new ArgumentException("Pass exactly one of --checkpoint (a training checkpoint), --model (an ONNX model), --pretrained-features (ImageNet ResNet-18, no training) or --raw-pixels.");
            }
            if (checkpointPath is not null || imageNet)
            {
                ImageRetrieval.Training.Runtime.TorchRuntime.SetThreads(threadCount);
            }
            using IEmbeddingSource source = checkpointPath is not null ? new CheckpointEmbeddingSource(checkpointPath)
                : modelPath is not null ? new OnnxEmbeddingSource(ModelArgument.Resolve(modelPath), threadCount > 0 ? threadCount : 1)
                : imageNet ? CheckpointEmbeddingSource.ImageNetFeatures(parse.GetValue(size))
                : new RawPixelSource(parse.GetValue(channels), parse.GetValue(size));
            SelectedSets sets = DatasetSelection.ForEvaluation(parse.GetValue(dataset)!, parse.GetValue(data), parse.GetValue(gallery), parse.GetValue(queries),
                source.InputShape, parse.GetValue(resize), parse.GetValue(galleryLimit), parse.GetValue(queryLimit), threadCount);
            bool quiet = parse.GetValue(json);
            CliOutput.ReportSkipped(sets.Skipped);
            HnswOptions? hnsw = modelPath is not null && !parse.GetValue(noHnsw) ? new HnswOptions { M = parse.GetValue(m) } : null;
            EvaluationReport report = EvaluationRunner.Run(source, sets.Second!, sets.First, hnsw, parse.GetValue(efSearch), threadCount, quiet);
            if (quiet)
            {
                CliOutput.WriteJson(Json(source, sets, report), CliJsonContext.Default.EvalJson);
            }
            else
            {
                Print(source, sets, report);
            }
            return 0;
        }));
        return command;
    }

    private static EvalJson Json(IEmbeddingSource source, SelectedSets sets, EvaluationReport report)
    {
        var (gallery, queries, exact, hnsw) = (sets.First, sets.Second!, report.Exact, report.Hnsw);
        return new EvalJson(source.Description, queries.Name, gallery.Name, exact.QueryCount, gallery.Count, sets.Skipped.Count,
            exact.PrecisionAt1, exact.RecallAt1, exact.RecallAt5, exact.RecallAt10, exact.MapAtR,
            report.EmbedSeconds, (queries.Count + gallery.Count) / Math.Max(1e-9, report.EmbedSeconds), report.SearchSeconds,
            new ExactJson(exact.PrecisionAt1, exact.RecallAt1, exact.RecallAt5, exact.RecallAt10, exact.MapAtR, report.SearchSeconds),
            hnsw is null ? null : new HnswJson(hnsw.Metrics.PrecisionAt1, hnsw.Metrics.RecallAt1, hnsw.Metrics.RecallAt5, hnsw.Metrics.RecallAt10,
                hnsw.Metrics.MapAtR, hnsw.M, hnsw.EfSearch, hnsw.BuildSeconds, hnsw.SearchSeconds));
    }

    /// <summary><c>--json</c> of <c>imgret eval</c>: the exact-search metrics at the top level (as before HNSW was added), then both.</summary>
    internal sealed record EvalJson(string Model, string Queries, string Gallery, int QueryCount, int GalleryCount, int SkippedFiles,
        [property: JsonPropertyName("p_at_1")] double PAt1, [property: JsonPropertyName("recall_at_1")] double RecallAt1,
        [property: JsonPropertyName("recall_at_5")] double RecallAt5, [property: JsonPropertyName("recall_at_10")] double RecallAt10, double MapAtR,
        double EmbedSeconds, double EmbedImagesPerSecond, double SearchSeconds, ExactJson Exact, HnswJson? Hnsw);

    /// <summary>Exact-search metrics.</summary>
    internal sealed record ExactJson([property: JsonPropertyName("p_at_1")] double PAt1, [property: JsonPropertyName("recall_at_1")] double RecallAt1,
        [property: JsonPropertyName("recall_at_5")] double RecallAt5, [property: JsonPropertyName("recall_at_10")] double RecallAt10, double MapAtR, double SearchSeconds);

    /// <summary>HNSW metrics and parameters.</summary>
    internal sealed record HnswJson([property: JsonPropertyName("p_at_1")] double PAt1, [property: JsonPropertyName("recall_at_1")] double RecallAt1,
        [property: JsonPropertyName("recall_at_5")] double RecallAt5, [property: JsonPropertyName("recall_at_10")] double RecallAt10, double MapAtR, int M, int EfSearch, double BuildSeconds, double SearchSeconds);

    private static void Print(IEmbeddingSource source, SelectedSets sets, EvaluationReport report)
    {
        RetrievalMetricsResult exact = report.Exact;
        AnsiConsole.MarkupLineInterpolated($"[bold]{source.Description}[/]: {exact.QueryCount} queries ({sets.Second!.Name}) against {sets.First.Count} gallery images ({sets.First.Name}).");
        var table = new Table().AddColumns("search", "P@1", "Recall@1", "Recall@5", "Recall@10", "MAP@R");
        table.AddRow("exact", $"{exact.PrecisionAt1:F4}", $"{exact.RecallAt1:F4}", $"{exact.RecallAt5:F4}", $"{exact.RecallAt10:F4}", $"{exact.MapAtR:F4}");
        if (report.Hnsw is { } hnsw)
        {
            var r = hnsw.Metrics;
            table.AddRow($"HNSW (M={hnsw.M}, ef={hnsw.EfSearch})", $"{r.PrecisionAt1:F4}", $"{r.RecallAt1:F4}", $"{r.RecallAt5:F4}", $"{r.RecallAt10:F4}", $"{r.MapAtR:F4}");
        }
        AnsiConsole.Write(table);
        string hnswTiming = report.Hnsw is { } h ? $", HNSW build {h.BuildSeconds:F1} s + search {h.SearchSeconds:F1} s." : ".";
        AnsiConsole.MarkupLineInterpolated($"Embedding {report.EmbedSeconds:F1} s, exact search {report.SearchSeconds:F1} s{hnswTiming}");
    }
}
