using ImageRetrieval.Cli.Output;
using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Models;
using ImageRetrieval.ML.Search;

namespace ImageRetrieval.Cli.Services;

/// <summary>How index, search and demo create and open indexes.</summary>
internal static class SearchSession
{
    /// <summary>Embedder settings of the search commands: one ONNX Runtime thread, <paramref name="decodeThreads"/> decoders, batches of 64.</summary>
    public static ImageEmbedderOptions EmbedderOptions(int decodeThreads) => new()
    {
        IntraOpNumThreads = 1,
        DecodeParallelism = Math.Max(1, decodeThreads),
        BatchSize = ImageEmbedderOptions.Defaults.BatchSize,
    };

    /// <summary>Opens a saved index with its recorded model (or <paramref name="model"/>) and gallery root (or <paramref name="gallery"/>).</summary>
    /// <exception cref="FileNotFoundException">The recorded model no longer exists.</exception>
    public static ImageSearchIndex Open(string indexDirectory, string? model, string? gallery)
    {
        ImageSearchIndexInfo info = ImageSearchIndex.ReadInfo(indexDirectory);
        string modelPath = model is not null ? ModelArgument.Resolve(model) : info.ModelPath
            ?? throw new ArgumentException($"Index '{indexDirectory}' does not record its model's path; pass --model.");
        if (model is null && !File.Exists(modelPath))
        {
            // A pretrained model whose cache was cleared is built again (its content is deterministic, so the SHA-256 matches).
            modelPath = PretrainedModels.Find(info.ModelFileName ?? "") is { } pretrained
                ? pretrained.GetModelPath()
                : throw new FileNotFoundException($"The model recorded in the index ('{modelPath}') no longer exists; pass --model with the model the index was built with.", modelPath);
        }
        return ImageSearchIndex.Open(indexDirectory, modelPath, gallery, EmbedderOptions(1), ConsoleLogger.Instance);
    }
}
