using ImageRetrieval.ML.Imaging;

namespace ImageRetrieval.Datasets;

/// <summary>A labelled image set that was read from files: the decoded images and the files that were left out.</summary>
/// <param name="Images">Every decodable image, in file order.</param>
/// <param name="Skipped">Files that could not be used (missing, undecodable, too large), each with its reason, in file order.</param>
public sealed record ImageSetLoadResult(LabeledImageSet Images, IReadOnlyList<SkippedImage> Skipped);
