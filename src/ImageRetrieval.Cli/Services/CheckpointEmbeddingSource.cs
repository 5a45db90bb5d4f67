using ImageRetrieval.Datasets;
using ImageRetrieval.ML.Indexing;
using ImageRetrieval.Training;
using ImageRetrieval.Training.Checkpoints;
using ImageRetrieval.Training.Networks;

namespace ImageRetrieval.Cli.Services;

/// <summary>Embeddings from a TorchSharp network: a training checkpoint, or the ImageNet ResNet-18 features with no training.</summary>
internal sealed class CheckpointEmbeddingSource : IEmbeddingSource
{
    private readonly EmbeddingNetwork _network;

    public CheckpointEmbeddingSource(string path)
    {
        _network = CheckpointFile.Load(path, out CheckpointInfo info);
        Metric = DistanceMetricNames.Parse(info.Metric, $"checkpoint '{path}'");
        Description = $"{Path.GetFileName(path)} ({info.Spec.Architecture}, {_network.OutputDimension}-d, epoch {info.Epoch}, trained on {info.TrainingDataset})";
    }

    private CheckpointEmbeddingSource(EmbeddingNetwork network, DistanceMetric metric, string description)
    {
        _network = network;
        Metric = metric;
        Description = description;
    }

    public string Description { get; }

    public (int Channels, int Height, int Width) InputShape => (_network.Spec.Channels, _network.Spec.Height, _network.Spec.Width);

    public int Dimension => _network.OutputDimension;

    public DistanceMetric Metric { get; }

    /// <summary>ML.NET's ImageNet ResNet-18 (the packaged ResNet18.onnx): its 512 pooled features, L2-normalised, at <paramref name="size"/> × <paramref name="size"/>.</summary>
    public static CheckpointEmbeddingSource ImageNetFeatures(int size) =>
        new(ResNet18Weights.CreateImageNetFeatureNetwork(size, size), DistanceMetric.SquaredL2,
            $"ImageNet ResNet-18 features ({ResNet18Weights.PackageId} {ResNet18Weights.PackageVersion}, 512-d pooled, no training, {size}x{size} RGB)");

    public float[] Embed(LabeledImageSet set, IProgress<int>? progress) => NetworkEmbedder.Embed(_network, set, 500, progress);

    public void Dispose() => _network.Dispose();
}
