using ImageRetrieval.ML.Indexing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.VectorData;

namespace ImageRetrieval.ML.VectorStores;

/// <summary>Options of an <see cref="HnswVectorStore"/>: where collections live, how they are indexed and saved.</summary>
public sealed class HnswVectorStoreOptions
{
    /// <summary>Defaults of the options that are not HNSW parameters.</summary>
    public static class Defaults
    {
        /// <summary>
        /// Estimated matching records at or below which a filtered search scans the matching records exactly instead of
        /// walking the graph (see docs/vectordata.md, "Filtered search", for the measurement that chose it).
        /// </summary>
        public const int ExactFilteredSearchThreshold = 5000;
    }

    /// <summary>
    /// The folder holding one sub-folder per collection (each a crash-safe index directory: immutable versions and a
    /// <c>CURRENT</c> pointer). Null keeps collections in memory only.
    /// </summary>
    public string? Directory { get; set; }

    /// <summary>HNSW parameters of new collections' graphs (M, efConstruction, default efSearch, seed).</summary>
    public HnswOptions Hnsw { get; set; } = new();

    /// <summary>
    /// Save a new version after every upsert or delete call, before it returns (the default: an acknowledged write
    /// survives a crash). Off, writes stay in memory until <see cref="HnswCollection{TKey, TRecord}.SaveAsync"/> or
    /// <see cref="HnswVectorStore.SaveAllAsync"/>; faster for bulk loads, since every save rewrites the collection.
    /// </summary>
    public bool SaveOnEveryWrite { get; set; } = true;

    /// <summary>See <see cref="Defaults.ExactFilteredSearchThreshold"/>; 0 always walks the graph.</summary>
    public int ExactFilteredSearchThreshold { get; set; } = Defaults.ExactFilteredSearchThreshold;

    /// <summary>Threads inserting one upsert batch into the graph.</summary>
    public int IndexingThreads { get; set; } = 1;

    /// <summary>The embedding generator for vector properties that do not configure their own (e.g. an image generator for <c>DataContent</c> properties).</summary>
    public IEmbeddingGenerator? EmbeddingGenerator { get; set; }

    /// <summary>Receives saves and warnings; none when null.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }
}

/// <summary>Options of one collection: its record definition and embedding generator (over the store's).</summary>
public sealed class HnswCollectionOptions : VectorStoreCollectionOptions
{
}
