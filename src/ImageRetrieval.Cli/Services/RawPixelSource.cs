using System.Numerics.Tensors;
using ImageRetrieval.Datasets;
using ImageRetrieval.ML.Indexing;

namespace ImageRetrieval.Cli.Services;

/// <summary>The raw-pixel baseline: each image's 0–255 pixels as one vector, compared by Euclidean distance.</summary>
internal sealed class RawPixelSource(int channels, int size) : IEmbeddingSource
{
    public string Description => $"raw pixels ({channels}x{size}x{size}, Euclidean)";

    public (int Channels, int Height, int Width) InputShape => (channels, size, size);

    public int Dimension => channels * size * size;

    public DistanceMetric Metric => DistanceMetric.SquaredL2;

    public float[] Embed(LabeledImageSet set, IProgress<int>? progress)
    {
        var vectors = new float[set.Pixels.Length];
        TensorPrimitives.ConvertChecked(set.Pixels, vectors.AsSpan());
        progress?.Report(set.Count);
        return vectors;
    }

    public void Dispose()
    {
    }
}
