using ImageRetrieval.ML.Imaging;
using ImageRetrieval.ML.Models;

namespace ImageRetrieval.ML.Embedding;

/// <summary>Settings of an <see cref="ImageEmbedder"/>. Every value has a default; the model's metadata supplies the image geometry.</summary>
public sealed record ImageEmbedderOptions
{
    /// <summary>Defaults shared by <see cref="ImageEmbedderOptions"/>, <see cref="ImageEmbeddingOptions"/> and the catalog methods.</summary>
    public static class Defaults
    {
        /// <summary>Images per ONNX Runtime call.</summary>
        public const int BatchSize = 64;

        /// <summary>ONNX Runtime intra-op threads.</summary>
        public const int IntraOpNumThreads = 1;

        /// <summary>ONNX Runtime inter-op threads.</summary>
        public const int InterOpNumThreads = 1;

        /// <summary>Fall back to the CPU when the GPU cannot be used.</summary>
        public const bool FallbackToCpu = true;

        /// <summary>Images decoded in parallel, ahead of the model: one per core left over by the model, at least one.</summary>
        public static int DecodeParallelism => Math.Max(1, Environment.ProcessorCount - IntraOpNumThreads);
    }

    /// <summary>Images per ONNX Runtime call (1..4096).</summary>
    public int BatchSize { get; init; } = Defaults.BatchSize;

    /// <summary>Images decoded and resized in parallel while the model scores the previous batch.</summary>
    public int DecodeParallelism { get; init; } = Defaults.DecodeParallelism;

    /// <summary>ONNX Runtime <c>IntraOpNumThreads</c>.</summary>
    public int IntraOpNumThreads { get; init; } = Defaults.IntraOpNumThreads;

    /// <summary>ONNX Runtime <c>InterOpNumThreads</c>.</summary>
    public int InterOpNumThreads { get; init; } = Defaults.InterOpNumThreads;

    /// <summary>The CUDA device to run on, or <see langword="null"/> for the CPU.</summary>
    public int? GpuDeviceId { get; init; }

    /// <summary>When the GPU cannot be used: run on the CPU (a warning to the embedder's logger) instead of throwing.</summary>
    public bool FallbackToCpu { get; init; } = Defaults.FallbackToCpu;

    /// <summary>What to do with images that cannot be decoded.</summary>
    public ImageErrorPolicy OnError { get; init; } = ImageErrorPolicy.Throw;

    /// <summary>
    /// How images are fitted to the model's input size (ML.NET's <c>ResizeImages</c> kinds; default IsoCrop, as ML.NET:
    /// shorter side scaled to the input size, centre cropped). A description's own <see cref="ImageEncoderDescription.Resize"/> wins.
    /// </summary>
    public ImageResizeMode ResizeMode { get; init; } = ImageResizeMode.IsoCrop;

    /// <summary>
    /// How to feed a model without <c>imageretrieval.*</c> metadata (or to override it): layout, channel order, scale,
    /// mean/std, output pooling, normalisation, metric. Null: the model's <c>model.onnx.json</c> if present, else its metadata.
    /// </summary>
    public ImageEncoderDescription? Encoder { get; init; }

    /// <summary>Largest decoded image (<see cref="ImageDecodeOptions.MaxPixels"/>): larger ones are decoded at reduced scale where the format allows, else refused.</summary>
    public long MaxPixels { get; init; } = ImageDecodeOptions.Defaults.MaxPixels;

    /// <summary>Images declaring more pixels than this are refused before decoding (<see cref="ImageDecodeOptions.MaxSourcePixels"/>).</summary>
    public long MaxSourcePixels { get; init; } = ImageDecodeOptions.Defaults.MaxSourcePixels;

    /// <summary>Turn images as their EXIF orientation says (<see cref="ImageDecodeOptions.ApplyExifOrientation"/>; ML.NET's <c>LoadImages</c> does not).</summary>
    public bool ApplyExifOrientation { get; init; } = true;

    /// <summary>Decode large JPEG and WebP images at reduced scale when the input size is small (<see cref="ImageDecodeOptions.ReducedScaleDecoding"/>).</summary>
    public bool ReducedScaleDecoding { get; init; } = true;

    /// <summary>What transparent pixels are composited onto (<see cref="ImageDecodeOptions.Background"/>; white by default).</summary>
    public RgbColor Background { get; init; } = RgbColor.White;

    /// <summary>Encoded images larger than this are refused before reading.</summary>
    public long MaxEncodedBytes { get; init; } = ImageDecodeOptions.Defaults.MaxEncodedBytes;

    /// <summary>If set, the model must take images of this width (a mismatch fails at construction).</summary>
    public int? ImageWidth { get; init; }

    /// <summary>If set, the model must take images of this height.</summary>
    public int? ImageHeight { get; init; }

    /// <summary>If set, the model must take this many channels (1 or 3).</summary>
    public int? ImageChannels { get; init; }

    /// <summary>The decoder settings for a model input of the given geometry.</summary>
    internal ImageDecodeOptions DecodeOptions(int width, int height, int channels, ImageResizeMode? describedResize) => new()
    {
        Width = width,
        Height = height,
        Channels = channels,
        ResizeMode = describedResize ?? ResizeMode,
        MaxPixels = MaxPixels,
        MaxSourcePixels = MaxSourcePixels,
        MaxEncodedBytes = MaxEncodedBytes,
        ApplyExifOrientation = ApplyExifOrientation,
        ReducedScaleDecoding = ReducedScaleDecoding,
        Background = Background,
    };

    internal void Validate()
    {
        if (BatchSize is < 1 or > 4096)
        {
            throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be within 1..4096.");
        }
        if (DecodeParallelism is < 1 or > 256)
        {
            throw new ArgumentOutOfRangeException(nameof(DecodeParallelism), DecodeParallelism, "DecodeParallelism must be within 1..256.");
        }
        if (IntraOpNumThreads < 0 || InterOpNumThreads < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(IntraOpNumThreads), "ONNX Runtime thread counts must be 0 (ONNX Runtime's choice) or more.");
        }
    }
}
