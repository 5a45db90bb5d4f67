using System.Buffers;
using System.Numerics.Tensors;
using SkiaSharp;

namespace ImageRetrieval.ML.Imaging;

/// <summary>
/// Decodes PNG, JPEG (RGB, grey, CMYK), BMP, GIF (first frame) and WebP images (through SkiaSharp) into planar pixels of a
/// fixed size, safely and as photographs need: the declared size is checked before any pixel memory is allocated
/// (<see cref="ImageDecodeOptions.MaxSourcePixels"/>); images larger than the memory budget
/// (<see cref="ImageDecodeOptions.MaxPixels"/>) are decoded at reduced scale where the format allows it and refused
/// otherwise; EXIF orientation is applied; large JPEG and WebP photos are decoded at reduced scale when the output is
/// small; transparency is composited onto <see cref="ImageDecodeOptions.Background"/>. Every failure is an
/// <see cref="ImageDecodeException"/> naming the input, including formats SkiaSharp does not read (HEIC, AVIF, TIFF, ...).
/// </summary>
/// <remarks>
/// Decoding, resizing and grey conversion use the same SkiaSharp calls as ML.NET's
/// <c>LoadImages → ResizeImages → ConvertToGrayscale → ExtractPixels</c>, so for images without EXIF orientation or
/// transparency and not large enough for reduced-scale decoding both produce the same pixels; with
/// <c>ApplyExifOrientation = false</c>, <c>ReducedScaleDecoding = false</c> and a black background they always do.
/// Thread-safe: every call is independent.
/// </remarks>
public static class ImageDecoder
{
    // ML.NET's ConvertToGrayscale colour matrix.
    private static readonly SKColorFilter GreyFilter = SKColorFilter.CreateColorMatrix(
    [
        0.3f, 0.59f, 0.11f, 0, 0,
        0.3f, 0.59f, 0.11f, 0, 0,
        0.3f, 0.59f, 0.11f, 0, 0,
        0, 0, 0, 1, 0,
    ]);

    /// <summary>
    /// File extensions treated as images (case-insensitive): what <c>ImageSearchIndex.AddFolder</c>, image-folder
    /// datasets and query folders read; other files are ignored. Besides the decodable formats this includes HEIC, HEIF,
    /// AVIF and TIFF, so that such photos are reported one by one with the reason they cannot be used instead of being
    /// silently passed over.
    /// </summary>
    public static IReadOnlySet<string> FileExtensions { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".heic", ".heif", ".avif", ".tif", ".tiff",
    };

    // Decoded images keep at least this many pixels per output pixel (per axis) when decoded at reduced scale, so the
    // resampling to the output size still averages over several source pixels (settable for the photo-decode benchmark,
    // which measures the choice: docs/benchmarks.md).
    internal static double ReducedScaleOversampling { get; set; } = 2;

    /// <summary>Decodes an image file into planar bytes (<c>C × H × W</c>, values 0–255).</summary>
    /// <exception cref="ImageDecodeException">The file is missing, unreadable, not an image, or too large.</exception>
    public static void DecodeFile(string path, ImageDecodeOptions options, Span<byte> destination)
    {
        using var bitmap = DecodeAndFit(ReadFile(path, options), options, path);
        CopyPlanes(bitmap, options, destination, path);
    }

    /// <summary>Decodes an image file into planar floats (<c>pixel × scale</c>).</summary>
    /// <exception cref="ImageDecodeException">The file is missing, unreadable, not an image, or too large.</exception>
    public static void DecodeFile(string path, ImageDecodeOptions options, Span<float> destination, float scale = 1f)
    {
        using var bitmap = DecodeAndFit(ReadFile(path, options), options, path);
        CopyPlanes(bitmap, options, destination, scale, path);
    }

    /// <summary>Decodes encoded image bytes into planar bytes.</summary>
    /// <param name="encoded">The encoded image (PNG, JPEG, ...).</param>
    /// <param name="options">Target geometry and limits.</param>
    /// <param name="destination">At least <see cref="ImageDecodeOptions.OutputLength"/> bytes.</param>
    /// <param name="source">A name for error messages (a path, or e.g. "upload #3").</param>
    /// <exception cref="ImageDecodeException">The bytes are not a decodable image, or too large.</exception>
    public static void Decode(ReadOnlySpan<byte> encoded, ImageDecodeOptions options, Span<byte> destination, string source = "<memory>")
    {
        using var bitmap = DecodeAndFit(CheckLength(encoded, options, source), options, source);
        CopyPlanes(bitmap, options, destination, source);
    }

