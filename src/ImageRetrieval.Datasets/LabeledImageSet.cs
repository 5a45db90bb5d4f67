namespace ImageRetrieval.Datasets;

/// <summary>
/// A labelled collection of equally sized images held in memory as one contiguous byte buffer in
/// planar <c>[N, C, H, W]</c> order (pixel values 0–255). This is what training, evaluation and the
/// vector exporters consume, whatever the source (IDX files, image folders, Oxford 102 Flowers).
/// </summary>
public sealed class LabeledImageSet
{
    private readonly byte[] _pixels;
    private readonly int[] _labels;

    /// <summary>Creates a set over the given buffers (they are not copied).</summary>
    /// <param name="name">A human-readable name, e.g. <c>fashion-mnist/train</c>.</param>
    /// <param name="pixels">Planar pixels, <c>count × channels × height × width</c> bytes.</param>
    /// <param name="labels">One class index per image, each in <c>0 .. classNames.Count - 1</c>.</param>
    /// <param name="channels">1 (grey) or 3 (RGB).</param>
    /// <param name="height">Image height in pixels.</param>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="classNames">The class names, indexed by label.</param>
    /// <exception cref="ArgumentException">The buffers and dimensions disagree.</exception>
    public LabeledImageSet(string name, byte[] pixels, int[] labels, int channels, int height, int width, IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(classNames);
        if (channels is not (1 or 3))
        {
            throw new ArgumentOutOfRangeException(nameof(channels), channels, "Expected 1 (grey) or 3 (RGB) channels.");
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        long expected = (long)labels.Length * channels * height * width;
        if (pixels.LongLength != expected)
        {
            throw new ArgumentException($"Expected {expected} pixel bytes for {labels.Length} images of {channels}x{height}x{width}, got {pixels.LongLength}.", nameof(pixels));
        }
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classNames.Count)
            {
                throw new ArgumentException($"Label {labels[i]} of image {i} is outside 0..{classNames.Count - 1}.", nameof(labels));
            }
        }
        Name = name;
        _pixels = pixels;
        _labels = labels;
        Channels = channels;
        Height = height;
        Width = width;
        ClassNames = classNames;
    }

    /// <summary>A human-readable name of the set.</summary>
    public string Name { get; }

    /// <summary>Number of images.</summary>
    public int Count => _labels.Length;

    /// <summary>Channels per image: 1 (grey) or 3 (RGB).</summary>
    public int Channels { get; }

    /// <summary>Image height in pixels.</summary>
    public int Height { get; }

    /// <summary>Image width in pixels.</summary>
    public int Width { get; }

    /// <summary>Bytes per image: <c>Channels × Height × Width</c>.</summary>
    public int ImageSize => Channels * Height * Width;

    /// <summary>The class names, indexed by label.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Number of classes.</summary>
    public int ClassCount => ClassNames.Count;

    /// <summary>All pixels, planar, image after image.</summary>
    public ReadOnlySpan<byte> Pixels => _pixels;

    /// <summary>One label per image.</summary>
    public ReadOnlySpan<int> Labels => _labels;

    /// <summary>The planar pixels of image <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> GetImage(int index) => _pixels.AsSpan(checked(index * ImageSize), ImageSize);

    /// <summary>The label of image <paramref name="index"/>.</summary>
    public int GetLabel(int index) => _labels[index];

    /// <summary>A new set holding the images at <paramref name="indices"/>, in that order (pixels copied).</summary>
    public LabeledImageSet Select(IReadOnlyList<int> indices, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(indices);
        int size = ImageSize;
        var pixels = new byte[(long)indices.Count * size];
        var labels = new int[indices.Count];
        for (int i = 0; i < indices.Count; i++)
        {
            GetImage(indices[i]).CopyTo(pixels.AsSpan(i * size, size));
            labels[i] = _labels[indices[i]];
        }
        return new LabeledImageSet(name ?? Name, pixels, labels, Channels, Height, Width, ClassNames);
    }

    /// <summary>The first <paramref name="count"/> images (or all, if fewer).</summary>
    public LabeledImageSet Take(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count >= Count)
        {
            return this;
        }
        return Select(Enumerable.Range(0, count).ToArray(), $"{Name}[:{count}]");
    }

    /// <summary>Number of images per class, indexed by label.</summary>
    public int[] CountPerClass()
    {
        var counts = new int[ClassCount];
        foreach (int label in _labels)
        {
            counts[label]++;
        }
        return counts;
    }
}
