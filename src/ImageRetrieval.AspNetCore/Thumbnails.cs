using System.Collections.Concurrent;
using ImageRetrieval.ML.Search;
using SkiaSharp;

namespace ImageRetrieval.AspNetCore;

/// <summary>
/// PNG thumbnails of indexed images, made on first request and kept in memory (bounded: the cache is emptied when it
/// reaches its capacity). Keyed by key, path and the file's write time, so a replaced file gets a new thumbnail.
/// </summary>
internal sealed class Thumbnails
{
    private const int Capacity = 8192;
    private readonly ConcurrentDictionary<(long Key, string Path, long Ticks), byte[]> _cache = new();

    /// <summary>The thumbnail, or null when the file is not a decodable image (or declares more than <paramref name="maxPixels"/>).</summary>
    public byte[]? Get(IndexedImage item, string file, int size, long maxPixels)
    {
        var cacheKey = (item.Key, item.Path, File.GetLastWriteTimeUtc(file).Ticks);
        if (_cache.TryGetValue(cacheKey, out byte[]? cached))
        {
            return cached;
        }
        byte[]? made = Make(file, size, maxPixels);
        if (made is not null)
        {
            if (_cache.Count >= Capacity)
            {
                _cache.Clear();
            }
            _cache[cacheKey] = made;
        }
        return made;
    }

    public void Forget(long key)
    {
        foreach (var entry in _cache.Keys.Where(k => k.Key == key))
        {
            _cache.TryRemove(entry, out _);
        }
    }

    private static byte[]? Make(string file, int size, long maxPixels)
    {
        using SKCodec? codec = SKCodec.Create(file);
        if (codec is null || codec.Info.Width < 1 || codec.Info.Height < 1 || (long)codec.Info.Width * codec.Info.Height > maxPixels)
        {
            return null;
        }
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var bitmap = new SKBitmap(info);
        SKCodecResult result = codec.GetPixels(info, bitmap.GetPixels());
        if (result is not (SKCodecResult.Success or SKCodecResult.IncompleteInput))
        {
            return null;
        }
        double scale = Math.Min(1.0, (double)size / Math.Max(info.Width, info.Height));
        int width = Math.Max(1, (int)Math.Round(info.Width * scale)), height = Math.Max(1, (int)Math.Round(info.Height * scale));
        using SKBitmap resized = scale < 1.0 ? bitmap.Resize(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul), SKFilterQuality.Medium) : bitmap.Copy();
        using SKImage image = SKImage.FromBitmap(resized);
        using SKData png = image.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }
}
