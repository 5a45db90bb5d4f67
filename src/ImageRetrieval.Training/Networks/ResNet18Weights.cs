using System.Runtime.InteropServices;
using ImageRetrieval.ML.Models;
using ImageRetrieval.Training.Onnx;
using ImageRetrieval.Training.Onnx.Protobuf;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Networks;

/// <summary>
/// ImageNet weights for the <c>resnet18</c> backbone, imported from the CNTK-exported
/// <c>ResNet18.onnx</c> that the NuGet package <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c> ships.
/// </summary>
/// <remarks>
/// <para>The CNTK model takes <b>BGR</b> planes in 0–255 minus a per-pixel ImageNet mean image (ML.NET's
/// <c>ResNetPreprocess.onnx</c>). The import flips the first convolution's input channels so the
/// TorchSharp network takes <b>R, G, B</b> planes (what ExtractPixels produces), and
/// <see cref="CreateSpec"/> sets the network's per-channel normalisation to the mean image's
/// per-channel averages (<see cref="ImageNetMeanRgb"/>) with std 1, so an RGB 0–255 input is
/// preprocessed inside the network at any input size.</para>
/// <para>Only the backbone (conv1 … layer4) is imported; the embedding head <c>fc</c> keeps its initialisation.</para>
/// </remarks>
public static class ResNet18Weights
{
    /// <summary>NuGet package id that ships the model (<see cref="ResNet18FeaturizerPackage.PackageId"/>).</summary>
    public const string PackageId = ResNet18FeaturizerPackage.PackageId;

    /// <summary>The package version pinned in <c>Directory.Packages.props</c>.</summary>
    public static string PackageVersion => ResNet18FeaturizerPackage.PackageVersion;

    /// <summary>Path of the model inside the package folder.</summary>
    public const string PathInPackage = ResNet18FeaturizerPackage.ModelPathInPackage;

    /// <summary>Path of ML.NET's companion preprocessing model inside the package folder.</summary>
    public const string PreprocessPathInPackage = ResNet18FeaturizerPackage.PreprocessPathInPackage;

    private const int ConvCount = 22;
    private const int BatchNormCount = 22;
    private const int AddCount = 9;

    /// <summary>
    /// Per-channel (R, G, B) averages of the 224×224 ImageNet mean image that <c>ResNetPreprocess.onnx</c>
    /// subtracts, in 0–255 pixel units (a test recomputes them from the package file).
    /// </summary>
    public static IReadOnlyList<float> ImageNetMeanRgb { get; } = [123.15163f, 115.90288f, 103.06262f];

    /// <summary>A <c>resnet18</c> spec whose in-network preprocessing matches the imported ImageNet weights (RGB 0–255 input).</summary>
    public static NetworkSpec CreateSpec(int height, int width, int embeddingDimension) =>
        new(NetworkFactory.ResNet18, 3, height, width, embeddingDimension, ImageNetMeanRgb.ToArray(), [1f, 1f, 1f]);

    /// <summary>
    /// Finds the package's <c>ResNet18.onnx</c>: next to the application (where the package's build props copy
    /// it), under <c>$NUGET_PACKAGES</c>, or under <c>~/.nuget/packages</c> (<see cref="ResNet18FeaturizerPackage.Find"/>). Null when none exists.
    /// </summary>
    public static string? FindPackagedModel() => ResNet18FeaturizerPackage.Find(PathInPackage);

    /// <summary>
    /// Like <see cref="FindPackagedModel"/>, but a missing model is an error that names the package, its
    /// version and every path looked at.
    /// </summary>
    /// <exception cref="FileNotFoundException">No candidate path holds <c>ResNet18.onnx</c>.</exception>
    public static string RequirePackagedModel() => ResNet18FeaturizerPackage.Require(PathInPackage);

