namespace ImageRetrieval.ML.Search;

/// <summary>One search result, nearest first.</summary>
/// <param name="Key">The image's key.</param>
/// <param name="Path">The image's path relative to the gallery root.</param>
/// <param name="Label">The image's label, if any.</param>
/// <param name="Distance">Distance to the query in the model's metric (cosine distance or squared L2).</param>
/// <param name="Metadata">The image's user metadata, if any.</param>
public sealed record ImageSearchResult(long Key, string Path, string? Label, float Distance, IReadOnlyDictionary<string, string>? Metadata);
