using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Networks;

/// <summary>
/// A siamese embedding network: <c>preprocess → features → normalize</c>. The same weights embed
/// anchors, positives and negatives. Input: raw planar pixels <c>[N, C, H, W]</c> in 0–255; output:
/// L2-normalised embeddings <c>[N, D]</c>.
/// </summary>
/// <remarks>
/// <c>features</c> is a <see cref="Sequential"/> of the module types the ONNX exporter maps, so every
/// architecture the factory builds can be exported. Field names are the saved-weight keys.
/// </remarks>
public sealed class EmbeddingNetwork : nn.Module<Tensor, Tensor>
{
    private readonly PixelNormalization preprocess;
    private readonly Sequential features;
    private readonly L2Normalize normalize;

    internal EmbeddingNetwork(NetworkSpec spec, Sequential features) : base("EmbeddingNetwork")
    {
        Spec = spec;
        preprocess = new PixelNormalization(spec.Mean, spec.Std);
        this.features = features;
        normalize = new L2Normalize();
        RegisterComponents();
    }

    /// <summary>How the network was built.</summary>
    public NetworkSpec Spec { get; }

    internal PixelNormalization Preprocess => preprocess;

    internal Sequential Features => features;

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        var x = preprocess.forward(input);
        x = features.forward(x);
        return normalize.forward(x);
    }
}
