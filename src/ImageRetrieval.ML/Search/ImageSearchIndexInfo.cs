namespace ImageRetrieval.ML.Search;

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
