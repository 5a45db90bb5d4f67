namespace ImageRetrieval.ML.Imaging;

/// <summary>An image that cannot be decoded: not an image, truncated, too large, or unreadable. <see cref="ImageSource"/> names it.</summary>
public sealed class ImageDecodeException : IOException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="source">The file path or a description of the in-memory input.</param>
    /// <param name="reason">What was wrong.</param>
    /// <param name="inner">The underlying error, if any.</param>
    public ImageDecodeException(string source, string reason, Exception? inner = null)
        : base($"Image '{source}' cannot be used: {reason}.", inner)
    {
        ImageSource = source;
        Reason = reason;
    }

    /// <summary>The file path or a description of the in-memory input.</summary>
    public string ImageSource { get; }

    /// <summary>What was wrong, without the file name.</summary>
    public string Reason { get; }
}
