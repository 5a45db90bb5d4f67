using ImageRetrieval.Datasets;

namespace ImageRetrieval.Training.Augmentation;

/// <summary>Builds float batches (raw 0–255 pixels) from a <see cref="LabeledImageSet"/>, augmenting on the way.</summary>
internal static class BatchBuilder
{
    /// <summary>Writes images <paramref name="indices"/> as planar floats into <paramref name="destination"/> (<c>indices.Length × C × H × W</c>).</summary>
    public static void Fill(LabeledImageSet set, ReadOnlySpan<int> indices, Span<float> destination, AugmentationOptions augmentation, Random random)
    {
        int size = set.ImageSize;
        int plane = set.Height * set.Width;
        for (int i = 0; i < indices.Length; i++)
        {
            ReadOnlySpan<byte> image = set.GetImage(indices[i]);
            Span<float> target = destination.Slice(i * size, size);
            if (!augmentation.Enabled)
            {
                for (int j = 0; j < size; j++)
                {
                    target[j] = image[j];
                }
                continue;
            }
            bool flip = augmentation.HorizontalFlip && random.Next(2) == 1;
            int dx = augmentation.MaxShift > 0 ? random.Next(-augmentation.MaxShift, augmentation.MaxShift + 1) : 0;
            int dy = augmentation.MaxShift > 0 ? random.Next(-augmentation.MaxShift, augmentation.MaxShift + 1) : 0;
            for (int c = 0; c < set.Channels; c++)
            {
                Transform(image.Slice(c * plane, plane), target.Slice(c * plane, plane), set.Height, set.Width, flip, dx, dy);
            }
        }
    }

    // Flip, then shift: target(y, x) = flipped(y - dy, x - dx); uncovered pixels → 0.
    internal static void Transform(ReadOnlySpan<byte> source, Span<float> target, int height, int width, bool flip, int dx, int dy)
    {
        for (int y = 0; y < height; y++)
        {
            int sy = y - dy;
            for (int x = 0; x < width; x++)
            {
                int sx = flip ? width - 1 - (x - dx) : x - dx;
                target[y * width + x] = (uint)sy < (uint)height && (uint)sx < (uint)width ? source[sy * width + sx] : 0f;
            }
        }
    }
}
