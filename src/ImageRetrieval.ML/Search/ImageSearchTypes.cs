using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Indexing;

namespace ImageRetrieval.ML.Search;

/// <summary>An image in an <see cref="ImageSearchIndex"/>.</summary>
/// <param name="Key">The index's key for the image (stable across saves).</param>
/// <param name="Path">The image's path relative to the gallery root, with '/' separators.</param>
/// <param name="Label">An optional label (by default the name of the image's folder).</param>
/// <param name="Metadata">Optional user metadata.</param>
public sealed record IndexedImage(long Key, string Path, string? Label, IReadOnlyDictionary<string, string>? Metadata = null);

/// <summary>One search result, nearest first.</summary>
/// <param name="Key">The image's key.</param>
/// <param name="Path">The image's path relative to the gallery root.</param>
/// <param name="Label">The image's label, if any.</param>
/// <param name="Distance">Distance to the query in the model's metric (cosine distance or squared L2).</param>
/// <param name="Metadata">The image's user metadata, if any.</param>
public sealed record ImageSearchResult(long Key, string Path, string? Label, float Distance, IReadOnlyDictionary<string, string>? Metadata);

/// <summary>An image that was not indexed, and why.</summary>
/// <param name="Path">The file (or in-memory name).</param>
/// <param name="Reason">Why it was left out.</param>
public sealed record SkippedImage(string Path, string Reason);

/// <summary>Progress of an indexing run.</summary>
/// <param name="Completed">Images processed so far.</param>
/// <param name="Total">Images to process.</param>
/// <param name="Skipped">Images left out so far.</param>
public readonly record struct IndexingProgress(int Completed, int Total, int Skipped);

/// <summary>What an indexing call did.</summary>
/// <param name="Added">New images indexed.</param>
/// <param name="Replaced">Images whose path was already indexed and were re-embedded in place (same key).</param>
/// <param name="Skipped">Images left out, each with its reason (undecodable, too large, symbolic-link directories, ...).</param>
/// <param name="IgnoredFiles">Files ignored because their extension is not an image type.</param>
/// <param name="Elapsed">Wall time.</param>
public sealed record IndexingReport(int Added, int Replaced, IReadOnlyList<SkippedImage> Skipped, int IgnoredFiles, TimeSpan Elapsed)
{
    /// <summary>Images indexed per second, end to end (decode, embed, insert).</summary>
    public double ImagesPerSecond => Elapsed.TotalSeconds > 0 ? (Added + Replaced) / Elapsed.TotalSeconds : 0;
}

/// <summary>Options of an <see cref="ImageSearchIndex"/>.</summary>
public sealed record ImageSearchIndexOptions
{
    /// <summary>Defaults reused by the CLI.</summary>
    public static class Defaults
    {
        /// <summary>HNSW links per node on upper layers (2·M on layer 0).</summary>
        public const int M = 16;

        /// <summary>HNSW beam width while building.</summary>
        public const int EfConstruction = 200;

        /// <summary>HNSW beam width while searching, when a call does not say.</summary>
        public const int EfSearch = 64;

        /// <summary>Threads inserting into the graph.</summary>
        public const int IndexingThreads = 1;
    }

    /// <summary>HNSW links per node.</summary>
    public int M { get; init; } = Defaults.M;

    /// <summary>HNSW beam width while building.</summary>
    public int EfConstruction { get; init; } = Defaults.EfConstruction;

    /// <summary>HNSW beam width while searching, when a call does not say.</summary>
    public int EfSearch { get; init; } = Defaults.EfSearch;

    /// <summary>Seed of the HNSW level generator (single-threaded builds are deterministic).</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Threads inserting into the graph (decoding parallelism is set in <see cref="Embedder"/>).</summary>
    public int IndexingThreads { get; init; } = Defaults.IndexingThreads;

    /// <summary>Embedder options (batch size, threads, GPU); errors are always collected per image while indexing.</summary>
    public ImageEmbedderOptions Embedder { get; init; } = new();

    internal HnswOptions ToHnsw() => new() { M = M, EfConstruction = EfConstruction, DefaultEfSearch = EfSearch, Seed = Seed };
}

/// <summary>What a saved index holds (from its manifest).</summary>
/// <param name="Count">Indexed images.</param>
/// <param name="Dimension">Embedding dimension.</param>
/// <param name="Metric">The model's metric (cosine or l2).</param>
/// <param name="M">HNSW links per node.</param>
/// <param name="EfConstruction">HNSW build beam width.</param>
/// <param name="ModelFileName">The model's file name when the index was saved.</param>
/// <param name="ModelPath">The model's absolute path when the index was saved (a hint for opening it).</param>
/// <param name="ModelSha256">The model's SHA-256.</param>
/// <param name="ModelMetadata">The model's imageretrieval.* metadata.</param>
/// <param name="GalleryRoot">The gallery root when the index was saved.</param>
/// <param name="Version">The live version folder.</param>
/// <param name="FormatVersion">The index format version.</param>
/// <param name="SavedUtc">When the version was saved.</param>
/// <param name="SizeOnDiskBytes">Bytes of the live version's files.</param>
public sealed record ImageSearchIndexInfo(
    int Count, int Dimension, string Metric, int M, int EfConstruction,
    string? ModelFileName, string? ModelPath, string ModelSha256, IReadOnlyDictionary<string, string> ModelMetadata,
    string? GalleryRoot, string Version, int FormatVersion, DateTime SavedUtc, long SizeOnDiskBytes);
