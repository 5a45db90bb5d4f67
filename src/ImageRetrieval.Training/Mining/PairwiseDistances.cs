using ImageRetrieval.ML.Indexing;
using ImageRetrieval.Training.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Mining;

/// <summary>The one pairwise distance matrix every miner and the loss work from.</summary>
internal static class PairwiseDistances
{
    /// <summary>
    /// The <c>[B, B]</c> distances between L2-normalised embeddings <c>[B, D]</c>, differentiable.
    /// Euclidean uses <c>√max(2 − 2·cos, ε)</c>, so the gradient stays finite on the diagonal.
    /// </summary>
    public static Tensor Compute(Tensor embeddings, TripletDistance distance)
    {
        ArgumentNullException.ThrowIfNull(embeddings);
        using var scope = torch.NewDisposeScope();
        var similarity = embeddings.matmul(embeddings.t());
        Tensor result = distance switch
        {
            TripletDistance.Euclidean => similarity.Times(2.0).SubtractedFrom(2.0).AtLeast(1e-12).sqrt(),
            TripletDistance.Cosine => similarity.SubtractedFrom(1.0),
            _ => throw new ArgumentOutOfRangeException(nameof(distance), distance, "Unknown distance."),
        };
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>The search side's metric for embeddings trained with <paramref name="distance"/>: cosine, or squared L2 (the Euclidean ranking).</summary>
    public static DistanceMetric SearchMetric(TripletDistance distance) => distance == TripletDistance.Cosine ? DistanceMetric.Cosine : DistanceMetric.SquaredL2;

    /// <summary>The name of <see cref="SearchMetric"/> as model metadata and checkpoints store it (<see cref="DistanceMetricNames"/>).</summary>
    public static string MetricName(TripletDistance distance) => SearchMetric(distance).ToName();
}
