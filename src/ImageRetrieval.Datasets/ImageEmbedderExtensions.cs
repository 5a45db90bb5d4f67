using ImageRetrieval.ML.Embedding;

namespace ImageRetrieval.Datasets;

/// <summary>Embedding a <see cref="LabeledImageSet"/> with the runtime package's <see cref="ImageEmbedder"/>.</summary>
public static class ImageEmbedderExtensions
{
    /// <summary>
    /// Embeds every image of an in-memory set (e.g. <see cref="FashionMnist"/>), whose geometry must equal the
    /// model's; pixels 0–255 are multiplied by the model's pixel scale. No decoding or resizing happens.
    /// </summary>
    /// <param name="embedder">The embedder.</param>
    /// <param name="set">The images.</param>
    /// <param name="progress">Reported after each batch.</param>
    /// <param name="cancellationToken">Stops between batches.</param>
    /// <returns><c>set.Count</c> × <see cref="ImageEmbedder.Dimension"/> values, row after row.</returns>
    /// <exception cref="ArgumentException">The set's channels or size differ from the model's.</exception>
    public static float[] EmbedImageSet(this ImageEmbedder embedder, LabeledImageSet set, IProgress<ImageEmbeddingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(embedder);
        ArgumentNullException.ThrowIfNull(set);
        var model = embedder.Metadata;
        if (set.Channels != model.InputChannels || set.Height != model.InputHeight || set.Width != model.InputWidth)
        {
            throw new ArgumentException(
                $"'{set.Name}' holds {set.Channels}x{set.Height}x{set.Width} images; the model takes {model.InputChannels}x{model.InputHeight}x{model.InputWidth}.", nameof(set));
        }
        return embedder.EmbedPixels(set.Pixels, set.Count, progress, cancellationToken);
    }
}
