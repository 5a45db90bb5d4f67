namespace ImageRetrieval.Training.Networks;

/// <summary>
/// Everything needed to rebuild an embedding network: architecture name, input shape, embedding
/// size and the per-channel normalisation baked into the network's first layer.
/// </summary>
/// <param name="Architecture">One of <see cref="NetworkFactory.Architectures"/>.</param>
/// <param name="Channels">Input channels: 1 (grey) or 3 (RGB).</param>
/// <param name="Height">Input height in pixels.</param>
/// <param name="Width">Input width in pixels.</param>
/// <param name="EmbeddingDimension">
/// Length of the trained head's L2-normalised output: the network's output unless <see cref="EmbeddingLayers"/> names layers.
/// </param>
/// <param name="Mean">Per-channel mean of 0–255 pixel values, subtracted inside the network.</param>
/// <param name="Std">Per-channel standard deviation of 0–255 pixel values, divided inside the network.</param>
public sealed record NetworkSpec(
    string Architecture,
    int Channels,
    int Height,
    int Width,
    int EmbeddingDimension,
    float[] Mean,
    float[] Std)
{
    /// <summary>
    /// Layers of the network's features (by name, e.g. <c>pool2</c> of the classic network) whose outputs, flattened,
    /// each L2-normalised and concatenated (scaled by 1/√count, so the whole is a unit vector), are the network's output —
    /// the embedding used for retrieval and exported to ONNX — instead of the head. The losses still train the head's
    /// output, which then acts as a projection head (as in SimCLR: features below the loss transfer better to classes never
    /// seen in training). Null or empty: the head's output is the embedding.
    /// </summary>
    public string[]? EmbeddingLayers { get; init; }

    /// <summary>Whether <see cref="EmbeddingLayers"/> replaces the head's output as the embedding.</summary>
    internal bool EmbedsLayers => EmbeddingLayers is { Length: > 0 };

    /// <summary>A spec with the given mean/std repeated for every channel.</summary>
    public static NetworkSpec Create(string architecture, int channels, int height, int width, int embeddingDimension, float mean = 0f, float std = 255f) =>
        new(architecture, channels, height, width, embeddingDimension,
            Enumerable.Repeat(mean, channels).ToArray(), Enumerable.Repeat(std, channels).ToArray());

    /// <summary>Checks the values are consistent.</summary>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public void Validate()
    {
        if (!NetworkFactory.Architectures.Contains(Architecture))
        {
            throw new ArgumentException($"Unknown architecture '{Architecture}'; expected one of: {string.Join(", ", NetworkFactory.Architectures)}.", nameof(Architecture));
        }
        if (Channels is not (1 or 3))
        {
            throw new ArgumentException($"Channels must be 1 or 3, got {Channels}.", nameof(Channels));
        }
        if (Height < 8 || Width < 8)
        {
            throw new ArgumentException($"Input must be at least 8x8 pixels, got {Height}x{Width}.", nameof(Height));
        }
        if (EmbeddingDimension < 2)
        {
            throw new ArgumentException($"Embedding dimension must be at least 2, got {EmbeddingDimension}.", nameof(EmbeddingDimension));
        }
        if (Mean.Length != Channels || Std.Length != Channels || Std.Any(s => !(s > 0)))
        {
            throw new ArgumentException($"Mean and Std need {Channels} values each, Std positive.", nameof(Std));
        }
        if (EmbeddingLayers is { } layers && (layers.Any(string.IsNullOrWhiteSpace) || layers.Distinct(StringComparer.Ordinal).Count() != layers.Length))
        {
            throw new ArgumentException($"Embedding layers must be distinct non-empty names, got '{string.Join(",", layers)}'.", nameof(EmbeddingLayers));
        }
    }
}
