using ImageRetrieval.ML.Models;

namespace ImageRetrieval.Training.Onnx;

/// <summary>How <see cref="OnnxExporter"/> writes a model: graph names, opset, pixel scale and the metadata the search side reads.</summary>
public sealed record OnnxExportOptions
{
    /// <summary>The lowest ONNX opset the exporter writes.</summary>
    public const int MinimumOpset = 17;

    /// <summary>The highest ONNX opset the exporter writes (ONNX Runtime 1.31 runs it).</summary>
    public const int MaximumOpset = 21;

    /// <summary>The distance the embeddings are meant for: <c>cosine</c> (default) or <c>l2</c>.</summary>
    public string Metric { get; init; } = "cosine";

    /// <summary>The dataset the network was trained on, e.g. <c>fashion-mnist</c>.</summary>
    public string TrainingDataset { get; init; } = "unknown";

    /// <summary>
    /// The factor the search side's <c>ExtractPixels</c> applies to 0–255 pixels (its <c>scaleImage</c>).
    /// The graph undoes it, so the exported model computes the same function as the network on 0–255 pixels.
    /// </summary>
    public float PixelScale { get; init; } = 1f;

    /// <summary>ONNX default-domain opset, <see cref="MinimumOpset"/>..<see cref="MaximumOpset"/>; 17 by default.</summary>
    public int Opset { get; init; } = MinimumOpset;

    /// <summary>Name of the graph input (planar float pixels <c>[N, C, H, W]</c>).</summary>
    public string InputName { get; init; } = "pixels";

    /// <summary>Name of the graph output (L2-normalised embeddings <c>[N, D]</c>).</summary>
    public string OutputName { get; init; } = "embedding";

    /// <summary>
    /// Fold each BatchNorm2d that directly follows a Conv2d into that convolution's weights and bias
    /// (default). When false, BatchNormalization nodes are written with the running statistics.
    /// </summary>
    public bool FoldBatchNorm { get; init; } = true;

    /// <summary>Checks the values.</summary>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public void Validate()
    {
        if (Opset is < MinimumOpset or > MaximumOpset)
        {
            throw new ArgumentException($"Opset {Opset} is not supported; the exporter writes opsets {MinimumOpset}..{MaximumOpset}.", nameof(Opset));
        }
        if (Metric is not ("cosine" or "l2"))
        {
            throw new ArgumentException($"Metric '{Metric}' is not 'cosine' or 'l2'.", nameof(Metric));
        }
        if (!(PixelScale > 0) || float.IsInfinity(PixelScale))
        {
            throw new ArgumentException($"PixelScale {PixelScale} must be a positive number.", nameof(PixelScale));
        }
        if (string.IsNullOrWhiteSpace(InputName) || string.IsNullOrWhiteSpace(OutputName) || InputName == OutputName)
        {
            throw new ArgumentException("InputName and OutputName must be non-empty and different.", nameof(InputName));
        }
        if (string.IsNullOrWhiteSpace(TrainingDataset))
        {
            throw new ArgumentException("TrainingDataset must be non-empty (use 'unknown').", nameof(TrainingDataset));
        }
    }

    /// <summary>The ONNX IR version that goes with <paramref name="opset"/> (IR 8 for opsets 17–18, 9 for 19–20, 10 for 21).</summary>
    internal static long IrVersionFor(int opset) => opset switch
    {
        <= 18 => 8,
        <= 20 => 9,
        _ => 10,
    };

    internal EmbeddingModelMetadata Metadata(Networks.NetworkSpec spec, int outputDimension) => new()
    {
        InputWidth = spec.Width,
        InputHeight = spec.Height,
        InputChannels = spec.Channels,
        PixelScale = PixelScale,
        EmbeddingDimension = outputDimension,
        Metric = Metric,
        Architecture = spec.Architecture,
        TrainingDataset = TrainingDataset,
        InputName = InputName,
        OutputName = OutputName,
    };
}
