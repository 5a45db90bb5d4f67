using ImageRetrieval.ML.Imaging;

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

    /// <summary>How images are fitted to the model's input size (ML.NET's <c>ResizeImages</c> kinds; default IsoCrop, as ML.NET).</summary>
    public ImageResizeMode ResizeMode { get; init; } = ImageResizeMode.IsoCrop;

    /// <summary>Images declaring more pixels are refused before decoding.</summary>
    public long MaxPixels { get; init; } = ImageDecodeOptions.Defaults.MaxPixels;

    /// <summary>Encoded images larger than this are refused before reading.</summary>
    public long MaxEncodedBytes { get; init; } = ImageDecodeOptions.Defaults.MaxEncodedBytes;

    /// <summary>If set, the model must take images of this width (a mismatch fails at construction).</summary>
    public int? ImageWidth { get; init; }

    /// <summary>If set, the model must take images of this height.</summary>
    public int? ImageHeight { get; init; }

    /// <summary>If set, the model must take this many channels (1 or 3).</summary>
    public int? ImageChannels { get; init; }

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
