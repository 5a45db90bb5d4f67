using ImageRetrieval.ML.Indexing;
using Microsoft.Extensions.VectorData;

namespace ImageRetrieval.ML.VectorStores;

/// <summary>
/// Maps VectorData's distance functions onto the metrics the HNSW index computes, and the index's distances onto the
/// scores VectorData reports: <c>CosineSimilarity</c> (default) and <c>CosineDistance</c> on cosine distance,
/// <c>DotProductSimilarity</c> and <c>NegativeDotProductSimilarity</c> on inner-product distance (1 − dot),
/// <c>EuclideanSquaredDistance</c> and <c>EuclideanDistance</c> on squared L2. Hamming and Manhattan are refused.
/// </summary>
internal static class DistanceFunctions
{
    public const string Default = DistanceFunction.CosineSimilarity;

    public static readonly IReadOnlyList<string> SupportedNames =
    [
        DistanceFunction.CosineSimilarity, DistanceFunction.CosineDistance, DistanceFunction.DotProductSimilarity,
        DistanceFunction.NegativeDotProductSimilarity, DistanceFunction.EuclideanSquaredDistance, DistanceFunction.EuclideanDistance,
    ];

    /// <exception cref="NotSupportedException">The index cannot compute <paramref name="distanceFunction"/>.</exception>
    public static DistanceMetric MetricOf(string? distanceFunction, string propertyName) => (distanceFunction ?? Default) switch
    {
        DistanceFunction.CosineSimilarity or DistanceFunction.CosineDistance => DistanceMetric.Cosine,
        DistanceFunction.DotProductSimilarity or DistanceFunction.NegativeDotProductSimilarity => DistanceMetric.InnerProduct,
        DistanceFunction.EuclideanSquaredDistance or DistanceFunction.EuclideanDistance => DistanceMetric.SquaredL2,
        var other => throw new NotSupportedException(
            $"Distance function '{other}' on vector property '{propertyName}' is not supported by the HNSW provider; supported: {string.Join(", ", SupportedNames)}."),
    };

    /// <summary>The score VectorData reports for an index distance.</summary>
    public static double Score(string distanceFunction, float distance) => distanceFunction switch
    {
        DistanceFunction.CosineSimilarity => 1.0 - distance,
        DistanceFunction.DotProductSimilarity => 1.0 - distance,
        DistanceFunction.NegativeDotProductSimilarity => distance - 1.0,
        DistanceFunction.EuclideanDistance => Math.Sqrt(Math.Max(0, distance)),
        _ => distance,
    };

    /// <summary>Whether higher scores are better (similarities) rather than lower (distances).</summary>
    public static bool HigherIsBetter(string distanceFunction) =>
        distanceFunction is DistanceFunction.CosineSimilarity or DistanceFunction.DotProductSimilarity;
}
