using System.Diagnostics;
using ImageRetrieval.Datasets;
using ImageRetrieval.Datasets.Evaluation;
using ImageRetrieval.ML.Indexing;
using Spectre.Console;

namespace ImageRetrieval.Cli.Services;

/// <summary>What <c>imgret eval</c> measured.</summary>
/// <param name="Exact">Metrics by exact search.</param>
/// <param name="Hnsw">Metrics through an HNSW index, when asked for.</param>
/// <param name="EmbedSeconds">Wall time to embed queries and gallery.</param>
/// <param name="SearchSeconds">Wall time of the exact search.</param>
internal sealed record EvaluationReport(RetrievalMetricsResult Exact, HnswEvaluationResult? Hnsw, double EmbedSeconds, double SearchSeconds);

/// <summary>
/// <c>imgret eval</c>'s measurement: embed the queries and the gallery with an <see cref="IEmbeddingSource"/> (under a
/// progress display unless quiet), score them by exact search (<see cref="RetrievalMetrics"/>) and, when asked, through an
/// HNSW index built over the gallery embeddings (<see cref="HnswEvaluation"/>).
/// </summary>
internal static class EvaluationRunner
{
    public static EvaluationReport Run(IEmbeddingSource source, LabeledImageSet queries, LabeledImageSet gallery, HnswOptions? hnsw, int efSearch, int threads, bool quiet)
    {
        var watch = Stopwatch.StartNew();
        (float[] q, float[] g) = Embed(source, queries, gallery, quiet);
        double embedSeconds = watch.Elapsed.TotalSeconds;
        watch.Restart();
        int parallelism = DatasetSelection.Parallelism(threads);
        var exact = RetrievalMetrics.Compute(q, queries.Labels, g, gallery.Labels, source.Dimension, source.Metric, maxDegreeOfParallelism: parallelism);
        double searchSeconds = watch.Elapsed.TotalSeconds;
        HnswEvaluationResult? approximate = hnsw is null
            ? null
            : HnswEvaluation.Evaluate(q, queries.Labels, g, gallery.Labels, source.Dimension, source.Metric, hnsw, efSearch, Math.Max(1, threads));
        return new EvaluationReport(exact, approximate, embedSeconds, searchSeconds);
    }

    private static (float[] Queries, float[] Gallery) Embed(IEmbeddingSource source, LabeledImageSet queries, LabeledImageSet gallery, bool quiet)
    {
        if (quiet || !AnsiConsole.Profile.Capabilities.Interactive)
        {
            return (source.Embed(queries, null), source.Embed(gallery, null));
        }
        float[] q = [], g = [];
        AnsiConsole.Progress().Start(context =>
        {
            var queryTask = context.AddTask($"Embedding {queries.Count} queries", maxValue: queries.Count);
            var galleryTask = context.AddTask($"Embedding {gallery.Count} gallery images", maxValue: gallery.Count);
            q = source.Embed(queries, new Output.SynchronousProgress<int>(n => queryTask.Value = n));
            queryTask.Value = queries.Count;
            g = source.Embed(gallery, new Output.SynchronousProgress<int>(n => galleryTask.Value = n));
            galleryTask.Value = gallery.Count;
        });
        return (q, g);
    }
}
