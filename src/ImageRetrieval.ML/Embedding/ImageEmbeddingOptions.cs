using ImageRetrieval.ML.Imaging;
using ImageRetrieval.ML.Models;
using Microsoft.Extensions.Logging;

namespace ImageRetrieval.ML.Embedding;

/// <summary>Options of <c>mlContext.Transforms.EmbedImages</c> and <c>EmbedImagesBatched</c>.</summary>
public sealed class ImageEmbeddingOptions
{
    /// <summary>Name of the output column: a known-size vector of <see cref="float"/> (the embedding).</summary>
    public string OutputColumnName = "Embedding";

    /// <summary>Name of the input column: image paths (text), encoded image bytes (<c>byte[]</c> / vector of byte), or ML.NET images (<c>MLImage</c>). Defaults to <see cref="OutputColumnName"/>.</summary>
    public string? InputColumnName;

    /// <summary>
    /// The ONNX embedding model: one carrying <c>imageretrieval.*</c> metadata (input size, channels, pixel scale, dimension),
    /// a pretrained model's file (<see cref="PretrainedModel.GetModelPath"/>), or any image encoder described by
    /// <see cref="Encoder"/> or by <c>model.onnx.json</c> beside it.
    /// </summary>
    public string ModelPath = "";

    /// <summary>
    /// How to feed a model without <c>imageretrieval.*</c> metadata (see <see cref="ImageEncoderDescription"/>); null: the
    /// model's <c>model.onnx.json</c>, else its metadata. ML.NET's chain expresses per-channel mean/std with one
    /// <c>ExtractPixels</c> per channel (NCHW) and normalisation with <c>NormalizeLpNorm</c>; a description it cannot
    /// express (pooling a feature map larger than 1 × 1, per-channel mean/std in NHWC) is refused by both catalog methods
    /// at construction — <see cref="ImageEmbedder"/> and <c>ImageSearchIndex</c> handle every description.
    /// </summary>
    public ImageEncoderDescription? Encoder;

    /// <summary>Folder that relative image paths are resolved against; <see langword="null"/> for paths as given.</summary>
    public string? ImageFolder;

    /// <summary>The CUDA device to score on, or <see langword="null"/> for the CPU.</summary>
    public int? GpuDeviceId;

    /// <summary>When the GPU cannot be used: run on the CPU (a warning to <see cref="Logger"/>) instead of failing at <c>Fit</c>.</summary>
    public bool FallbackToCpu = ImageEmbedderOptions.Defaults.FallbackToCpu;

    /// <summary>How images are fitted to the model's input size (ML.NET's <c>ResizeImages</c> kinds).</summary>
    public ImageResizeMode ResizeMode = ImageResizeMode.IsoCrop;

    /// <summary>ONNX Runtime intra-op threads (both paths).</summary>
    public int IntraOpNumThreads = ImageEmbedderOptions.Defaults.IntraOpNumThreads;

    /// <summary>ONNX Runtime inter-op threads (both paths).</summary>
    public int InterOpNumThreads = ImageEmbedderOptions.Defaults.InterOpNumThreads;

    /// <summary>Batched path only: images per ONNX Runtime call.</summary>
    public int BatchSize = ImageEmbedderOptions.Defaults.BatchSize;

    /// <summary>Batched path only: images decoded and resized in parallel ahead of the model.</summary>
    public int DecodeParallelism = ImageEmbedderOptions.Defaults.DecodeParallelism;

    /// <summary>Batched path only: what to do with an image that cannot be decoded (throw, or drop the row and report it). The plain chain always throws.</summary>
    public ImageErrorPolicy OnError = ImageErrorPolicy.Throw;

    /// <summary>Batched path only: the largest decoded image; larger ones are decoded at reduced scale where the format allows, else refused before decoding. ML.NET's own <c>LoadImages</c> (plain chain) has no such cap.</summary>
    public long MaxPixels = ImageDecodeOptions.Defaults.MaxPixels;

    /// <summary>Batched path only: images declaring more pixels are refused before decoding.</summary>
    public long MaxSourcePixels = ImageDecodeOptions.Defaults.MaxSourcePixels;

    /// <summary>Batched path only: turn images as their EXIF orientation says (the plain chain's <c>LoadImages</c> does not).</summary>
    public bool ApplyExifOrientation = true;

    /// <summary>Batched path only: decode large JPEG and WebP images at reduced scale when the model input is small (the plain chain decodes in full).</summary>
    public bool ReducedScaleDecoding = true;

    /// <summary>Batched path only: what transparent pixels are composited onto (the plain chain composites onto black).</summary>
    public RgbColor Background = RgbColor.White;

    /// <summary>If set, the model must take images of this width (checked when the estimator is created).</summary>
    public int? ImageWidth;

    /// <summary>If set, the model must take images of this height.</summary>
    public int? ImageHeight;

    /// <summary>If set, the model must take this many channels (1 or 3).</summary>
    public int? ImageChannels;

    /// <summary>Receives warnings (a requested GPU that is unavailable); none when null.</summary>
    public ILogger? Logger;

    internal ImageEmbeddingOptions Clone() => (ImageEmbeddingOptions)MemberwiseClone();

    internal ImageEmbedderOptions ToEmbedderOptions() => new()
    {
        BatchSize = BatchSize,
        DecodeParallelism = DecodeParallelism,
        IntraOpNumThreads = IntraOpNumThreads,
        InterOpNumThreads = InterOpNumThreads,
        GpuDeviceId = GpuDeviceId,
        FallbackToCpu = FallbackToCpu,
        OnError = OnError,
        ResizeMode = ResizeMode,
        Encoder = Encoder,
        MaxPixels = MaxPixels,
        MaxSourcePixels = MaxSourcePixels,
        ApplyExifOrientation = ApplyExifOrientation,
        ReducedScaleDecoding = ReducedScaleDecoding,
        Background = Background,
        ImageWidth = ImageWidth,
        ImageHeight = ImageHeight,
        ImageChannels = ImageChannels,
    };

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(OutputColumnName, nameof(OutputColumnName));
        ArgumentException.ThrowIfNullOrWhiteSpace(ModelPath, nameof(ModelPath));
        ToEmbedderOptions().Validate();
    }
}
