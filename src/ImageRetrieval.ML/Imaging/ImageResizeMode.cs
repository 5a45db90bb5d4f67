namespace ImageRetrieval.ML.Imaging;

/// <summary>How an image is fitted to the model's input size. The modes reproduce ML.NET's <c>ResizeImages</c> exactly.</summary>
public enum ImageResizeMode
{
    /// <summary>Stretch to the target size, ignoring the aspect ratio (ML.NET <c>ResizingKind.Fill</c>).</summary>
    Fill,

    /// <summary>Keep the aspect ratio and pad with black (ML.NET <c>ResizingKind.IsoPad</c>).</summary>
    IsoPad,

    /// <summary>Keep the aspect ratio, fill the target and crop the centre (ML.NET's default, <c>ResizingKind.IsoCrop</c> with a centre anchor).</summary>
    IsoCrop,
}
