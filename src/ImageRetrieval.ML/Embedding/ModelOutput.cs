using System.Numerics.Tensors;
using ImageRetrieval.ML.Models;

namespace ImageRetrieval.ML.Embedding;

/// <summary>Turns a described model's raw output into embeddings: global pooling of a feature map, then L2 normalisation.</summary>
internal static class ModelOutput
{
    /// <summary>Pools <paramref name="n"/> feature maps (the model's <see cref="EmbeddingModel.OutputShape"/>, in its layout) into one vector each.</summary>
    public static void Pool(ReadOnlySpan<float> maps, int n, EmbeddingModel model, Span<float> vectors)
    {
        int d = model.Dimension;
        int length = model.OutputLength;
        int spatial = length / d;
        bool max = model.Pooling == OutputPooling.Max;
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<float> map = maps.Slice(i * length, length);
            Span<float> vector = vectors.Slice(i * d, d);
            if (model.Layout == TensorLayout.Nchw)
            {
                // [D, h, w]: one contiguous plane per feature.
                for (int f = 0; f < d; f++)
                {
                    ReadOnlySpan<float> plane = map.Slice(f * spatial, spatial);
                    vector[f] = max ? TensorPrimitives.Max(plane) : TensorPrimitives.Sum(plane) / spatial;
                }
            }
            else
            {
                // [h, w, D]: one contiguous feature vector per position.
                map[..d].CopyTo(vector);
                for (int p = 1; p < spatial; p++)
                {
                    ReadOnlySpan<float> position = map.Slice(p * d, d);
                    if (max)
                    {
                        TensorPrimitives.Max(vector, position, vector);
                    }
                    else
                    {
                        TensorPrimitives.Add(vector, position, vector);
                    }
                }
                if (!max)
                {
                    TensorPrimitives.Divide(vector, spatial, vector);
                }
            }
        }
    }

    /// <summary>Divides each row of <paramref name="dimension"/> values by its L2 norm; a zero row stays zero.</summary>
    public static void NormalizeRows(Span<float> rows, int dimension)
    {
        for (int start = 0; start < rows.Length; start += dimension)
        {
            Span<float> row = rows.Slice(start, dimension);
            float norm = TensorPrimitives.Norm(row);
            if (norm > 0f && float.IsFinite(norm))
            {
                TensorPrimitives.Divide(row, norm, row);
            }
        }
    }
}
