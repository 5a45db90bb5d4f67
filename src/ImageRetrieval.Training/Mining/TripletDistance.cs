namespace ImageRetrieval.Training.Mining;

/// <summary>The distance triplets are mined and penalised with.</summary>
public enum TripletDistance
{
    /// <summary>Euclidean distance between the L2-normalised embeddings, in 0–2.</summary>
    Euclidean,

    /// <summary>Cosine distance <c>1 − cos</c>, in 0–2.</summary>
    Cosine,
}
