namespace ImageRetrieval.ML.Imaging;

/// <summary>Target geometry and safety limits for <see cref="ImageDecoder"/>.</summary>
public sealed record ImageDecodeOptions
{
    /// <summary>Defaults shared by the options and the catalog methods.</summary>
    public static class Defaults
    {
        /// <summary>Largest decoded image, in pixels (width × height): 64 megapixels (256 MB of pixels).</summary>
        public const long MaxPixels = 64L * 1024 * 1024;

        /// <summary>Largest accepted declared size, in pixels: 512 megapixels (e.g. 16,000 × 32,000), decoded at reduced scale.</summary>
        public const long MaxSourcePixels = 512L * 1024 * 1024;

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

    /// <summary>
    /// The memory budget: the largest image decoded, in pixels. An image declaring more is decoded at reduced scale where the
    /// format allows it without holding the full image (JPEG and WebP scaled decoding; non-interlaced PNG, BMP and GIF row by
    /// row, averaging blocks of pixels), and refused before decoding otherwise.
    /// </summary>
    public long MaxPixels { get; init; } = Defaults.MaxPixels;

    /// <summary>
    /// Images declaring more pixels than this are refused before decoding, whatever their format: a few-KB PNG can declare
    /// 50,000 × 50,000, and reading that many pixels, even at reduced scale, takes time.
    /// </summary>
    public long MaxSourcePixels { get; init; } = Defaults.MaxSourcePixels;

    /// <summary>
    /// Turn the image as its EXIF orientation tag (1–8) says before fitting it, as photo viewers do. ML.NET's <c>LoadImages</c>
    /// ignores the tag; set false to see the stored pixels as it does.
    /// </summary>
    public bool ApplyExifOrientation { get; init; } = true;

    /// <summary>
    /// When the output is much smaller than the image, decode JPEG (libjpeg's DCT scaling to 1/2, 1/4 or 1/8) and WebP at a
    /// reduced scale that still leaves at least twice the output size to resample from: a 12-megapixel photo is not decoded
    /// in full to become 224 × 224. Costs a small pixel difference (docs/photos.md); set false for ML.NET's full decode.
    /// </summary>
    public bool ReducedScaleDecoding { get; init; } = true;

    /// <summary>
    /// What transparent and translucent pixels are composited onto before the alpha channel is dropped: white by default.
    /// ML.NET's chain leaves premultiplied colours, which is compositing onto <see cref="RgbColor.Black"/>.
    /// </summary>
    public RgbColor Background { get; init; } = RgbColor.White;

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
        if (MaxPixels < 1 || MaxSourcePixels < 1 || MaxEncodedBytes < 1)
        {
            throw new ArgumentException("MaxPixels, MaxSourcePixels and MaxEncodedBytes must be positive.");
        }
    }
}
