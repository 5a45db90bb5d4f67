namespace ImageRetrieval.ML.Indexing;

/// <summary>One search result: the caller's key and its distance to the query.</summary>
/// <param name="Key">The key given to <c>Add</c>.</param>
/// <param name="Distance">Distance to the query under the index's <see cref="DistanceMetric"/>.</param>
public readonly record struct SearchHit(long Key, float Distance);
