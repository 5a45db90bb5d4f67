using System.Diagnostics;
using ImageRetrieval.ML.Indexing;

namespace ImageRetrieval.Datasets.Evaluation;

/// <summary>Retrieval quality of an HNSW index over a gallery, with its build and search times.</summary>
/// <param name="Metrics">P@1, Recall@K and MAP@R computed from the HNSW neighbour lists.</param>
/// <param name="M">HNSW links per node.</param>
/// <param name="EfConstruction">HNSW build beam width.</param>
/// <param name="EfSearch">The requested search beam width (each query uses at least its R).</param>
/// <param name="BuildSeconds">Wall time to insert the gallery.</param>
/// <param name="SearchSeconds">Wall time to search every query.</param>
public sealed record HnswEvaluationResult(RetrievalMetricsResult Metrics, int M, int EfConstruction, int EfSearch, double BuildSeconds, double SearchSeconds);

/// <summary>
/// Evaluates HNSW search the way <see cref="RetrievalMetrics.Compute"/> evaluates exact search: the gallery embeddings go
/// into an <see cref="HnswIndex"/>, each query asks for its R nearest (R = gallery items of its label, at least the largest
/// recall K) with ef = max(efSearch, R), and the metrics are computed from those neighbour lists, so MAP@R of HNSW and of
/// exact search compare directly.
/// </summary>
public static class HnswEvaluation
{
    /// <summary>Builds the index over <paramref name="gallery"/> and scores <paramref name="queries"/> against it.</summary>
    /// <param name="queries">Query vectors, row after row (<c>queryLabels.Length × dimension</c>).</param>
    /// <param name="queryLabels">One label per query.</param>
    /// <param name="gallery">Gallery vectors, row after row (<c>galleryLabels.Length × dimension</c>).</param>
    /// <param name="galleryLabels">One label per gallery item.</param>
    /// <param name="dimension">Vector length.</param>
    /// <param name="metric">The index's distance.</param>
    /// <param name="options">HNSW construction parameters; <see cref="HnswOptions"/> defaults when null.</param>
    /// <param name="efSearch">Search beam width (raised to each query's R).</param>
    /// <param name="maxDegreeOfParallelism">Threads for building and searching: a positive count, or -1 for every core.</param>
    /// <exception cref="ArgumentException">Lengths disagree.</exception>
    public static HnswEvaluationResult Evaluate(
        ReadOnlyMemory<float> queries,
        ReadOnlySpan<int> queryLabels,
        ReadOnlyMemory<float> gallery,
        ReadOnlySpan<int> galleryLabels,
        int dimension,
        DistanceMetric metric,
        HnswOptions? options = null,
        int efSearch = HnswOptions.Defaults.EfSearch,
        int maxDegreeOfParallelism = -1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(efSearch, 1);
        ImageSetLoader.RequireParallelism(maxDegreeOfParallelism);
        if (queries.Length != (long)queryLabels.Length * dimension || gallery.Length != (long)galleryLabels.Length * dimension)
        {
            throw new ArgumentException($"Expected {queryLabels.Length} query and {galleryLabels.Length} gallery vectors of {dimension} values; got {queries.Length} and {gallery.Length} values.");
        }
        options ??= new HnswOptions();
        int threads = maxDegreeOfParallelism == -1 ? Environment.ProcessorCount : maxDegreeOfParallelism;

        var watch = Stopwatch.StartNew();
        using var index = new HnswIndex(dimension, metric, options);
        var items = new (long Key, ReadOnlyMemory<float> Vector)[galleryLabels.Length];
        for (int i = 0; i < items.Length; i++)
        {
            items[i] = (i, gallery.Slice(i * dimension, dimension));
        }
        index.AddRange(items, threads);
        double build = watch.Elapsed.TotalSeconds;

        watch.Restart();
        int[] relevant = RetrievalMetrics.RelevantCounts(queryLabels, galleryLabels);
        int minimumK = RetrievalMetrics.RecallKs.Max();
        int[] labels = galleryLabels.ToArray();
        var lists = new int[queryLabels.Length][];
        Parallel.For(0, lists.Length, new ParallelOptions { MaxDegreeOfParallelism = threads }, i =>
        {
            int k = Math.Max(minimumK, relevant[i]);
            SearchHit[] hits = index.Search(queries.Span.Slice(i * dimension, dimension), k, Math.Max(efSearch, k));
            lists[i] = hits.Select(h => labels[h.Key]).ToArray();
        });
        double search = watch.Elapsed.TotalSeconds;
        RetrievalMetricsResult metrics = RetrievalMetrics.ComputeFromNeighbours(lists, queryLabels, relevant);
        return new HnswEvaluationResult(metrics, options.M, options.EfConstruction, efSearch, build, search);
    }
}
