namespace ImageRetrieval.ML.Imaging;

/// <summary>An opaque colour, 0–255 per channel (the background transparent images are composited onto).</summary>
/// <param name="R">Red.</param>
/// <param name="G">Green.</param>
/// <param name="B">Blue.</param>
public readonly record struct RgbColor(byte R, byte G, byte B)
{
    /// <summary>White (255, 255, 255): the decoder's default background.</summary>
    public static RgbColor White { get; } = new(255, 255, 255);

    /// <summary>Black (0, 0, 0): what ML.NET's chain effectively composites onto (premultiplied colours).</summary>
    public static RgbColor Black { get; } = new(0, 0, 0);

    /// <inheritdoc />
    public override string ToString() => $"#{R:X2}{G:X2}{B:X2}";
}
