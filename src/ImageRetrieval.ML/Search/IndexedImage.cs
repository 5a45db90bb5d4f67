namespace ImageRetrieval.ML.Search;

/// <summary>An image in an <see cref="ImageSearchIndex"/>.</summary>
/// <param name="Key">The index's key for the image (stable across saves).</param>
/// <param name="Path">The image's path relative to the gallery root, with '/' separators.</param>
/// <param name="Label">An optional label (by default the name of the image's folder).</param>
/// <param name="Metadata">Optional user metadata.</param>
public sealed record IndexedImage(long Key, string Path, string? Label, IReadOnlyDictionary<string, string>? Metadata = null);
