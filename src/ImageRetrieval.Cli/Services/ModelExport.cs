using ImageRetrieval.Cli.Output;
using ImageRetrieval.Datasets;
using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Models;
using ImageRetrieval.Training.Checkpoints;
using ImageRetrieval.Training.Networks;
using ImageRetrieval.Training.Onnx;
using TorchSharp;

namespace ImageRetrieval.Cli.Services;

/// <summary>Checkpoint → ONNX model, and the parity check both <c>imgret export</c> and <c>imgret train --out</c> run.</summary>
internal static class ModelExport
{
    /// <summary>Images the parity check compares on.</summary>
    public const int ParityImages = 64;

    /// <summary>Exports with the checkpoint's metric and dataset in the metadata.</summary>
    public static EmbeddingModelMetadata Export(EmbeddingNetwork network, CheckpointInfo info, string path, int opset = OnnxExportOptions.MinimumOpset) =>
        OnnxExporter.Export(network, path, new OnnxExportOptions { Metric = info.Metric, TrainingDataset = info.TrainingDataset, Opset = opset });

    /// <summary>
    /// Max |difference| between TorchSharp (evaluation mode) and ONNX Runtime on <see cref="ParityImages"/> inputs: real
    /// Fashion-MNIST test images when the shapes fit and the data is installed, seeded random pixels otherwise.
    /// </summary>
    public static float Verify(EmbeddingNetwork network, string modelPath)
    {
        NetworkSpec spec = network.Spec;
        int count = ParityImages, length = spec.Channels * spec.Height * spec.Width;
        var pixels = new float[count * length];
        if (spec.Channels == 1 && spec.Height == FashionMnist.ImageSide && spec.Width == FashionMnist.ImageSide && TryLoadFashion(count) is { } set)
        {
            for (int i = 0; i < pixels.Length; i++)
            {
                pixels[i] = set.Pixels[i];
            }
        }
        else
        {
            var random = new Random(1);
            for (int i = 0; i < pixels.Length; i++)
            {
                pixels[i] = random.Next(256);
            }
        }
        using var embedder = new ImageEmbedder(modelPath, new ImageEmbedderOptions { BatchSize = count, IntraOpNumThreads = 1 }, ConsoleLogger.Instance);
        var onnx = new float[count * embedder.Dimension];
        embedder.EmbedPixels(pixels, count, onnx);

        network.eval();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        float[] reference = network.forward(torch.tensor(pixels, [count, spec.Channels, spec.Height, spec.Width])).data<float>().ToArray();
        float max = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            max = Math.Max(max, Math.Abs(reference[i] - onnx[i]));
        }
        return max;
    }

    private static LabeledImageSet? TryLoadFashion(int count)
    {
        try
        {
            return FashionMnist.Load(FashionMnist.Split.Test, maxItems: count);
        }
        catch (Exception e) when (e is DirectoryNotFoundException or InvalidDataException)
        {
            return null;
        }
    }
}
