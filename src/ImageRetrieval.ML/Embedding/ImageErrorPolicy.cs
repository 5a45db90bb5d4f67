using ImageRetrieval.ML.Imaging;

namespace ImageRetrieval.ML.Embedding;

/// <summary>What the embedding paths do with an image that cannot be used (missing, empty, not an image, truncated, too large).</summary>
public enum ImageErrorPolicy
{
    /// <summary>Stop and throw an <see cref="ImageDecodeException"/> naming the image (the default).</summary>
    Throw,

    /// <summary>Skip the image and report it: <see cref="ImageEmbeddingResult.Errors"/> for the <see cref="ImageEmbedder"/>, dropped rows and <see cref="BatchedImageEmbeddingTransformer.SkippedImages"/> for the ML.NET transformer.</summary>
    Skip,
}

/// <summary>One image that could not be embedded.</summary>
/// <param name="Index">Position of the image in the input list (or the input row, for the ML.NET transformer).</param>
/// <param name="Source">The file path, or the name given to the in-memory image.</param>
/// <param name="Reason">What was wrong, without the name.</param>
/// <param name="Exception">The decoding error.</param>
public sealed record ImageEmbeddingError(long Index, string Source, string Reason, ImageDecodeException Exception)
{
    /// <inheritdoc />
    public override string ToString() => $"#{Index} '{Source}': {Reason}";
}

/// <summary>Progress of a batch embedding run, reported after each batch.</summary>
/// <param name="Completed">Images processed so far (embedded or failed).</param>
/// <param name="Total">Images in the run.</param>
/// <param name="Failed">Images that failed so far (only under <see cref="ImageErrorPolicy.Skip"/>).</param>
public readonly record struct ImageEmbeddingProgress(int Completed, int Total, int Failed);
