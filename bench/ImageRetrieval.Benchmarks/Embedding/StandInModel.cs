using ImageRetrieval.ML.Models;
using ImageRetrieval.Tests;

namespace ImageRetrieval.Benchmarks.Embedding;

/// <summary>
/// The model the embedding numbers were measured with until the exporter's model ships: the shape of the trainer's
/// default <c>convnet</c> for Fashion-MNIST (1×28×28 grey input, 3 stages of two 3×3 convs with 32/64/128 channels,
/// batch-norm folded, global average pooling, Gemm to 64, L2 norm), random seeded weights.
/// </summary>
internal static class StandInModel
{
    public const int Dimension = 64;

    /// <summary>Writes the stand-in: <c>convnet</c> (default) or <c>gemm</c> (Flatten → Gemm(64) → L2: nearly free compute, to expose per-row overhead).</summary>
    public static void Write(string path, string kind = "convnet")
    {
        var metadata = new EmbeddingModelMetadata
        {
            InputChannels = 1,
            InputHeight = 28,
            InputWidth = 28,
            PixelScale = 1f / 255,
            EmbeddingDimension = Dimension,
            Architecture = kind + "-standin",
            TrainingDataset = "none (random weights)",
            InputName = "pixels",
            OutputName = "embedding",
        };
        byte[] model = kind switch
        {
            "convnet" => TinyOnnxModel.ConvNetL2(1, 28, 28, Dimension, seed: 42, metadata.ToDictionary(), "pixels", "embedding"),
            "gemm" => TinyOnnxModel.FlattenGemmL2(1, 28, 28, Dimension, seed: 42, metadata.ToDictionary(), "pixels", "embedding"),
            _ => throw new ArgumentException($"Unknown stand-in '{kind}': convnet or gemm."),
        };
        File.WriteAllBytes(path, model);
    }
}
