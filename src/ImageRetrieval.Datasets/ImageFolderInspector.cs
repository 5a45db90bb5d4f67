using ImageRetrieval.ML.Imaging;

namespace ImageRetrieval.Datasets;

/// <summary>
/// What a class-per-sub-folder image collection holds, read from a deterministic sample of its files before
/// anything is decoded for training: the most common image size and whether the images are grey. Training
/// defaults (input size, channels) are chosen from it, so 28×28 grey pictures are not blown up to 64×64 RGB.
/// </summary>
/// <param name="Directory">The folder inspected.</param>
/// <param name="ClassCount">Class sub-folders.</param>
/// <param name="FileCount">Image files (by extension) in the class sub-folders.</param>
/// <param name="SampledCount">Files whose size and colour were read.</param>
/// <param name="CommonWidth">Width of the most common size among the sampled files.</param>
/// <param name="CommonHeight">Height of the most common size among the sampled files.</param>
/// <param name="CommonSizeCount">Sampled files of that size.</param>
/// <param name="GreyCount">Sampled files whose pixels are grey (red, green and blue within <see cref="ImageFolderInspector.GreyTolerance"/>).</param>
public sealed record ImageFolderSummary(
    string Directory,
    int ClassCount,
    int FileCount,
    int SampledCount,
    int CommonWidth,
    int CommonHeight,
    int CommonSizeCount,
    int GreyCount)
{
    /// <summary>Every sampled image is grey.</summary>
    public bool AllGrey => SampledCount > 0 && GreyCount == SampledCount;

    /// <summary>1 when every sampled image is grey, else 3.</summary>
    public int SuggestedChannels => AllGrey ? 1 : 3;

    /// <summary>
    /// A square network input side for these images: the shorter side of the most common size, capped at
    /// <paramref name="maxSide"/> (larger photos are shrunk to it) and raised to <paramref name="minSide"/>
    /// (the smallest input the network accepts).
    /// </summary>
    public int SuggestedSide(int maxSide, int minSide = 1) =>
        Math.Max(minSide, Math.Min(maxSide, Math.Min(CommonWidth, CommonHeight)));
}

/// <summary>Reads an <see cref="ImageFolderSummary"/> from a sample of a folder's images.</summary>
public static class ImageFolderInspector
{
    /// <summary>Largest difference between the red, green and blue values of a pixel still counted as grey (JPEG chroma noise).</summary>
    public const int GreyTolerance = 6;

    /// <summary>Files read by default.</summary>
    public const int DefaultSampleSize = 256;

    // Colour is judged on a small rendering: resizing keeps grey images grey and costs little for large photos.
    private const int ColourProbeSide = 32;

    /// <summary>
    /// Inspects up to <paramref name="sampleSize"/> image files spread evenly over the folder's files (in class,
    /// then ordinal file-name order: the same files every time). Undecodable files are left out of the sample.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="InvalidDataException">No class sub-folders, no image files, or none of the sampled files decodes.</exception>
    public static ImageFolderSummary Inspect(string directory, int sampleSize = DefaultSampleSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sampleSize, 1);
        IReadOnlyList<string> classes = ImageFolderDataset.ReadClassNames(directory);
        var files = new List<string>();
        foreach (string name in classes)
        {
            files.AddRange(Directory.EnumerateFiles(Path.Combine(directory, name))
                .Where(f => Path.GetFileName(f) is { Length: > 0 } n && n[0] != '.' && ImageDecoder.FileExtensions.Contains(Path.GetExtension(n)))
                .Order(StringComparer.Ordinal));
        }
        if (files.Count == 0)
        {
            throw new InvalidDataException($"Image folder '{directory}' holds no image files in its class sub-folders.");
        }
        int take = Math.Min(sampleSize, files.Count);
        var sizes = new Dictionary<(int Width, int Height), int>();
        int grey = 0, sampled = 0;
        var probe = new byte[3 * ColourProbeSide * ColourProbeSide];
        var probeOptions = new ImageDecodeOptions { Width = ColourProbeSide, Height = ColourProbeSide, Channels = 3, ResizeMode = ImageResizeMode.Fill };
        for (int i = 0; i < take; i++)
        {
            string file = files[(int)((long)i * files.Count / take)];
            (int Width, int Height) size;
            try
            {
                byte[] bytes = File.ReadAllBytes(file);
                size = ImageDecoder.ReadSize(bytes, file);
                ImageDecoder.Decode(bytes, probeOptions, probe, file);
            }
            catch (Exception e) when (e is ImageDecodeException or IOException or UnauthorizedAccessException)
            {
                continue;
            }
            sampled++;
            sizes[size] = sizes.GetValueOrDefault(size) + 1;
            if (IsGrey(probe))
            {
                grey++;
            }
        }
        if (sampled == 0)
        {
            throw new InvalidDataException($"None of the {take} sampled image files in '{directory}' could be decoded; first: '{files[0]}'.");
        }
        // Most common size; ties go to the larger area, then the wider, so the choice is deterministic.
        var common = sizes.OrderByDescending(p => p.Value).ThenByDescending(p => (long)p.Key.Width * p.Key.Height).ThenByDescending(p => p.Key.Width).First();
        return new ImageFolderSummary(directory, classes.Count, files.Count, sampled, common.Key.Width, common.Key.Height, common.Value, grey);
    }

    /// <summary>Whether planar R, G, B pixels are grey within <see cref="GreyTolerance"/>.</summary>
    internal static bool IsGrey(ReadOnlySpan<byte> planarRgb)
    {
        int plane = planarRgb.Length / 3;
        ReadOnlySpan<byte> r = planarRgb[..plane], g = planarRgb.Slice(plane, plane), b = planarRgb.Slice(2 * plane, plane);
        for (int i = 0; i < plane; i++)
        {
            if (Math.Abs(r[i] - g[i]) > GreyTolerance || Math.Abs(g[i] - b[i]) > GreyTolerance)
            {
                return false;
            }
        }
        return true;
    }
}
