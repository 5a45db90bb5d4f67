using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Networks;

/// <summary>
/// A siamese embedding network: <c>preprocess → features → normalize</c>. The same weights embed
/// anchors, positives and negatives. Input: raw planar pixels <c>[N, C, H, W]</c> in 0–255; output:
/// L2-normalised embeddings <c>[N, D]</c> — the head's output, or, when <see cref="NetworkSpec.EmbeddingLayers"/> names
/// layers, their outputs flattened, normalised and concatenated (<see cref="OutputDimension"/> long; the losses train the
/// head's output then, see <see cref="ForwardHead"/>).
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
        if (spec.EmbedsLayers)
        {
            var names = features.named_children().Select(c => c.name).ToList();
            var unknown = spec.EmbeddingLayers!.Where(l => !names.Contains(l)).ToList();
            if (unknown.Count > 0)
            {
                throw new ArgumentException(
                    $"The '{spec.Architecture}' network has no layer {string.Join(", ", unknown.Select(u => $"'{u}'"))} to embed from; its layers: {string.Join(", ", names)}.", nameof(spec));
            }
        }
        OutputDimension = TraceOutputDimension();
    }

    /// <summary>
    /// Length of the network's output: <see cref="NetworkSpec.EmbeddingDimension"/>, or with
    /// <see cref="NetworkSpec.EmbeddingLayers"/> the summed sizes of those layers' outputs.
    /// </summary>
    public int OutputDimension { get; }

    /// <summary>How the network was built.</summary>
    public NetworkSpec Spec { get; }

    internal PixelNormalization Preprocess => preprocess;

    internal Sequential Features => features;

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        if (!Spec.EmbedsLayers)
        {
            return ForwardHead(input);
        }
        BackboneImages += input.shape[0];
        var layers = Spec.EmbeddingLayers!;
        var parts = new Dictionary<string, Tensor>(layers.Length, StringComparer.Ordinal);
        var x = preprocess.forward(input);
        foreach (var (name, module) in features.named_children())
        {
            x = ((nn.Module<Tensor, Tensor>)module).forward(x);
            if (layers.Contains(name))
            {
                parts[name] = normalize.forward(x.flatten(1));
                if (parts.Count == layers.Length)
                {
                    break; // the layers after the last one embedded do not matter
                }
            }
        }
        // Concatenated in the spec's order (as the ONNX exporter does), whatever the layers' order in the network. Each
        // part is a unit vector; scaling their concatenation by 1/√count makes it one too.
        return layers.Length == 1 ? parts[layers[0]] : torch.cat(layers.Select(l => parts[l]).ToArray(), 1).div(Math.Sqrt(layers.Length));
    }

    /// <summary>
    /// The head's L2-normalised output <c>[N, <see cref="NetworkSpec.EmbeddingDimension"/>]</c>: what the losses train.
    /// The same as <c>forward</c> unless <see cref="NetworkSpec.EmbeddingLayers"/> names layers.
    /// </summary>
    internal Tensor ForwardHead(Tensor input)
    {
        BackboneImages += input.shape[0];
        var x = preprocess.forward(input);
        x = features.forward(x);
        return normalize.forward(x);
    }

    // One zero image through the network in evaluation mode (batch norm on its running statistics, which stay unchanged).
    private int TraceOutputDimension()
    {
        if (!Spec.EmbedsLayers)
        {
            return Spec.EmbeddingDimension;
        }
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        bool wasTraining = training;
        long images = BackboneImages;
        eval();
        try
        {
            return (int)forward(torch.zeros(1, Spec.Channels, Spec.Height, Spec.Width)).shape[1];
        }
        finally
        {
            train(wasTraining);
            BackboneImages = images;
        }
    }

    /// <summary>How batch-norm layers behave while the network is in training mode (see <see cref="SetBatchNormMode"/>).</summary>
    public BatchNormMode BatchNormMode { get; private set; } = BatchNormMode.Train;

    /// <summary>
    /// Chooses whether batch-norm layers use batch statistics and update their running statistics during
    /// training (<see cref="BatchNormMode.Train"/>, the default) or keep using the stored running statistics
    /// (<see cref="BatchNormMode.Eval"/>, usual when fine-tuning a pretrained backbone with small batches).
    /// The choice survives later <c>train()</c> calls; <c>eval()</c> always puts every layer in eval mode.
    /// </summary>
    public void SetBatchNormMode(BatchNormMode mode)
    {
        if (!Enum.IsDefined(mode))
        {
            throw new ArgumentOutOfRangeException(nameof(mode), mode, "Expected Train or Eval.");
        }
        BatchNormMode = mode;
        train(training);
    }

    /// <inheritdoc />
    public override void train(bool train = true)
    {
        base.train(train);
        if (train && BatchNormMode == BatchNormMode.Eval)
        {
            foreach (var module in modules().OfType<BatchNorm>())
            {
                module.eval();
            }
        }
    }

    /// <summary>
    /// Freezes everything but the embedding head (the last <see cref="Linear"/> layer of <c>features</c>):
    /// their parameters get <c>requires_grad = false</c>, so optimizers leave them unchanged. Combine with
    /// <see cref="SetBatchNormMode"/>(<see cref="BatchNormMode.Eval"/>) to also keep batch-norm statistics fixed.
    /// </summary>
    public void FreezeBackbone()
    {
        var head = HeadLayer;
        foreach (var parameter in features.parameters())
        {
            parameter.requires_grad = false;
        }
        foreach (var parameter in head.parameters())
        {
            parameter.requires_grad = true;
        }
    }

    /// <summary>Makes every parameter trainable again.</summary>
    public void UnfreezeAll()
    {
        foreach (var parameter in features.parameters())
        {
            parameter.requires_grad = true;
        }
    }

    /// <summary>
    /// ResNet fine-tuning: freezes the backbone, then makes the head and the last <paramref name="count"/>
    /// residual stages trainable (1 = <c>layer4</c>, 2 = <c>layer3</c> and <c>layer4</c>, … 4 = all stages;
    /// the stem <c>conv1</c>/<c>bn1</c> stays frozen — use <see cref="UnfreezeAll"/> for it).
    /// </summary>
    /// <exception cref="InvalidOperationException">The architecture has no residual stages.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is outside 0..4.</exception>
    public void UnfreezeStages(int count)
    {
        if (Spec.Architecture != NetworkFactory.ResNet18)
        {
            throw new InvalidOperationException($"UnfreezeStages applies to residual networks ({NetworkFactory.ResNet18}); this network is '{Spec.Architecture}'. Use FreezeBackbone or UnfreezeAll.");
        }
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, ResNet18.StageNames.Count);
        FreezeBackbone();
        var stages = features.named_children().ToDictionary(c => c.name, c => c.module, StringComparer.Ordinal);
        foreach (string name in ResNet18.StageNames.Skip(ResNet18.StageNames.Count - count))
        {
            foreach (var parameter in stages[name].parameters())
            {
                parameter.requires_grad = true;
            }
        }
    }

    /// <summary>Runs <c>features</c> up to, not including, the embedding head: the backbone's pooled features.</summary>
    internal Tensor ForwardBackbone(Tensor preprocessed)
    {
        BackboneImages += preprocessed.shape[0];
        using var scope = torch.NewDisposeScope();
        var head = HeadLayer;
        var x = preprocessed;
        foreach (var (_, module) in features.named_children())
        {
            if (ReferenceEquals(module, head))
            {
                break;
            }
            x = ((nn.Module<Tensor, Tensor>)module).forward(x);
        }
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Images that have gone through the backbone (<c>forward</c> or <see cref="ForwardBackbone"/>) since the network was
    /// built: how tests tell a run that embeds every image once from one that runs the backbone every epoch.
    /// </summary>
    internal long BackboneImages { get; private set; }

    /// <summary>
    /// The embedding head: the last <see cref="Linear"/> layer of <c>features</c>, which must also be its last module, so the
    /// network is <c>normalize(head(ForwardBackbone(preprocess(x))))</c> — what training on cached features relies on.
    /// </summary>
    internal Linear HeadLayer
    {
        get
        {
            var head = features.children().OfType<Linear>().LastOrDefault()
                ?? throw new InvalidOperationException($"The '{Spec.Architecture}' network has no Linear embedding head in its features.");
            if (!ReferenceEquals(features.children().Last(), head))
            {
                throw new InvalidOperationException($"The '{Spec.Architecture}' network's Linear embedding head is not its last layer.");
            }
            return head;
        }
    }
}

/// <summary>Batch-norm behaviour during training; see <see cref="EmbeddingNetwork.SetBatchNormMode"/>.</summary>
public enum BatchNormMode
{
    /// <summary>Normalise with batch statistics and update the running statistics (PyTorch's training behaviour).</summary>
    Train,

    /// <summary>Normalise with the stored running statistics and leave them unchanged, even while training.</summary>
    Eval,
}