    /// <summary>Decodes encoded image bytes into planar floats (<c>pixel × scale</c>).</summary>
    /// <exception cref="ImageDecodeException">The bytes are not a decodable image, or too large.</exception>
    public static void Decode(ReadOnlySpan<byte> encoded, ImageDecodeOptions options, Span<float> destination, float scale = 1f, string source = "<memory>")
    {
        using var bitmap = DecodeAndFit(CheckLength(encoded, options, source), options, source);
        CopyPlanes(bitmap, options, destination, scale, source);
    }

    /// <summary>Reads a stream to its end (bounded by <see cref="ImageDecodeOptions.MaxEncodedBytes"/>) and decodes it into planar floats.</summary>
    /// <exception cref="ImageDecodeException">The stream is not a decodable image, or too large.</exception>
    public static void Decode(Stream encoded, ImageDecodeOptions options, Span<float> destination, float scale = 1f, string source = "<stream>")
    {
        ArgumentNullException.ThrowIfNull(encoded);
        Decode(ReadBounded(encoded, options, source), options, destination, scale, source);
    }

    /// <summary>Reads the declared size of an image without decoding its pixels.</summary>
    /// <exception cref="ImageDecodeException">The bytes are not a recognisable image.</exception>
    public static (int Width, int Height) ReadSize(ReadOnlySpan<byte> encoded, string source = "<memory>")
    {
        using var data = SKData.CreateCopy(encoded);
        using var codec = CreateCodec(data, source);
        return (codec.Info.Width, codec.Info.Height);
    }

