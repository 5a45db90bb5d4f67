using System.Buffers;
using System.Numerics.Tensors;
using SkiaSharp;

namespace ImageRetrieval.ML.Imaging;

/// <summary>
/// Decodes PNG, JPEG, BMP, GIF and WebP images (through SkiaSharp) into planar pixels of a fixed
/// size, safely: the declared size is checked against <see cref="ImageDecodeOptions.MaxPixels"/>
/// before any pixel memory is allocated, and every failure is an <see cref="ImageDecodeException"/>
/// naming the input.
/// </summary>
/// <remarks>
/// Decoding, resizing and grey conversion use the same SkiaSharp calls as ML.NET's
/// <c>LoadImages → ResizeImages → ConvertToGrayscale → ExtractPixels</c>, so both paths produce the
/// same pixels. Like ML.NET, EXIF orientation is not applied. Thread-safe: every call is independent.
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
    /// datasets and query folders read; other files are ignored.
    /// </summary>
    public static IReadOnlySet<string> FileExtensions { get; } =
        new HashSet<string>(StringComparer.OrdinalIgnoreCase) { ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp" };

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

    private static byte[] ReadBounded(Stream stream, ImageDecodeOptions options, string source)
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
            throw new ImageDecodeException(source, "not a recognisable PNG, JPEG, BMP, GIF or WebP image (unknown format or corrupt header)");
        }
        return codec;
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
        if ((long)declared.Width * declared.Height > options.MaxPixels)
        {
            throw new ImageDecodeException(source, $"it declares {declared.Width}x{declared.Height} pixels, more than the {options.MaxPixels}-pixel limit");
        }

        if (codec.EncodedFormat == SKEncodedImageFormat.Gif)
        {
            CheckGifFirstFrame(encoded, declared, source);
        }

        // As SKBitmap.Decode(stream), which ML.NET's MLImage uses: premultiplied, no colour space.
        var info = declared;
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

        SKBitmap bitmap = decoded;
        try
        {
            // MLImage keeps BGRA/RGBA and converts anything else to BGRA.
            if (bitmap.ColorType is not (SKColorType.Bgra8888 or SKColorType.Rgba8888))
            {
                SKBitmap converted = bitmap.Copy(SKColorType.Bgra8888)
                    ?? throw new ImageDecodeException(source, $"pixel format {bitmap.ColorType} cannot be converted to BGRA");
                bitmap.Dispose();
                bitmap = converted;
            }

            SKBitmap resized = Resize(bitmap, options, source);
            if (!ReferenceEquals(resized, bitmap))
            {
                bitmap.Dispose();
                bitmap = resized;
            }
            if (options.Channels == 1)
            {
                SKBitmap grey = ToGrey(bitmap);
                bitmap.Dispose();
                bitmap = grey;
            }
            return bitmap;
        }
        catch
        {
            bitmap.Dispose();
            throw;
        }
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
