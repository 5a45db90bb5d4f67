namespace ImageRetrieval.ML.Imaging;

/// <summary>Target geometry and safety limits for <see cref="ImageDecoder"/>.</summary>
public sealed record ImageDecodeOptions
{
    /// <summary>Defaults shared by the options and the catalog methods.</summary>
    public static class Defaults
    {
        /// <summary>Largest accepted image, in decoded pixels (width × height): 64 megapixels.</summary>
        public const long MaxPixels = 64L * 1024 * 1024;

        /// <summary>Largest accepted encoded file: 256 MiB.</summary>
        public const long MaxEncodedBytes = 256L * 1024 * 1024;
    }

    /// <summary>Output width in pixels.</summary>
    public required int Width { get; init; }

    /// <summary>Output height in pixels.</summary>
    public required int Height { get; init; }

    /// <summary>Output channels: 1 (grey, ML.NET's <c>ConvertToGrayscale</c> weights) or 3 (R, G, B planes).</summary>
    public required int Channels { get; init; }

    /// <summary>How the image is fitted to <see cref="Width"/> × <see cref="Height"/>.</summary>
    public ImageResizeMode ResizeMode { get; init; } = ImageResizeMode.IsoCrop;

    /// <summary>Images declaring more pixels than this are refused before decoding (a few-KB PNG can declare 50,000 × 50,000).</summary>
    public long MaxPixels { get; init; } = Defaults.MaxPixels;

    /// <summary>Encoded inputs larger than this are refused before reading.</summary>
    public long MaxEncodedBytes { get; init; } = Defaults.MaxEncodedBytes;

    /// <summary>Bytes (or floats) per decoded image: <c>Channels × Height × Width</c>.</summary>
    public int OutputLength => Channels * Height * Width;

    /// <summary>Checks the values.</summary>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public void Validate()
    {
        if (Width is < 1 or > 8192 || Height is < 1 or > 8192)
        {
            throw new ArgumentException($"Output size {Width}x{Height} is outside 1..8192.");
        }
        if (Channels is not (1 or 3))
        {
            throw new ArgumentException($"Channels must be 1 or 3, got {Channels}.");
        }
        if (MaxPixels < 1 || MaxEncodedBytes < 1)
        {
            throw new ArgumentException("MaxPixels and MaxEncodedBytes must be positive.");
        }
    }
}
