using SkiaSharp;

namespace ImageRetrieval.AspNetCore;

/// <summary>
/// Reads only an upload's header (no pixels) to tell a non-image (415) from an image that must not be decoded (422: it
/// declares more pixels than the decoder's limit, the shape of a decompression bomb).
/// </summary>
internal static class ImageProbe
{
    /// <summary>The declared format and size, or null when no decoder recognises the bytes.</summary>
    public static (string Format, int Width, int Height)? Read(ReadOnlyMemory<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return null;
        }
        using SKData data = SKData.CreateCopy(bytes.Span);
        using SKCodec? codec = SKCodec.Create(data);
        if (codec is null)
        {
            return null;
        }
        return (codec.EncodedFormat.ToString().ToLowerInvariant(), codec.Info.Width, codec.Info.Height);
    }

    /// <summary>The format whose signature the bytes start with (a header too damaged to read still has one), or null.</summary>
    public static string? Signature(ReadOnlySpan<byte> bytes) => bytes switch
    {
        [0x89, (byte)'P', (byte)'N', (byte)'G', ..] => "png",
        [0xFF, 0xD8, 0xFF, ..] => "jpeg",
        [(byte)'G', (byte)'I', (byte)'F', (byte)'8', ..] => "gif",
        [(byte)'B', (byte)'M', ..] => "bmp",
        [(byte)'R', (byte)'I', (byte)'F', (byte)'F', _, _, _, _, (byte)'W', (byte)'E', (byte)'B', (byte)'P', ..] => "webp",
        _ => null,
    };

    /// <summary>A file extension for a recognised format (uploads are saved under a name the service chooses).</summary>
    public static string Extension(string format) => format switch
    {
        "jpeg" => ".jpg",
        "png" => ".png",
        "gif" => ".gif",
        "bmp" => ".bmp",
        "webp" => ".webp",
        "ico" => ".ico",
        _ => ".img",
    };
}
