using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Indexing;

namespace ImageRetrieval.ML.Search;

/// <summary>Options of an <see cref="ImageSearchIndex"/>.</summary>
public sealed record ImageSearchIndexOptions
{
    private static readonly HnswOptions HnswDefaults = new();

    /// <summary>Defaults of the options that are not HNSW parameters (those are <see cref="HnswOptions.Defaults"/>).</summary>
    public static class Defaults
    {
        /// <summary>Threads inserting into the graph.</summary>
        public const int IndexingThreads = 1;
    }

    /// <summary>HNSW links per node (<see cref="HnswOptions.M"/>).</summary>
    public int M { get; init; } = HnswOptions.Defaults.M;

    /// <summary>HNSW beam width while building (<see cref="HnswOptions.EfConstruction"/>).</summary>
    public int EfConstruction { get; init; } = HnswOptions.Defaults.EfConstruction;

    /// <summary>HNSW beam width while searching, when a call does not say (<see cref="HnswOptions.DefaultEfSearch"/>).</summary>
    public int EfSearch { get; init; } = HnswOptions.Defaults.EfSearch;

    /// <summary>Seed of the HNSW level generator (single-threaded builds are deterministic; <see cref="HnswOptions.Seed"/>).</summary>
    public int Seed { get; init; } = HnswDefaults.Seed;

    /// <summary>Threads inserting into the graph (decoding parallelism is set in <see cref="Embedder"/>).</summary>
    public int IndexingThreads { get; init; } = Defaults.IndexingThreads;

    /// <summary>Embedder options (batch size, threads, GPU); errors are always collected per image while indexing.</summary>
    public ImageEmbedderOptions Embedder { get; init; } = new();

    internal HnswOptions ToHnsw() => new() { M = M, EfConstruction = EfConstruction, DefaultEfSearch = EfSearch, Seed = Seed };
}
