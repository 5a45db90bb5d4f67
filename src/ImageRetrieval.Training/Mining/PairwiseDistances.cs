using ImageRetrieval.Training.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Mining;

/// <summary>The distance triplets are mined and penalised with.</summary>
public enum TripletDistance
{
    /// <summary>Euclidean distance between the L2-normalised embeddings, in 0–2.</summary>
    Euclidean,

    /// <summary>Cosine distance <c>1 − cos</c>, in 0–2.</summary>
    Cosine,
}

/// <summary>The one pairwise distance matrix every miner and the loss work from.</summary>
public static class PairwiseDistances
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

    /// <summary>The name the search side uses for this distance (<c>l2</c> or <c>cosine</c>, see the model metadata).</summary>
    public static string MetricName(TripletDistance distance) => distance == TripletDistance.Cosine ? "cosine" : "l2";
}
