using ImageRetrieval.ML.Indexing;
using System.CommandLine;
using System.Diagnostics;
using ImageRetrieval.ML.Datasets;
using ImageRetrieval.ML.Evaluation;
using ImageRetrieval.ML.Imaging;
using ImageRetrieval.Training.Networks;
using Spectre.Console;

namespace ImageRetrieval.Cli.Commands;

/// <summary><c>imgret eval</c>: retrieval metrics (P@1, Recall@1/5/10, MAP@R) of an embedding model by exact search.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string?>("--checkpoint") { Description = "Training checkpoint to evaluate (TorchSharp)." };
        var model = new Option<string?>("--model") { Description = "ONNX model to evaluate (ONNX Runtime); also evaluates HNSW search." };
        var efSearch = new Option<int>("--ef-search") { Description = "HNSW beam width for the HNSW section (raised to each query's R).", DefaultValueFactory = _ => 64 };
        var m = new Option<int>("--m") { Description = "HNSW links per node for the HNSW section.", DefaultValueFactory = _ => 16 };
        var noHnsw = new Option<bool>("--no-hnsw") { Description = "Exact search only." };
        var pretrainedFeatures = new Option<bool>("--pretrained-features") { Description = $"Evaluate ImageNet ResNet-18 features without any training (the 512 pooled features of {ResNet18Weights.PackageId} {ResNet18Weights.PackageVersion}, L2-normalised; RGB at --size)." };
        var rawPixels = new Option<bool>("--raw-pixels") { Description = "Evaluate the raw-pixel baseline: 0–255 pixels at --channels x --size x --size, Euclidean distance." };
        var size = new Option<int>("--size") { Description = "Input side for --pretrained-features and --raw-pixels.", DefaultValueFactory = _ => 64 };
        var channels = new Option<int>("--channels") { Description = "Channels for --raw-pixels: 1 (grey) or 3 (RGB).", DefaultValueFactory = _ => 3 };
        channels.AcceptOnlyFromAmong("1", "3");
        var dataset = new Option<string>("--dataset")
        {
            Description = "fashion-mnist: the 10,000 test images as queries against the 60,000 training images as gallery. "
                + "oxford102: the test split (tstid, 6,149 images) as queries against the train split (trnid, 1,020 images) as gallery, decoded at the model's input size. "
                + "folder: --queries against --gallery (implied by --gallery).",
            DefaultValueFactory = _ => "fashion-mnist",
        };
        dataset.AcceptOnlyFromAmong("fashion-mnist", "oxford102", "folder");
        var data = new Option<string?>("--data") { Description = $"Fashion-MNIST folder (default: ${FashionMnist.DataEnvironmentVariable}, then {FashionMnist.DebianDirectory}), or with --dataset oxford102 the Oxford 102 Flowers folder (jpg/, imagelabels.mat, setid.mat; default: ${FashionMnist.DataEnvironmentVariable})." };
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
            string? checkpointPath = parse.GetValue(checkpoint);
            string? modelPath = parse.GetValue(model);
            bool imageNet = parse.GetValue(pretrainedFeatures);
            bool raw = parse.GetValue(rawPixels);
            if ((checkpointPath is null ? 0 : 1) + (modelPath is null ? 0 : 1) + (imageNet ? 1 : 0) + (raw ? 1 : 0) != 1)
            {
                throw new ArgumentException("Pass exactly one of --checkpoint (a training checkpoint), --model (an ONNX model), --pretrained-features (ImageNet ResNet-18, no training) or --raw-pixels.");
            }
            if (checkpointPath is not null || imageNet)
            {
                ImageRetrieval.Training.Runtime.TorchRuntime.SetThreads(threadCount);
            }
            using IEmbeddingSource source = checkpointPath is not null ? new CheckpointEmbeddingSource(checkpointPath)
                : modelPath is not null ? new OnnxEmbeddingSource(modelPath, threadCount > 0 ? threadCount : 1)
                : imageNet ? CheckpointEmbeddingSource.ImageNetFeatures(parse.GetValue(size))
                : new RawPixelSource(parse.GetValue(channels), parse.GetValue(size));
            var (gallerySet, querySet, skipped) = LoadSets(
                source, parse.GetValue(dataset)!, parse.GetValue(gallery), parse.GetValue(queries), parse.GetValue(data), parse.GetValue(resize),
                parse.GetValue(galleryLimit), parse.GetValue(queryLimit), threadCount);
            gallerySet = gallerySet.Take(parse.GetValue(galleryLimit));
            querySet = querySet.Take(parse.GetValue(queryLimit));
            bool quiet = parse.GetValue(json);
            var result = Evaluate(source, querySet, gallerySet, threadCount, quiet, out double embedSeconds, out double searchSeconds, out float[] q, out float[] g);
            HnswEvaluation? hnsw = modelPath is not null && !parse.GetValue(noHnsw)
                ? EvaluateHnsw(source, q, querySet, g, gallerySet, parse.GetValue(m), parse.GetValue(efSearch), threadCount)
                : null;

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
                    p_at_1 = result.PrecisionAt1,
                    recall_at_1 = result.RecallAt1,
                    recall_at_5 = result.RecallAt5,
                    recall_at_10 = result.RecallAt10,
                    map_at_r = result.MapAtR,
                    embed_seconds = embedSeconds,
                    embed_images_per_second = (querySet.Count + gallerySet.Count) / Math.Max(1e-9, embedSeconds),
                    search_seconds = searchSeconds,
                    exact = Section(result, searchSeconds),
                    hnsw = hnsw is null ? null : new
                    {
                        p_at_1 = hnsw.Result.PrecisionAt1,
                        recall_at_1 = hnsw.Result.RecallAt1,
                        recall_at_5 = hnsw.Result.RecallAt5,
                        recall_at_10 = hnsw.Result.RecallAt10,
                        map_at_r = hnsw.Result.MapAtR,
                        m = hnsw.M,
                        ef_search = hnsw.EfSearch,
                        build_seconds = hnsw.BuildSeconds,
                        search_seconds = hnsw.SearchSeconds,
                    },
                });
            }
            else
            {
                AnsiConsole.MarkupLineInterpolated($"[bold]{source.Description}[/]: {result.QueryCount} queries ({querySet.Name}) against {gallerySet.Count} gallery images ({gallerySet.Name}).");
                var table = new Table().AddColumns("search", "P@1", "Recall@1", "Recall@5", "Recall@10", "MAP@R");
                table.AddRow("exact", $"{result.PrecisionAt1:F4}", $"{result.RecallAt1:F4}", $"{result.RecallAt5:F4}", $"{result.RecallAt10:F4}", $"{result.MapAtR:F4}");
                if (hnsw is not null)
                {
                    var r = hnsw.Result;
                    table.AddRow($"HNSW (M={hnsw.M}, ef={hnsw.EfSearch})", $"{r.PrecisionAt1:F4}", $"{r.RecallAt1:F4}", $"{r.RecallAt5:F4}", $"{r.RecallAt10:F4}", $"{r.MapAtR:F4}");
                }
                AnsiConsole.Write(table);
                string hnswTiming = hnsw is null ? "." : $", HNSW build {hnsw.BuildSeconds:F1} s + search {hnsw.SearchSeconds:F1} s.";
                AnsiConsole.MarkupLineInterpolated($"Embedding {embedSeconds:F1} s, exact search {searchSeconds:F1} s{hnswTiming}");
            }
            return 0;
        }));
        return command;
    }

    private static object Section(RetrievalMetricsResult r, double seconds) => new
    {
        p_at_1 = r.PrecisionAt1,
        recall_at_1 = r.RecallAt1,
        recall_at_5 = r.RecallAt5,
        recall_at_10 = r.RecallAt10,
        map_at_r = r.MapAtR,
        search_seconds = seconds,
    };

    private sealed record HnswEvaluation(RetrievalMetricsResult Result, int M, int EfSearch, double BuildSeconds, double SearchSeconds);

    /// <summary>
    /// Builds an HNSW index over the gallery embeddings and evaluates its neighbour lists: each query
    /// asks for its R nearest (R = gallery items of its class, at least 10) with ef = max(efSearch, R),
    /// so MAP@R is computed from HNSW results exactly as from exact search.
    /// </summary>
    private static HnswEvaluation EvaluateHnsw(IEmbeddingSource source, float[] q, LabeledImageSet queries, float[] g, LabeledImageSet gallery, int m, int efSearch, int threads)
    {
        int dim = source.Dimension;
        var metric = source.Metric == "cosine" ? DistanceMetric.Cosine : DistanceMetric.SquaredL2;
        var watch = Stopwatch.StartNew();
        using var index = new HnswIndex(dim, metric, new HnswOptions { M = m, EfConstruction = 200 });
        var items = new (long Key, ReadOnlyMemory<float> Vector)[gallery.Count];
        for (int i = 0; i < items.Length; i++)
        {
            items[i] = (i, g.AsMemory(i * dim, dim));
        }
        index.AddRange(items, Math.Max(1, threads));
        double build = watch.Elapsed.TotalSeconds;
        watch.Restart();
        int[] relevant = RetrievalMetrics.RelevantCounts(queries.Labels, gallery.Labels);
        var lists = new int[queries.Count][];
        var galleryLabels = gallery.Labels.ToArray();
        Parallel.For(0, queries.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) }, i =>
        {
            int k = Math.Max(10, relevant[i]);
            SearchHit[] hits = index.Search(q.AsSpan(i * dim, dim), k, Math.Max(efSearch, k));
            lists[i] = hits.Select(h => galleryLabels[h.Key]).ToArray();
        });
        double search = watch.Elapsed.TotalSeconds;
        var result = RetrievalMetrics.ComputeFromNeighbours(lists, queries.Labels, relevant);
        return new HnswEvaluation(result, m, efSearch, build, search);
    }

    internal static RetrievalMetricsResult Evaluate(IEmbeddingSource source, LabeledImageSet queries, LabeledImageSet gallery, int threads, bool quiet, out double embedSeconds, out double searchSeconds, out float[] queryEmbeddings, out float[] galleryEmbeddings)
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
        queryEmbeddings = q;
        galleryEmbeddings = g;
        return result;
    }

    private static (LabeledImageSet Gallery, LabeledImageSet Queries, int Skipped) LoadSets(
        IEmbeddingSource source, string dataset, string? galleryDir, string? queryDir, string? data, ImageResizeMode resize,
        int galleryLimit, int queryLimit, int threads)
    {
        if (dataset == "oxford102" && galleryDir is null && queryDir is null)
        {
            return LoadOxford102(source, data, resize, galleryLimit, queryLimit, threads);
        }
        if (dataset == "folder" && (galleryDir is null || queryDir is null))
        {
            throw new ArgumentException("--dataset folder needs --gallery DIR and --queries DIR (one sub-folder per class each).");
        }
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
        var skipped = galleryResult.Skipped.Concat(queryResult!.Skipped).Select(f => f.Message).ToList();
        CliOutput.ReportSkipped(skipped);
        return (galleryResult.Images, queryResult.Images, skipped.Count);
    }

    // Oxford 102 Flowers' evaluation protocol: the test split (tstid) as queries against the train split (trnid)
    // as gallery, every photo fitted to the model's square input.
    private static (LabeledImageSet Gallery, LabeledImageSet Queries, int Skipped) LoadOxford102(
        IEmbeddingSource source, string? data, ImageResizeMode resize, int galleryLimit, int queryLimit, int threads)
    {
        var (channels, height, width) = source.InputShape;
        if (height != width)
        {
            throw new ArgumentException($"The model expects {height}x{width} images; Oxford 102 photos are fitted to a square. Use a model with a square input.");
        }
        string directory = Oxford102Flowers.ResolveDirectory(data);
        int decodeThreads = Math.Max(0, threads);
        Oxford102Set galleryResult = Oxford102Flowers.Load(directory, Oxford102Split.Train, height, channels, resize, maxItems: galleryLimit, maxDegreeOfParallelism: decodeThreads);
        Oxford102Set queryResult = Oxford102Flowers.Load(directory, Oxford102Split.Test, height, channels, resize, maxItems: queryLimit, maxDegreeOfParallelism: decodeThreads);
        var skipped = galleryResult.Skipped.Concat(queryResult.Skipped).Select(s => $"{s.Path}: {s.Reason}").ToList();
        CliOutput.ReportSkipped(skipped);
        return (galleryResult.Images, queryResult.Images, skipped.Count);
    }
}
