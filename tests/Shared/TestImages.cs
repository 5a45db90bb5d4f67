using System.Buffers.Binary;
using System.IO.Hashing;
using SkiaSharp;

namespace ImageRetrieval.Tests;

/// <summary>Real encoded images made with SkiaSharp's encoders, and hand-made hostile ones.</summary>
internal static class TestImages
{
    /// <summary>A colourful RGB test pattern, encoded.</summary>
    public static byte[] Pattern(int width, int height, SKEncodedImageFormat format = SKEncodedImageFormat.Png, int seed = 0, byte alpha = 255)
    {
        using var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, alpha == 255 ? SKAlphaType.Opaque : SKAlphaType.Unpremul);
        var pixels = new byte[bitmap.RowBytes * height];
        for (int y = 0; y < height; y++)
        {
            Span<byte> row = pixels.AsSpan(y * bitmap.RowBytes, width * 4);
            for (int x = 0; x < width; x++)
            {
                row[x * 4] = (byte)((x * 255 / Math.Max(1, width - 1)) ^ seed);
                row[(x * 4) + 1] = (byte)(y * 255 / Math.Max(1, height - 1));
                row[(x * 4) + 2] = (byte)((x + y + seed) * 7);
                row[(x * 4) + 3] = alpha;
            }
        }
        System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
        using var data = bitmap.Encode(format, 95);
        return data.ToArray();
    }

    /// <summary>A grey Fashion-MNIST image written as an 8-bit grey PNG.</summary>
    public static byte[] GreyPng(ReadOnlySpan<byte> pixels, int width, int height)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        System.Runtime.InteropServices.Marshal.Copy(pixels.ToArray(), 0, bitmap.GetPixels(), pixels.Length);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>A structurally valid PNG whose header declares <paramref name="width"/> × <paramref name="height"/> pixels but holds almost no data.</summary>
    public static byte[] PngDeclaring(int width, int height)
    {
        using var stream = new MemoryStream();
        stream.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; // bit depth
        ihdr[9] = 2; // RGB
        WriteChunk(stream, "IHDR", ihdr);
        // A tiny zlib stream (one empty stored block) as IDAT.
        WriteChunk(stream, "IDAT", [0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01]);
        WriteChunk(stream, "IEND", []);
        return stream.ToArray();
    }

    private static void WriteChunk(Stream stream, string type, byte[] data)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        stream.Write(length);
        byte[] typeBytes = System.Text.Encoding.ASCII.GetBytes(type);
        stream.Write(typeBytes);
        stream.Write(data);
        var crc = new Crc32();
        crc.Append(typeBytes);
        crc.Append(data);
        Span<byte> sum = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(sum, crc.GetCurrentHashAsUInt32());
        stream.Write(sum);
    }
}
