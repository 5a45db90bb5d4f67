namespace ImageRetrieval.ML.Embedding;

/// <summary>Embeddings of a list of images, in input order, and the images that could not be embedded.</summary>
public sealed class ImageEmbeddingResult
{
    private readonly bool[] _failed;

    internal ImageEmbeddingResult(float[] vectors, int count, int dimension, bool[] failed, IReadOnlyList<ImageEmbeddingError> errors)
    {
        Vectors = vectors;
        Count = count;
        Dimension = dimension;
        _failed = failed;
        Errors = errors;
    }

    /// <summary>All vectors, row after row (<see cref="Count"/> × <see cref="Dimension"/>); a failed image's row is all zeros.</summary>
    public float[] Vectors { get; }

    /// <summary>Number of input images (embedded or failed).</summary>
    public int Count { get; }

    /// <summary>Length of each vector.</summary>
    public int Dimension { get; }

    /// <summary>The images that were skipped under <see cref="ImageErrorPolicy.Skip"/>, by index.</summary>
    public IReadOnlyList<ImageEmbeddingError> Errors { get; }

    /// <summary>Number of images embedded.</summary>
    public int SucceededCount => Count - Errors.Count;

    /// <summary>True when image <paramref name="index"/> was embedded.</summary>
    public bool Succeeded(int index) => !_failed[index];

    /// <summary>The vector of image <paramref name="index"/> (zeros if it failed).</summary>
    public ReadOnlySpan<float> this[int index] => Vectors.AsSpan(checked(index * Dimension), Dimension);

    /// <summary>A copy of the vector of image <paramref name="index"/>.</summary>
    public float[] GetVector(int index) => this[index].ToArray();
}
