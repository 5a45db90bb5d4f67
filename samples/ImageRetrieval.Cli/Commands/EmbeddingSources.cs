using ImageRetrieval.ML.Datasets;
using ImageRetrieval.Training.Checkpoints;
using ImageRetrieval.Training.Networks;
using ImageRetrieval.Training.Training;

namespace ImageRetrieval.Cli.Commands;

/// <summary>
/// Something that turns images into embeddings for <c>imgret eval</c>. A training checkpoint today;
/// an ONNX model (through ML.NET / ONNX Runtime) plugs in beside it.
/// </summary>
internal interface IEmbeddingSource : IDisposable
{
    /// <summary>What is being evaluated, for the report (e.g. the file name).</summary>
    string Description { get; }

    /// <summary>Input channels, height and width the source expects.</summary>
    (int Channels, int Height, int Width) InputShape { get; }

    /// <summary>Embedding length.</summary>
    int Dimension { get; }

    /// <summary><c>l2</c> or <c>cosine</c>.</summary>
    string Metric { get; }

    /// <summary>Embeds every image of <paramref name="set"/>, row after row.</summary>
    float[] Embed(LabeledImageSet set, IProgress<int>? progress);
}

/// <summary>Embeddings from a TorchSharp network: a training checkpoint, or the ImageNet ResNet-18 features with no training.</summary>
internal sealed class CheckpointEmbeddingSource : IEmbeddingSource
{
    private readonly EmbeddingNetwork _network;

    public CheckpointEmbeddingSource(string path)
    {
        _network = CheckpointFile.Load(path, out CheckpointInfo info);
        Metric = info.Metric;
        Description = $"{Path.GetFileName(path)} ({info.Spec.Architecture}, {info.Spec.EmbeddingDimension}-d, epoch {info.Epoch}, trained on {info.TrainingDataset})";
    }

    private CheckpointEmbeddingSource(EmbeddingNetwork network, string metric, string description)
    {
        _network = network;
        Metric = metric;
        Description = description;
    }

    /// <summary>ML.NET's ImageNet ResNet-18 (the packaged ResNet18.onnx): its 512 pooled features, L2-normalised, at <paramref name="size"/> × <paramref name="size"/>.</summary>
    public static CheckpointEmbeddingSource ImageNetFeatures(int size) =>
        new(ResNet18Weights.CreateImageNetFeatureNetwork(size, size), "l2",
            $"ImageNet ResNet-18 features ({ResNet18Weights.PackageId} {ResNet18Weights.PackageVersion}, 512-d pooled, no training, {size}x{size} RGB)");

    public string Description { get; }

    public (int Channels, int Height, int Width) InputShape => (_network.Spec.Channels, _network.Spec.Height, _network.Spec.Width);

    public int Dimension => _network.Spec.EmbeddingDimension;

    public string Metric { get; }

    public float[] Embed(LabeledImageSet set, IProgress<int>? progress) => NetworkEmbedder.Embed(_network, set, 500, progress);

    public void Dispose() => _network.Dispose();
}

/// <summary>The raw-pixel baseline: each image's 0–255 pixels as one vector, compared by Euclidean distance.</summary>
internal sealed class RawPixelSource(int channels, int size) : IEmbeddingSource
{
    public string Description => $"raw pixels ({channels}x{size}x{size}, Euclidean)";

    public (int Channels, int Height, int Width) InputShape => (channels, size, size);

    public int Dimension => channels * size * size;

    public string Metric => "l2";

    public float[] Embed(LabeledImageSet set, IProgress<int>? progress)
    {
        var vectors = new float[set.Pixels.Length];
        System.Numerics.Tensors.TensorPrimitives.ConvertChecked(set.Pixels, vectors.AsSpan());
        progress?.Report(set.Count);
        return vectors;
    }

    public void Dispose()
    {
    }
}

/// <summary>Embeddings from an exported ONNX model, scored by ONNX Runtime in batches (what the search side runs).</summary>
internal sealed class OnnxEmbeddingSource : IEmbeddingSource
{
    private readonly ImageRetrieval.ML.Embedding.ImageEmbedder _embedder;

    public OnnxEmbeddingSource(string path, int threads)
    {
        _embedder = new ImageRetrieval.ML.Embedding.ImageEmbedder(path, new ImageRetrieval.ML.Embedding.ImageEmbedderOptions
        {
            BatchSize = 256,
            IntraOpNumThreads = Math.Max(1, threads),
        });
        var metadata = _embedder.Metadata;
        Metric = metadata.Metric;
        Description = $"{Path.GetFileName(path)} ({metadata.Architecture}, {metadata.EmbeddingDimension}-d, trained on {metadata.TrainingDataset}; ONNX Runtime {_embedder.ExecutionProvider})";
    }

    public string Description { get; }

    public (int Channels, int Height, int Width) InputShape => (_embedder.Metadata.InputChannels, _embedder.Metadata.InputHeight, _embedder.Metadata.InputWidth);

    public int Dimension => _embedder.Dimension;

    public string Metric { get; }

    public float[] Embed(LabeledImageSet set, IProgress<int>? progress)
    {
        var adapter = progress is null ? null : new SynchronousProgress(p => progress.Report(p.Completed));
        return _embedder.EmbedImageSet(set, adapter);
    }

    public void Dispose() => _embedder.Dispose();

    private sealed class SynchronousProgress(Action<ImageRetrieval.ML.Embedding.ImageEmbeddingProgress> report) : IProgress<ImageRetrieval.ML.Embedding.ImageEmbeddingProgress>
    {
        public void Report(ImageRetrieval.ML.Embedding.ImageEmbeddingProgress value) => report(value);
    }
}
