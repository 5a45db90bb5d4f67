using ImageRetrieval.Datasets;
using ImageRetrieval.ML.Indexing;

namespace ImageRetrieval.Cli.Services;

/// <summary>
/// Something that turns a labelled image set into embeddings for <c>imgret eval</c>: a training checkpoint, an ONNX model,
/// the ImageNet ResNet-18 features, or the raw pixels.
/// </summary>
internal interface IEmbeddingSource : IDisposable
{
    /// <summary>What is being evaluated, for the report (e.g. the file name).</summary>
    string Description { get; }

    /// <summary>Input channels, height and width the source expects.</summary>
    (int Channels, int Height, int Width) InputShape { get; }

    /// <summary>Embedding length.</summary>
    int Dimension { get; }

    /// <summary>The distance the embeddings are compared with.</summary>
    DistanceMetric Metric { get; }

    /// <summary>Embeds every image of <paramref name="set"/>, row after row.</summary>
    float[] Embed(LabeledImageSet set, IProgress<int>? progress);
}
