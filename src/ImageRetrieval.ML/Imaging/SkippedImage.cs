namespace ImageRetrieval.ML.Imaging;

/// <summary>
/// An image that was left out, and why: undecodable, missing, too large, or (when indexing folders) not followed.
/// Every path that reads many images reports the ones it skipped with this type: <c>ImageSearchIndex</c>'s
/// indexing reports and the dataset loaders of <c>ImageRetrieval.Datasets</c>.
/// </summary>
/// <param name="Path">The file (or the name given to an in-memory image).</param>
/// <param name="Reason">Why it was left out, without the path.</param>
public sealed record SkippedImage(string Path, string Reason)
{
    /// <summary>The image named by a decoding error, with its reason.</summary>
    public static SkippedImage From(ImageDecodeException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return new SkippedImage(error.ImageSource, error.Reason);
    }

    /// <inheritdoc />
    public override string ToString() => $"{Path}: {Reason}";
}