    internal static byte[] ReadFile(string path, ImageDecodeOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            if (Directory.Exists(path))
            {
                throw new ImageDecodeException(path, "it is a directory, not a file");
            }
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            if (stream.Length > options.MaxEncodedBytes)
            {
                throw new ImageDecodeException(path, $"the file has {stream.Length} bytes, more than the {options.MaxEncodedBytes}-byte limit");
            }
            var bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            return bytes;
        }
        catch (Exception e) when ((e is IOException or UnauthorizedAccessException) && e is not ImageDecodeException)
        {
            throw new ImageDecodeException(path, e is FileNotFoundException or DirectoryNotFoundException ? "the file does not exist" : e.Message, e);
        }
    }

    internal static byte[] ReadBounded(Stream stream, ImageDecodeOptions options, string source)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int n;
        while ((n = stream.Read(chunk)) > 0)
        {
            if (buffer.Length + n > options.MaxEncodedBytes)
            {
                throw new ImageDecodeException(source, $"the stream exceeds the {options.MaxEncodedBytes}-byte limit");
            }
            buffer.Write(chunk, 0, n);
        }
        return buffer.ToArray();
    }

    private static ReadOnlySpan<byte> CheckLength(ReadOnlySpan<byte> encoded, ImageDecodeOptions options, string source)
    {
        if (encoded.Length > options.MaxEncodedBytes)
        {
            throw new ImageDecodeException(source, $"{encoded.Length} bytes, more than the {options.MaxEncodedBytes}-byte limit");
        }
        return encoded;
    }

    private static SKCodec CreateCodec(SKData data, string source)
    {
        if (data.Size == 0)
        {
            throw new ImageDecodeException(source, "it is empty (0 bytes)");
        }
        var codec = SKCodec.Create(data);
        if (codec is null)
        {
            throw new ImageDecodeException(source, UnsupportedFormat(data.AsSpan()) is { } format
                ? $"it is a {format} image, which this decoder does not read (it reads PNG, JPEG, BMP, GIF and WebP); convert it to JPEG or PNG"
                : "not a recognisable PNG, JPEG, BMP, GIF or WebP image (unknown format or corrupt header)");
        }
        return codec;
    }

    // Image formats recognised by their first bytes that SkiaSharp's Linux build cannot decode, for a clear message.
    private static string? UnsupportedFormat(ReadOnlySpan<byte> header)
    {
        if (header.Length >= 12 && header.Slice(4, 4).SequenceEqual("ftyp"u8))
        {
            string brand = System.Text.Encoding.ASCII.GetString(header.Slice(8, 4));
            return brand switch
            {
                "avif" or "avis" => "AVIF",
                "heic" or "heix" or "hevc" or "hevx" or "heim" or "heis" or "hevm" or "hevs" => "HEIC",
                "mif1" or "msf1" => "HEIF",
                _ => null,
            };
        }
        if (header.StartsWith("II*\0"u8) || header.StartsWith("MM\0*"u8))
        {
            return "TIFF";
        }
        if (header.StartsWith((ReadOnlySpan<byte>)[0xFF, 0x0A]) || header.StartsWith("\0\0\0\x0CJXL "u8))
        {
            return "JPEG XL";
        }
        if (header.StartsWith("8BPS"u8))
        {
            return "Photoshop (PSD)";
        }
        if (header.StartsWith("%PDF"u8))
        {
            return "PDF";
        }
        return null;
    }

    private static SKBitmap DecodeAndFit(ReadOnlySpan<byte> encoded, ImageDecodeOptions options, string source)
    {
        options.Validate();
        using var data = SKData.CreateCopy(encoded);
        using var codec = CreateCodec(data, source);
        SKImageInfo declared = codec.Info;
        if (declared.Width < 1 || declared.Height < 1)
        {
            throw new ImageDecodeException(source, $"it declares an empty size {declared.Width}x{declared.Height}");
        }
        if ((long)declared.Width * declared.Height > options.MaxSourcePixels)
        {
            throw new ImageDecodeException(source, $"it declares {declared.Width}x{declared.Height} pixels, more than the {options.MaxSourcePixels}-pixel limit");
        }

        if (codec.EncodedFormat == SKEncodedImageFormat.Gif)
        {
            CheckGifFirstFrame(encoded, declared, source);
        }

        SKEncodedOrigin origin = options.ApplyExifOrientation ? codec.EncodedOrigin : SKEncodedOrigin.TopLeft;
        bool transposed = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        SKBitmap bitmap = DecodePixels(codec, encoded, options, transposed, source);
        try
        {
            // MLImage keeps BGRA/RGBA and converts anything else to BGRA.
            if (bitmap.ColorType is not (SKColorType.Bgra8888 or SKColorType.Rgba8888))
            {
                Replace(ref bitmap, bitmap.Copy(SKColorType.Bgra8888)
                    ?? throw new ImageDecodeException(source, $"pixel format {bitmap.ColorType} cannot be converted to BGRA"));
            }
            if (declared.AlphaType != SKAlphaType.Opaque && options.Background != RgbColor.Black)
            {
                // Premultiplied colours are the image composited onto black; any other background is drawn under it.
                Replace(ref bitmap, Composite(bitmap, options.Background));
            }
            if (origin is not (SKEncodedOrigin.TopLeft or SKEncodedOrigin.Default))
            {
                Replace(ref bitmap, Orient(bitmap, origin));
            }
            Replace(ref bitmap, Resize(bitmap, options, source));
            if (options.Channels == 1)
            {
                Replace(ref bitmap, ToGrey(bitmap));
            }
            return bitmap;
        }
        catch
        {
            bitmap.Dispose();
            throw;
        }
    }

    private static void Replace(ref SKBitmap bitmap, SKBitmap next)
    {
        if (!ReferenceEquals(bitmap, next))
        {
            bitmap.Dispose();
            bitmap = next;
        }
    }

    /// <summary>
    /// The stored pixels at full size, or at a reduced size: when the output is small (JPEG, WebP scaled decoding) or the
    /// image exceeds the memory budget (scaled decoding, else rows averaged in blocks as they are decoded).
    /// </summary>
    private static SKBitmap DecodePixels(SKCodec codec, ReadOnlySpan<byte> encoded, ImageDecodeOptions options, bool transposed, string source)
    {
        SKImageInfo declared = codec.Info;
        SKSizeI size = PlanSize(codec, options, transposed, source, out int blocks);
        if (blocks > 1)
        {
            return DecodeSubsampled(codec, encoded, blocks, options, source);
        }

        // As SKBitmap.Decode(stream), which ML.NET's MLImage uses: premultiplied, no colour space.
        var info = declared.WithSize(size.Width, size.Height);
        if (info.AlphaType == SKAlphaType.Unpremul)
        {
            info.AlphaType = SKAlphaType.Premul;
        }
        info.ColorSpace = null;
        var decoded = new SKBitmap(info);
        SKCodecResult result = codec.GetPixels(info, decoded.GetPixels());
        if (result is not (SKCodecResult.Success or SKCodecResult.IncompleteInput) || (result == SKCodecResult.IncompleteInput && !AcceptsIncomplete))
        {
            decoded.Dispose();
            throw new ImageDecodeException(source, result == SKCodecResult.IncompleteInput
                ? "the data is truncated"
                : $"the pixel data cannot be decoded ({result})");
        }
        return decoded;
    }

    /// <summary>
    /// The size the stored pixels are decoded at: full, one of the codec's scaled sizes (JPEG, WebP), or full size divided
    /// into <paramref name="blocks"/> × <paramref name="blocks"/> blocks that are averaged row by row (other formats beyond the budget).
    /// </summary>
    private static SKSizeI PlanSize(SKCodec codec, ImageDecodeOptions options, bool transposed, string source, out int blocks)
    {
        SKImageInfo declared = codec.Info;
        long full = (long)declared.Width * declared.Height;
        bool scalable = codec.EncodedFormat is SKEncodedImageFormat.Jpeg or SKEncodedImageFormat.Webp;
        blocks = 1;
        if (scalable && (options.ReducedScaleDecoding || full > options.MaxPixels))
        {
            double needed = options.ReducedScaleDecoding ? NeededScale(declared, options, transposed) : 1.0;
            return ChooseScaledSize(codec, needed, options.MaxPixels)
                ?? throw new ImageDecodeException(source, $"it declares {declared.Width}x{declared.Height} pixels; even at 1/8 scale that is more than the {options.MaxPixels}-pixel limit");
        }
        if (full <= options.MaxPixels)
        {
            return declared.Size;
        }
        blocks = 2;
        while ((long)((declared.Width + blocks - 1) / blocks) * ((declared.Height + blocks - 1) / blocks) > options.MaxPixels)
        {
            blocks++;
        }
        return new SKSizeI((declared.Width + blocks - 1) / blocks, (declared.Height + blocks - 1) / blocks);
    }

    /// <summary>The size an image's stored pixels are decoded at under <paramref name="options"/> (before orientation and fitting): for tests and benchmarks.</summary>
    internal static (int Width, int Height) DecodedSize(ReadOnlySpan<byte> encoded, ImageDecodeOptions options, string source = "<memory>")
    {
        using var data = SKData.CreateCopy(encoded);
        using var codec = CreateCodec(data, source);
        SKEncodedOrigin origin = options.ApplyExifOrientation ? codec.EncodedOrigin : SKEncodedOrigin.TopLeft;
        bool transposed = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        SKSizeI size = PlanSize(codec, options, transposed, source, out _);
        return (size.Width, size.Height);
    }

    // The fraction of the stored size that still leaves ReducedScaleOversampling source pixels per output pixel after fitting.
    private static double NeededScale(SKImageInfo declared, ImageDecodeOptions options, bool transposed)
    {
        double width = transposed ? declared.Height : declared.Width, height = transposed ? declared.Width : declared.Height;
        double sx = options.Width / width, sy = options.Height / height;
        double fit = options.ResizeMode == ImageResizeMode.IsoPad ? Math.Min(sx, sy) : Math.Max(sx, sy);
        return Math.Min(1.0, fit * ReducedScaleOversampling);
    }

    // The smallest of the codec's eighths-of-full sizes that covers the needed scale, within the memory budget; else the
    // largest within the budget; null when even 1/8 is too large.
    private static SKSizeI? ChooseScaledSize(SKCodec codec, double needed, long maxPixels)
    {
        SKImageInfo declared = codec.Info;
        SKSizeI? best = null;
        for (int eighths = 1; eighths <= 8; eighths++)
        {
            SKSizeI size = eighths == 8 ? declared.Size : codec.GetScaledDimensions(eighths / 8f);
            if ((long)size.Width * size.Height > maxPixels)
            {
                break;
            }
            best = size;
            if (size.Width >= Math.Ceiling(declared.Width * needed) && size.Height >= Math.Ceiling(declared.Height * needed))
            {
                break;
            }
        }
        return best;
    }

    /// <summary>
    /// Decodes row by row and averages blocks of k × k pixels, so only a stored row or two and the reduced image are ever
    /// in memory: for PNG (<see cref="PngRowReader"/>; SkiaSharp reads whole PNGs only) and BMP (Skia's scanline decoder)
    /// images beyond the memory budget. Other formats, and interlaced PNGs, are refused.
    /// </summary>
    private static unsafe SKBitmap DecodeSubsampled(SKCodec codec, ReadOnlySpan<byte> encoded, int k, ImageDecodeOptions options, string source)
    {
        SKImageInfo declared = codec.Info;
        int width = declared.Width, height = declared.Height;
        string refusal = $"it declares {width}x{height} pixels, more than the {options.MaxPixels}-pixel limit, and";
        PngRowReader? png = null;
        if (codec.EncodedFormat == SKEncodedImageFormat.Png)
        {
            // Interlaced PNG rows arrive in seven passes: the whole image would have to be held to put them in order.
            png = PngRowReader.Open(encoded, source)
                ?? throw new ImageDecodeException(source, $"{refusal} an interlaced PNG cannot be decoded at reduced scale within that budget");
        }
        using PngRowReader? rows = png;
        bool opaque = png is null ? declared.AlphaType == SKAlphaType.Opaque : !png.HasAlpha;
        var rowInfo = new SKImageInfo(width, height, SKColorType.Bgra8888, opaque ? SKAlphaType.Opaque : SKAlphaType.Premul);
        if (png is null)
        {
            SKCodecResult start = codec.StartScanlineDecode(rowInfo);
            if (start != SKCodecResult.Success || codec.ScanlineOrder is not (SKCodecScanlineOrder.TopDown or SKCodecScanlineOrder.BottomUp))
            {
                throw new ImageDecodeException(source, $"{refusal} its {codec.EncodedFormat} data cannot be read row by row ({start}) to decode it at reduced scale");
            }
        }
        int outWidth = (width + k - 1) / k, outHeight = (height + k - 1) / k;
        var result = new SKBitmap(new SKImageInfo(outWidth, outHeight, SKColorType.Bgra8888, rowInfo.AlphaType));
        try
        {
            var row = new byte[width * 4];
            var sums = new long[outWidth * 4];
            int currentBlock = -1, rowsInBlock = 0;
            byte* target = (byte*)result.GetPixels();
            int targetStride = result.RowBytes;
            fixed (byte* rowPointer = row)
            {
                for (int y = 0; y < height; y++)
                {
                    int shown;
                    if (png is not null)
                    {
                        png.ReadRow(row);
                        shown = y;
                    }
                    else
                    {
                        if (codec.GetScanlines((IntPtr)rowPointer, 1, row.Length) != 1)
                        {
                            throw new ImageDecodeException(source, "the data is truncated");
                        }
                        shown = codec.GetOutputScanline(y);
                    }
                    if (shown / k != currentBlock)
                    {
                        Flush();
                        currentBlock = shown / k;
                    }
                    for (int x = 0; x < width; x++)
                    {
                        int o = x / k * 4, p = x * 4;
                        sums[o] += row[p];
                        sums[o + 1] += row[p + 1];
                        sums[o + 2] += row[p + 2];
                        sums[o + 3] += row[p + 3];
                    }
                    rowsInBlock++;
                }
                Flush();
            }
            return result;

            void Flush()
            {
                if (rowsInBlock == 0)
                {
                    return;
                }
                byte* line = target + ((long)currentBlock * targetStride);
                for (int bx = 0; bx < outWidth; bx++)
                {
                    long count = (long)Math.Min(k, width - (bx * k)) * rowsInBlock;
                    for (int c = 0; c < 4; c++)
                    {
                        line[(bx * 4) + c] = (byte)((sums[(bx * 4) + c] + (count / 2)) / count);
                    }
                }
                Array.Clear(sums);
                rowsInBlock = 0;
            }
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    // Premultiplied source over an opaque background: out = src + (1 − alpha) × background.
    private static SKBitmap Composite(SKBitmap image, RgbColor background)
    {
        var destination = new SKBitmap(new SKImageInfo(image.Width, image.Height, image.ColorType, SKAlphaType.Opaque));
        using var canvas = new SKCanvas(destination);
        canvas.Clear(new SKColor(background.R, background.G, background.B));
        canvas.DrawBitmap(image, 0f, 0f);
        return destination;
    }

    // EXIF orientation 2–8: stored pixel (sx, sy) of a W × H image shown at (x, y).
    private static unsafe SKBitmap Orient(SKBitmap image, SKEncodedOrigin origin)
    {
        int w = image.Width, h = image.Height;
        bool transposed = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        int outWidth = transposed ? h : w, outHeight = transposed ? w : h;
        var destination = new SKBitmap(new SKImageInfo(outWidth, outHeight, image.ColorType, image.AlphaType));
        uint* source = (uint*)image.GetPixels();
        uint* target = (uint*)destination.GetPixels();
        int sourceStride = image.RowBytes / 4, targetStride = destination.RowBytes / 4;
        for (int y = 0; y < outHeight; y++)
        {
            for (int x = 0; x < outWidth; x++)
            {
                (int sx, int sy) = origin switch
                {
                    SKEncodedOrigin.TopRight => (w - 1 - x, y),            // 2: mirrored
                    SKEncodedOrigin.BottomRight => (w - 1 - x, h - 1 - y), // 3: rotated 180°
                    SKEncodedOrigin.BottomLeft => (x, h - 1 - y),          // 4: mirrored vertically
                    SKEncodedOrigin.LeftTop => (y, x),                     // 5: transposed
                    SKEncodedOrigin.RightTop => (y, h - 1 - x),            // 6: shown rotated 90° clockwise
                    SKEncodedOrigin.RightBottom => (w - 1 - y, h - 1 - x), // 7: transversed
                    SKEncodedOrigin.LeftBottom => (w - 1 - y, x),          // 8: shown rotated 90° counter-clockwise
                    _ => (x, y),
                };
                target[(y * targetStride) + x] = source[(sy * sourceStride) + sx];
            }
        }
        return destination;
    }

    // A GIF whose first frame is empty or lies outside the canvas makes Skia's GIF decoder spin for
    // over a second on a few hundred bytes (found by fuzzing, tests/fixtures/regressions); such a
    // frame has nothing to show anyway. Reads the first image descriptor of the GIF block stream.
    private static void CheckGifFirstFrame(ReadOnlySpan<byte> gif, SKImageInfo declared, string source)
    {
        if (gif.Length < 13)
        {
            return;
        }
        int position = 13;
        byte screenFlags = gif[10];
        if ((screenFlags & 0x80) != 0)
        {
            position += 3 << ((screenFlags & 0x07) + 1);
        }
        while (position < gif.Length)
        {
            byte block = gif[position];
            if (block == 0x21 && position + 1 < gif.Length)
            {
                position += 2; // extension introducer and label, then data sub-blocks
                while (position < gif.Length && gif[position] != 0)
                {
                    position += gif[position] + 1;
                }
                position++;
            }
            else if (block == 0x2C && position + 9 < gif.Length)
            {
                int left = gif[position + 1] | (gif[position + 2] << 8);
                int top = gif[position + 3] | (gif[position + 4] << 8);
                int width = gif[position + 5] | (gif[position + 6] << 8);
                int height = gif[position + 7] | (gif[position + 8] << 8);
                if (width == 0 || height == 0 || left + width > declared.Width || top + height > declared.Height)
                {
                    throw new ImageDecodeException(source, $"its first GIF frame ({width}x{height} at {left},{top}) is empty or outside the {declared.Width}x{declared.Height} canvas");
                }
                return;
            }
            else
            {
                return; // trailer or something Skia will judge itself
            }
        }
    }

    // Truncated images are refused: a partly grey image would silently pollute an index.
    private const bool AcceptsIncomplete = false;

    private static SKBitmap Resize(SKBitmap image, ImageDecodeOptions options, string source)
    {
        int width = options.Width, height = options.Height;
        SKBitmap? result = options.ResizeMode switch
        {
            ImageResizeMode.Fill => image.Resize(new SKSizeI(width, height), SKFilterQuality.None),
            ImageResizeMode.IsoPad => DrawInto(image, width, height, pad: true),
            _ => DrawInto(image, width, height, pad: false),
        };
        return result ?? throw new ImageDecodeException(source, "it could not be resized");
    }

    // The same arithmetic as ML.NET's MLImage.ResizeWithPadding / ResizeWithCrop (centre anchor).
    private static SKBitmap DrawInto(SKBitmap image, int width, int height, bool pad)
    {
        float widthAspect = (float)width / image.Width;
        float heightAspect = (float)height / image.Height;
        int destX = 0, destY = 0;
        float aspect;
        if (pad)
        {
            if (heightAspect < widthAspect)
            {
                aspect = heightAspect;
                destX = (int)((width - (image.Width * aspect)) / 2);
            }
            else
            {
                aspect = widthAspect;
                destY = (int)((height - (image.Height * aspect)) / 2);
            }
        }
        else if (heightAspect < widthAspect)
        {
            aspect = widthAspect;
            destY = (int)((height - (image.Height * aspect)) / 2);
        }
        else
        {
            aspect = heightAspect;
            destX = (int)((width - (image.Width * aspect)) / 2);
        }
        int destWidth = (int)(image.Width * aspect);
        int destHeight = (int)(image.Height * aspect);

        var destination = new SKBitmap(width, height, isOpaque: true);
        using var canvas = new SKCanvas(destination);
        using var paint = new SKPaint { FilterQuality = SKFilterQuality.High };
        canvas.DrawBitmap(image, new SKRect(0, 0, image.Width, image.Height), new SKRect(destX, destY, destX + destWidth, destY + destHeight), paint);
        return destination;
    }

    private static SKBitmap ToGrey(SKBitmap image)
    {
        var destination = new SKBitmap(image.Width, image.Height, isOpaque: true);
        using var paint = new SKPaint { ColorFilter = GreyFilter, FilterQuality = SKFilterQuality.High };
        using var canvas = new SKCanvas(destination);
        canvas.DrawBitmap(image, 0f, 0f, paint);
        return destination;
    }

    private static void CopyPlanes(SKBitmap bitmap, ImageDecodeOptions options, Span<byte> destination, string source)
    {
        int plane = options.Width * options.Height;
        CheckDestination(destination.Length, options, source);
        GetChannelOffsets(bitmap, out int r, out int g, out int b);
        ReadOnlySpan<byte> pixels = bitmap.GetPixelSpan();
        int rowBytes = bitmap.RowBytes;
        for (int y = 0; y < options.Height; y++)
        {
            ReadOnlySpan<byte> row = pixels.Slice(y * rowBytes, options.Width * 4);
            int o = y * options.Width;
            for (int x = 0; x < options.Width; x++)
            {
                int p = x * 4;
                destination[o + x] = row[p + r];
                if (options.Channels == 3)
                {
                    destination[plane + o + x] = row[p + g];
                    destination[(2 * plane) + o + x] = row[p + b];
                }
            }
        }
    }

    // The float planes are the byte planes, converted and scaled with SIMD: one pixel loop to maintain.
    private static void CopyPlanes(SKBitmap bitmap, ImageDecodeOptions options, Span<float> destination, float scale, string source)
    {
        CheckDestination(destination.Length, options, source);
        int length = options.OutputLength;
        byte[] planes = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            CopyPlanes(bitmap, options, planes.AsSpan(0, length), source);
            Span<float> target = destination[..length];
            TensorPrimitives.ConvertChecked<byte, float>(planes.AsSpan(0, length), target);
            if (scale != 1f)
            {
                TensorPrimitives.Multiply(target, scale, target);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(planes);
        }
    }

    private static void CheckDestination(int length, ImageDecodeOptions options, string source)
    {
        if (length < options.OutputLength)
        {
            throw new ArgumentException($"Destination for '{source}' holds {length} values; {options.OutputLength} are needed.");
        }
    }

    private static void GetChannelOffsets(SKBitmap bitmap, out int r, out int g, out int b)
    {
        if (bitmap.ColorType == SKColorType.Rgba8888)
        {
            (r, g, b) = (0, 1, 2);
        }
        else
        {
            (r, g, b) = (2, 1, 0); // Bgra8888
        }
    }
}
