namespace ImageRetrieval.ML.Indexing;

/// <summary>How two vectors are compared. Smaller distances are nearer for every metric.</summary>
public enum DistanceMetric
{
    /// <summary>Squared Euclidean distance, <c>Σ (aᵢ − bᵢ)²</c> (the same ranking as L2, without the square root).</summary>
    SquaredL2 = 0,

    /// <summary>Inner-product distance, <c>1 − a·b</c> (maximum inner product search; vectors are stored as given).</summary>
    InnerProduct = 1,

    /// <summary>Cosine distance, <c>1 − a·b / (|a| |b|)</c>; vectors and queries are normalised to unit length on the way in.</summary>
    Cosine = 2,
}
