namespace ImageRetrieval.Training;

/// <summary>
/// Training stopped because the embeddings collapsed: their <see cref="TripletStatistics.Spread"/> over an epoch's
/// batches fell below <see cref="TrainingOptions.CollapseSpread"/>, so every image maps to nearly the same point and
/// retrieval ranks at random. The checkpoint holds the epoch that collapsed.
/// </summary>
public sealed class EmbeddingCollapseException : InvalidOperationException
{
    /// <summary>Creates the exception for <paramref name="epoch"/> and its statistics.</summary>
    public EmbeddingCollapseException(int epoch, TripletStatistics statistics, double threshold)
        : base(Describe(epoch, statistics, threshold))
    {
        Epoch = epoch;
        Statistics = statistics;
    }

    /// <summary>The 1-based epoch whose embeddings collapsed.</summary>
    public int Epoch { get; }

    /// <summary>That epoch's batch statistics.</summary>
    public TripletStatistics Statistics { get; }

    private static string Describe(int epoch, TripletStatistics s, double threshold) =>
        FormattableString.Invariant(
            $"The embeddings collapsed in epoch {epoch}: their spread fell to {s.Spread:F3} (below {threshold:F3}; 1 = spread over the sphere, 0 = one point), ") +
        FormattableString.Invariant(
            $"images of one class are {s.MeanPositiveDistance:F3} apart and of different classes {s.MeanNegativeDistance:F3}, and {s.WrongOrderFraction:P0} of the triplets rank the wrong way. ") +
        "Lower the learning rate (--lr), use a smaller margin or --miner semi-hard (batch-hard and batch-all with a large margin can pull everything together), " +
        "or check that the class folders really hold different things.";
}
