using System.Globalization;
using SkiaSharp;

namespace ImageRetrieval.Datasets;

/// <summary>
/// Writes a <see cref="LabeledImageSet"/> as an image folder: one sub-folder per class (a file-system
/// safe slug of the class name), one PNG per image named after its index in the set. This is the
/// layout image-folder datasets, <c>imgret index</c> and <c>imgret eval</c> read.
/// </summary>
public static class ImageFolderWriter
{
    /// <summary>Writes the images at <paramref name="indices"/> (all when null) as PNG files below <paramref name="directory"/>.</summary>
    /// <param name="set">The images.</param>
    /// <param name="directory">The destination folder (created if missing).</param>
    /// <param name="indices">Which images to write; all when <see langword="null"/>.</param>
    /// <param name="filePrefix">Prefix of each file name, followed by the zero-padded image index.</param>
    /// <returns>The written file paths, in the order of <paramref name="indices"/>.</returns>
    public static IReadOnlyList<string> WritePng(LabeledImageSet set, string directory, IReadOnlyList<int>? indices = null, string filePrefix = "image-")
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        indices ??= Enumerable.Range(0, set.Count).ToArray();
        var paths = new string[indices.Count];
        foreach (string name in set.ClassNames.Distinct())
        {
            Directory.CreateDirectory(Path.Combine(directory, Slug(name)));
        }
        Parallel.For(0, indices.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Min(2, Environment.ProcessorCount) }, i =>
        {
            int index = indices[i];
            string path = Path.Combine(directory, Slug(set.ClassNames[set.GetLabel(index)]),
                filePrefix + index.ToString("D5", CultureInfo.InvariantCulture) + ".png");
            File.WriteAllBytes(path, EncodePng(set, index));
            paths[i] = path;
        });
        return paths;
    }

    /// <summary>Encodes one image of the set as PNG (8-bit grey or RGB).</summary>
    public static unsafe byte[] EncodePng(LabeledImageSet set, int index)
    {
        ArgumentNullException.ThrowIfNull(set);
        ReadOnlySpan<byte> planar = set.GetImage(index);
        int plane = set.Width * set.Height;
        using var bitmap = set.Channels == 1
            ? new SKBitmap(new SKImageInfo(set.Width, set.Height, SKColorType.Gray8, SKAlphaType.Opaque))
            : new SKBitmap(new SKImageInfo(set.Width, set.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var pixels = new Span<byte>((void*)bitmap.GetPixels(), bitmap.ByteCount);
        int rowBytes = bitmap.RowBytes;
        for (int y = 0; y < set.Height; y++)
        {
            for (int x = 0; x < set.Width; x++)
            {
                int p = (y * set.Width) + x;
                if (set.Channels == 1)
                {
                    pixels[(y * rowBytes) + x] = planar[p];
                }
                else
                {
                    int o = (y * rowBytes) + (x * 4);
                    pixels[o] = planar[p];
                    pixels[o + 1] = planar[plane + p];
                    pixels[o + 2] = planar[(2 * plane) + p];
                    pixels[o + 3] = 255;
                }
            }
        }
        using SKData data = bitmap.Encode(SKEncodedImageFormat.Png, 100)
            ?? throw new InvalidOperationException($"PNG encoding of image {index} of {set.Name} failed.");
        return data.ToArray();
    }

    /// <summary>A file-system safe folder name for a class: lower case, letters and digits, other runs replaced by '-' (e.g. "T-shirt/top" → "t-shirt-top").</summary>
    public static string Slug(string className)
    {
        ArgumentNullException.ThrowIfNull(className);
        var chars = new List<char>(className.Length);
        foreach (char c in className.ToLowerInvariant())
        {
            if (char.IsAsciiLetterOrDigit(c))
            {
                chars.Add(c);
            }
            else if (chars.Count > 0 && chars[^1] != '-')
            {
                chars.Add('-');
            }
        }
        string slug = new string(chars.ToArray()).Trim('-');
        return slug.Length == 0 ? "class" : slug;
    }
}
