namespace ImageRetrieval.Training.Mining;

/// <summary>Yields the batches of one training epoch as dataset indices.</summary>
internal interface IBatchSampler
{
    /// <summary>Batches in one epoch.</summary>
    int BatchesPerEpoch { get; }

    /// <summary>One epoch of batches, deterministic for <paramref name="seed"/>.</summary>
    IEnumerable<int[]> Epoch(int seed);
}
