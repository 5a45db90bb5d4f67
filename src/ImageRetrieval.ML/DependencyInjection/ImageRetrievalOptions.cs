using ImageRetrieval.ML.Search;

namespace ImageRetrieval.ML;

/// <summary>
/// Settings of <c>services.AddImageRetrieval(...)</c>, bound from configuration (by default the <c>ImageRetrieval</c>
/// section: <c>ModelPath</c>, <c>IndexDirectory</c>, <c>GalleryRoot</c>, <c>Index:EfSearch</c>, <c>Index:Embedder:BatchSize</c>, ...).
/// </summary>
public sealed class ImageRetrievalOptions
{
    /// <summary>The configuration section <c>AddImageRetrieval(IConfiguration)</c> binds by default.</summary>
    public const string SectionName = "ImageRetrieval";

    /// <summary>The ImageRetrieval ONNX embedding model (required).</summary>
    public string? ModelPath { get; set; }

    /// <summary>
    /// The saved index: opened when it holds one, otherwise the index is created empty (and saved here by
    /// <see cref="ImageSearchIndex.SaveAsync(string, CancellationToken)"/>). Null for an index that is never opened from disk.
    /// </summary>
    public string? IndexDirectory { get; set; }

    /// <summary>The folder image paths are relative to: required to create an index; overrides the saved root when opening.</summary>
    public string? GalleryRoot { get; set; }

    /// <summary>HNSW, threading and embedder settings (<see cref="ImageSearchIndexOptions.Embedder"/> also configures <c>AddImageEmbeddingGenerator()</c>).</summary>
    public ImageSearchIndexOptions Index { get; set; } = new();
}
