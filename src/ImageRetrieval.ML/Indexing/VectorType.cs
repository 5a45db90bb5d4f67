namespace ImageRetrieval.ML.Indexing;

/// <summary>
/// How an <see cref="HnswIndex"/> stores its vectors (chosen at creation, recorded in the saved file). Distances are
/// computed on the stored form; <see cref="HnswIndex.SearchAndRerank"/> re-ranks the best candidates with the caller's
/// original float vectors when exact distances matter.
/// </summary>
public enum VectorType
{
    /// <summary>4 bytes per value: the vectors as given (after normalisation for cosine).</summary>
    Float32 = 0,

    /// <summary>
    /// 2 bytes per value (IEEE half precision, round to nearest even; relative error ≤ 2⁻¹¹ for values of magnitude
    /// 6.1e-5..65504). Values beyond ±65504 are refused. Queries stay float32 (asymmetric distance).
    /// </summary>
    Float16 = 1,

    /// <summary>
    /// 1 byte per value plus one float per vector: symmetric scalar quantisation with a per-vector scale
    /// (<c>code = round(x / s)</c>, <c>s = max|x| / 127</c>). Queries are quantised the same way and distances are
    /// integer dot products (SIMD) rescaled, so the error per value is at most s / 2.
    /// </summary>
    Int8 = 2,
}
