using ImageRetrieval.Cli.Output;
using ImageRetrieval.Datasets;
using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Indexing;

namespace ImageRetrieval.Cli.Services;

/// <summary>Embeddings from an exported ONNX model, scored by ONNX Runtime in batches (what the search side runs).</summary>
internal sealed class OnnxEmbeddingSource : IEmbeddingSource
{
    private readonly ImageEmbedder _embedder;

    public OnnxEmbeddingSource(string path, int threads)
    {
        _embedder = new ImageEmbedder(path, new ImageEmbedderOptions { BatchSize = 256, IntraOpNumThreads = Math.Max(1, threads) }, ConsoleLogger.Instance);
        var metadata = _embedder.Metadata;
        Description = $"{Path.GetFileName(path)} ({metadata.Architecture}, {metadata.EmbeddingDimension}-d, trained on {metadata.TrainingDataset}; ONNX Runtime {_embedder.ExecutionProvider})";
    }

    public string Description { get; }

    public (int Channels, int Height, int Width) InputShape => (_embedder.Metadata.InputChannels, _embedder.Metadata.InputHeight, _embedder.Metadata.InputWidth);

    public int Dimension => _embedder.Dimension;

    public DistanceMetric Metric => _embedder.Metadata.DistanceMetric;

    public float[] Embed(LabeledImageSet set, IProgress<int>? progress) =>
        _embedder.EmbedImageSet(set, progress is null ? null : new SynchronousProgress<ImageEmbeddingProgress>(p => progress.Report(p.Completed)));

    public void Dispose() => _embedder.Dispose();
}
