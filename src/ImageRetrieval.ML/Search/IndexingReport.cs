using ImageRetrieval.ML.Imaging;

namespace ImageRetrieval.ML.Search;

/// <summary>Progress of an indexing run.</summary>
/// <param name="Completed">Images processed so far.</param>
/// <param name="Total">Images to process.</param>
/// <param name="Skipped">Images left out so far.</param>
public readonly record struct IndexingProgress(int Completed, int Total, int Skipped);

/// <summary>What an indexing call did.</summary>
/// <param name="Added">New images indexed.</param>
/// <param name="Replaced">Images whose path was already indexed and were re-embedded in place (same key).</param>
/// <param name="Skipped">Images left out, each with its reason (undecodable, too large, symbolic-link directories, ...).</param>
/// <param name="IgnoredFiles">Files ignored because their extension is not an image type.</param>
/// <param name="Elapsed">Wall time.</param>
public sealed record IndexingReport(int Added, int Replaced, IReadOnlyList<SkippedImage> Skipped, int IgnoredFiles, TimeSpan Elapsed)
{
    /// <summary>Images indexed per second, end to end (decode, embed, insert).</summary>
    public double ImagesPerSecond => Elapsed.TotalSeconds > 0 ? (Added + Replaced) / Elapsed.TotalSeconds : 0;
}