    /// <summary>
    /// A <c>resnet18</c> network that outputs the ImageNet backbone's 512 pooled features, L2-normalised,
    /// with no training: the ImageNet weights are imported and the embedding head is the 512 × 512 identity
    /// (zero bias). It is an ordinary <see cref="EmbeddingNetwork"/>, so it evaluates, checkpoints and
    /// exports to ONNX like a trained one.
    /// </summary>
    /// <param name="height">Input height (at least 32).</param>
    /// <param name="width">Input width (at least 32).</param>
    /// <param name="resnet18OnnxPath">The package's <c>ResNet18.onnx</c>; <see langword="null"/>: <see cref="RequirePackagedModel"/>.</param>
    /// <exception cref="ArgumentException">The size is too small.</exception>
    /// <exception cref="FileNotFoundException">The weights file is missing.</exception>
    /// <exception cref="InvalidDataException">The file is not the expected ResNet-18 graph.</exception>
    public static EmbeddingNetwork CreateImageNetFeatureNetwork(int height, int width, string? resnet18OnnxPath = null)
    {
        string path = resnet18OnnxPath ?? RequirePackagedModel();
        var network = NetworkFactory.Create(CreateSpec(height, width, ResNet18.FeatureWidth));
        try
        {
            ImportImageNet(network, path);
            SetIdentityHead(network);
            network.eval();
            return network;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    // The head of a 512-d resnet18 becomes the identity, so the embedding is the pooled backbone features.
    private static void SetIdentityHead(EmbeddingNetwork network)
    {
        var head = network.Features.named_children().Single(c => c.name == ResNet18.HeadName).module as Linear
            ?? throw new InvalidOperationException($"The network's '{ResNet18.HeadName}' layer is not Linear.");
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        head.weight!.copy_(torch.eye(ResNet18.FeatureWidth));
        head.bias!.zero_();
    }

    /// <summary>
    /// Copies the ImageNet ResNet-18 weights of <paramref name="resnet18OnnxPath"/> into the backbone of
    /// <paramref name="network"/>. Every Conv / BatchNormalization node is matched, in graph order, to the
    /// TorchSharp module at the same position (CNTK writes a stage's 1×1 shortcut before the block's main
    /// path), and its tensor shapes, kernel, stride, padding and epsilon must agree; any mismatch fails
    /// with an <see cref="InvalidDataException"/> naming the ONNX node and the module path.
    /// </summary>
    /// <param name="network">A <c>resnet18</c> network built from <see cref="CreateSpec"/>.</param>
    /// <param name="resnet18OnnxPath">The package's <c>ResNet18.onnx</c> (see <see cref="FindPackagedModel"/>).</param>
    /// <exception cref="ArgumentException">The network is not a resnet18 with ImageNet preprocessing.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not the expected ResNet-18 graph.</exception>
    public static void ImportImageNet(EmbeddingNetwork network, string resnet18OnnxPath)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentException.ThrowIfNullOrEmpty(resnet18OnnxPath);
        var spec = network.Spec;
        if (spec.Architecture != NetworkFactory.ResNet18)
        {
            throw new ArgumentException($"ImageNet weights fit the '{NetworkFactory.ResNet18}' architecture, not '{spec.Architecture}'.", nameof(network));
        }
        var expectedMean = ImageNetMeanRgb;
        if (spec.Mean.Zip(expectedMean).Any(p => Math.Abs(p.First - p.Second) > 1e-3f) || spec.Std.Any(s => Math.Abs(s - 1f) > 1e-6f))
        {
            throw new ArgumentException(
                $"The network normalises with mean [{string.Join(", ", spec.Mean)}] / std [{string.Join(", ", spec.Std)}], but the ImageNet weights expect RGB 0–255 pixels minus [{string.Join(", ", expectedMean)}] with std 1. Build it from ResNet18Weights.CreateSpec.",
                nameof(network));
        }

        var model = OnnxSchema.ReadModel(resnet18OnnxPath);
        string source = resnet18OnnxPath;
        var graph = model.Graph ?? throw new InvalidDataException($"'{source}' has no graph.");
        var initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var targets = ExpectedLayers(network);

        var nodes = graph.Node.Where(n => n.OpType is "Conv" or "BatchNormalization").ToList();
        CheckCount(source, graph, "Conv", ConvCount);
        CheckCount(source, graph, "BatchNormalization", BatchNormCount);
        CheckCount(source, graph, "Add", AddCount);
        CheckCount(source, graph, "MaxPool", 1);

        var outputs = new Dictionary<string, string>(StringComparer.Ordinal); // module path → ONNX output name
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        for (int i = 0; i < targets.Count; i++)
        {
            var node = nodes[i];
            var (path, module) = targets[i];
            string where = $"'{source}': node #{graph.Node.IndexOf(node)} '{node.Name}' ({node.OpType}, output '{node.Output.FirstOrDefault()}') for module '{path}'";
            switch (module)
            {
                case Conv2d conv:
                    ImportConv(node, conv, path == "features.conv1", initializers, where);
                    break;
                case BatchNorm bn:
                    ImportBatchNorm(node, bn, initializers, where);
                    break;
            }
            outputs[path] = node.Output[0];
        }
        CheckResidualWiring(source, graph, targets, outputs);
    }

    /// <summary>
    /// The per-channel (R, G, B) averages of the mean image that ML.NET's <c>ResNetPreprocess.onnx</c> subtracts
    /// after reordering R, G, B to B, G, R.
    /// </summary>
    internal static float[] MeanFromPreprocessModel(string resnetPreprocessOnnxPath)
    {
        var model = OnnxSchema.ReadModel(resnetPreprocessOnnxPath);
        var meanImage = model.Graph.Initializer.Single(t => t.Dims.Count == 4 && t.Dims[1] == 3);
        float[] values = FloatData(meanImage, resnetPreprocessOnnxPath);
        int plane = checked((int)(meanImage.Dims[2] * meanImage.Dims[3]));
        var bgr = Enumerable.Range(0, 3).Select(c => values.AsSpan(c * plane, plane).ToArray().Average(v => (double)v)).ToArray();
        return [(float)bgr[2], (float)bgr[1], (float)bgr[0]];
    }

    // The backbone's Conv2d / BatchNorm2d modules in the CNTK graph's order: stem, then per block the
    // 1×1 shortcut (when present) before conv1, bn1, conv2, bn2.
    private static List<(string Path, nn.Module Module)> ExpectedLayers(EmbeddingNetwork network)
    {
        var list = new List<(string, nn.Module)>();
        var top = network.Features.named_children().ToDictionary(c => c.name, c => c.module, StringComparer.Ordinal);
        list.Add(("features.conv1", top["conv1"]));
        list.Add(("features.bn1", top["bn1"]));
        foreach (string stage in ResNet18.StageNames)
        {
            foreach (var (index, blockModule) in ((Sequential)top[stage]).named_children())
            {
                var block = (ResidualBlock)blockModule;
                string prefix = $"features.{stage}.{index}";
                if (block.Downsample is { } downsample)
                {
                    var ds = downsample.named_children().ToList();
                    list.Add(($"{prefix}.downsample.0", ds[0].module));
                    list.Add(($"{prefix}.downsample.1", ds[1].module));
                }
                list.Add(($"{prefix}.conv1", block.Conv1));
                list.Add(($"{prefix}.bn1", block.Bn1));
                list.Add(($"{prefix}.conv2", block.Conv2));
                list.Add(($"{prefix}.bn2", block.Bn2));
            }
        }
        return list;
    }

    private static void ImportConv(NodeProto node, Conv2d conv, bool isStem, Dictionary<string, TensorProto> initializers, string where)
    {
        if (node.OpType != "Conv")
        {
            throw new InvalidDataException($"{where}: expected a Conv node, found {node.OpType}.");
        }
        if (node.Input.Count != 2)
        {
            throw new InvalidDataException($"{where}: expected a Conv without bias (2 inputs), found {node.Input.Count} inputs.");
        }
        var weight = Initializer(node, 1, initializers, where);
        CheckShape(weight, conv.weight!.shape, where, "weight");
        long[] kernel = Attr(node, "kernel_shape") ?? weight.Dims.Skip(2).ToArray();
        long[] strides = Attr(node, "strides") ?? [1, 1];
        long[] pads = Attr(node, "pads") ?? [0, 0, 0, 0];
        long[] dilations = Attr(node, "dilations") ?? [1, 1];
        long group = node.Attribute.FirstOrDefault(a => a.Name == "group")?.I ?? 1;
        string autoPad = node.Attribute.FirstOrDefault(a => a.Name == "auto_pad")?.S.ToStringUtf8() ?? "NOTSET";
        // CNTK writes asymmetric pads for stride-2 layers: [1, 1, 0, 0] / [3, 3, 2, 2]. The leading pads fix
        // where windows start; the trailing pad is never reached for even input sizes (224 → 112 → … → 7),
        // so TorchSharp's symmetric padding computes the same outputs there.
        if (conv.padding is null || !kernel.SequenceEqual(conv.kernel_size) || !strides.SequenceEqual(conv.stride) || !dilations.All(d => d == 1) || group != 1
            || autoPad != "NOTSET" || pads.Length != 4 || pads[0] != conv.padding[0] || pads[1] != conv.padding[1]
            || pads[2] > pads[0] || pads[3] > pads[1])
        {
            throw new InvalidDataException(
                $"{where}: convolution kernel [{string.Join(", ", kernel)}] strides [{string.Join(", ", strides)}] pads [{string.Join(", ", pads)}] group {group} auto_pad {autoPad} does not match the module's kernel [{string.Join(", ", conv.kernel_size)}] stride [{string.Join(", ", conv.stride)}] padding [{string.Join(", ", conv.padding ?? [])}].");
        }
        var tensor = ToTensor(weight, where);
        if (isStem)
        {
            tensor = tensor.flip(1); // CNTK's first layer reads B, G, R; ours reads R, G, B.
        }
        conv.weight!.copy_(tensor);
    }

    private static void ImportBatchNorm(NodeProto node, BatchNorm bn, Dictionary<string, TensorProto> initializers, string where)
    {
        if (node.OpType != "BatchNormalization")
        {
            throw new InvalidDataException($"{where}: expected a BatchNormalization node, found {node.OpType}.");
        }
        if (node.Input.Count != 5)
        {
            throw new InvalidDataException($"{where}: expected 5 inputs (X, scale, B, mean, var), found {node.Input.Count}.");
        }
        float epsilon = node.Attribute.FirstOrDefault(a => a.Name == "epsilon")?.F ?? 1e-5f;
        if (Math.Abs(epsilon - bn.eps) > 1e-9)
        {
            throw new InvalidDataException($"{where}: epsilon {epsilon} differs from the module's {bn.eps}.");
        }
        var spatial = node.Attribute.FirstOrDefault(a => a.Name == "spatial");
        if (spatial is not null && spatial.I != 1)
        {
            throw new InvalidDataException($"{where}: spatial = {spatial.I}; only per-channel (spatial = 1) batch norm maps to BatchNorm2d.");
        }
        long[] shape = [bn.num_features];
        Tensor[] targets = [bn.weight!, bn.bias!, bn.running_mean!, bn.running_var!];
        string[] names = ["scale", "B", "mean", "var"];
        for (int k = 0; k < 4; k++)
        {
            var proto = Initializer(node, k + 1, initializers, where);
            CheckShape(proto, shape, where, names[k]);
            var tensor = ToTensor(proto, where);
            if (k == 3 && tensor.lt(0).any().item<bool>())
            {
                throw new InvalidDataException($"{where}: the running variance has negative entries.");
            }
            targets[k].copy_(tensor);
        }
    }

    // Each block's Add must sum the block's bn2 output with its shortcut: the downsample BN's output, or
    // (identity shortcut) a tensor that is not any BN output.
    private static void CheckResidualWiring(string source, GraphProto graph, List<(string Path, nn.Module Module)> targets, Dictionary<string, string> outputs)
    {
        var adds = graph.Node.Where(n => n.OpType == "Add").ToList();
        var bnOutputs = targets.Where(t => t.Module is BatchNorm).Select(t => outputs[t.Path]).ToHashSet(StringComparer.Ordinal);
        var blocks = targets.Where(t => t.Path.EndsWith(".bn2", StringComparison.Ordinal)).Select(t => t.Path[..^".bn2".Length]).ToList();
        for (int i = 0; i < blocks.Count; i++)
        {
            var add = adds[i];
            string main = outputs[blocks[i] + ".bn2"];
            string? shortcut = outputs.GetValueOrDefault(blocks[i] + ".downsample.1");
            var inputs = add.Input.ToList();
            bool ok = inputs.Count == 2 && inputs.Contains(main)
                && (shortcut is not null ? inputs.Contains(shortcut) : !bnOutputs.Contains(inputs.Single(n => n != main)));
            if (!ok)
            {
                throw new InvalidDataException(
                    $"'{source}': residual Add '{add.Name}' sums [{string.Join(", ", inputs)}], expected the output of {blocks[i]}.bn2 ('{main}') and {(shortcut is null ? "the block input" : $"the shortcut BN output '{shortcut}'")}.");
            }
        }
    }

    private static void CheckCount(string source, GraphProto graph, string opType, int expected)
    {
        int count = graph.Node.Count(n => n.OpType == opType);
        if (count != expected)
        {
            throw new InvalidDataException($"'{source}' has {count} {opType} nodes; a ResNet-18 has {expected}.");
        }
    }

    private static TensorProto Initializer(NodeProto node, int input, Dictionary<string, TensorProto> initializers, string where) =>
        initializers.TryGetValue(node.Input[input], out var proto)
            ? proto
            : throw new InvalidDataException($"{where}: input {input} '{node.Input[input]}' is not an initializer.");

    private static void CheckShape(TensorProto proto, long[] expected, string where, string what)
    {
        if (!proto.Dims.SequenceEqual(expected))
        {
            throw new InvalidDataException($"{where}: {what} '{proto.Name}' has shape [{string.Join(", ", proto.Dims)}], the module expects [{string.Join(", ", expected)}].");
        }
    }

    private static long[]? Attr(NodeProto node, string name) => node.Attribute.FirstOrDefault(a => a.Name == name)?.Ints.ToArray();

    private static Tensor ToTensor(TensorProto proto, string where) => torch.tensor(FloatData(proto, where), proto.Dims.ToArray());

    private static float[] FloatData(TensorProto proto, string where)
    {
        if (proto.DataType != (int)TensorProto.Types.DataType.Float)
        {
            throw new InvalidDataException($"{where}: tensor '{proto.Name}' has data type {proto.DataType}, expected float (1).");
        }
        long count = proto.Dims.Aggregate(1L, (a, b) => a * b);
        float[] values = proto.FloatData.Count > 0
            ? proto.FloatData.ToArray()
            : MemoryMarshal.Cast<byte, float>(proto.RawData.Span).ToArray();
        if (values.Length != count)
        {
            throw new InvalidDataException($"{where}: tensor '{proto.Name}' holds {values.Length} values for shape [{string.Join(", ", proto.Dims)}].");
        }
        return values;
    }
}
