using System.Globalization;
using System.Runtime.InteropServices;
using Google.Protobuf;
using ImageRetrieval.ML.Indexing;

namespace ImageRetrieval.ML.Models;

/// <summary>
/// Builds the <c>imagenet-resnet18</c> embedding model by editing the graph of ML.NET's featurizer (no weights are
/// trained or converted): R, G, B planes 0–255 <c>[N, 3, 224, 224]</c> → minus the featurizer's 224 × 224 ImageNet mean
/// image → the CNTK ResNet-18 unchanged up to its global average pool (<c>Pooling395</c>, 512 × 1 × 1) → flatten →
/// L2 normalisation → <c>[N, 512]</c>, with <c>imageretrieval.*</c> metadata.
/// </summary>
/// <remarks>
/// The featurizer's own chain is <c>ResNetPreprocess.onnx</c> (R, G, B → B, G, R, minus the mean image) then
/// <c>ResNet18.onnx</c> (first convolution on B, G, R). Here the mean image is reordered to R, G, B and the first
/// convolution's input channels are flipped, which computes the same function without the Split/Concat; the batch
/// dimension becomes symbolic (the CNTK graph fixes it to 1), and the shape annotations that pinned it are dropped.
/// Every structural assumption is checked, so a different file fails with a message instead of a wrong model.
/// </remarks>
internal static class ImageNetResNet18Builder
{
    public const string InputName = "pixels";
    public const string OutputName = "embedding";
    public const int Size = 224;
    public const int Dimension = 512;

    private const string FeaturizerInput = "Input247";
    private const string FeaturizerOutput = "Pooling395_Output_0";
    private const string MeanImageName = "MeanImage";

    public static EmbeddingModelMetadata Metadata { get; } = new()
    {
        InputWidth = Size,
        InputHeight = Size,
        InputChannels = 3,
        PixelScale = 1f,
        EmbeddingDimension = Dimension,
        Metric = DistanceMetricNames.Cosine,
        Architecture = "resnet18",
        TrainingDataset = "imagenet",
        InputName = InputName,
        OutputName = OutputName,
    };

    /// <summary>Reads the two featurizer files and returns the edited model.</summary>
    /// <exception cref="InvalidDataException">A file is not the expected graph.</exception>
    public static ModelProto Build(string resnet18Path, string preprocessPath)
    {
        ModelProto model = OnnxSchema.ReadModel(resnet18Path);
        ModelProto preprocess = OnnxSchema.ReadModel(preprocessPath);
        GraphProto graph = model.Graph ?? throw new InvalidDataException($"'{resnet18Path}' has no graph.");

        ValueInfoProto input = RequireSingle(graph.Input.Where(i => graph.Initializer.All(t => t.Name != i.Name)), resnet18Path, "graph input");
        RequireShape(input, FeaturizerInput, [1, 3, Size, Size], resnet18Path);
        ValueInfoProto output = RequireSingle(graph.Output, resnet18Path, "graph output");
        RequireShape(output, FeaturizerOutput, [1, Dimension, 1, 1], resnet18Path);

        // The first convolution reads B, G, R; flip its weights' input channels so it reads R, G, B.
        NodeProto stem = RequireSingle(graph.Node.Where(n => n.Input.Contains(FeaturizerInput)), resnet18Path, $"consumer of '{FeaturizerInput}'");
        if (stem.OpType != "Conv" || stem.Input.Count != 2 || stem.Input[0] != FeaturizerInput)
        {
            throw new InvalidDataException($"'{resnet18Path}': '{FeaturizerInput}' feeds a {stem.OpType} node '{stem.Name}'; expected the first convolution (without bias).");
        }
        TensorProto stemWeight = RequireSingle(graph.Initializer.Where(t => t.Name == stem.Input[1]), resnet18Path, $"initializer '{stem.Input[1]}'");
        float[] weight = FloatData(stemWeight, resnet18Path);
        if (stemWeight.Dims.Count != 4 || stemWeight.Dims[1] != 3)
        {
            throw new InvalidDataException($"'{resnet18Path}': the first convolution's weight has shape [{string.Join(", ", stemWeight.Dims)}]; expected [out, 3, kh, kw].");
        }
        SetFloatData(stemWeight, FlipAxis1(weight, stemWeight.Dims));

        // The preprocessing model's mean image, B, G, R planes → R, G, B.
        TensorProto meanImage = RequireSingle(preprocess.Graph.Initializer.Where(t => t.Name == MeanImageName), preprocessPath, $"initializer '{MeanImageName}'");
        if (!meanImage.Dims.SequenceEqual([1L, 3, Size, Size]))
        {
            throw new InvalidDataException($"'{preprocessPath}': '{MeanImageName}' has shape [{string.Join(", ", meanImage.Dims)}]; expected [1, 3, {Size}, {Size}].");
        }
        var mean = new TensorProto { Name = "imagenet_mean_rgb", DataType = (int)TensorProto.Types.DataType.Float };
        mean.Dims.AddRange(meanImage.Dims);
        SetFloatData(mean, FlipAxis1(FloatData(meanImage, preprocessPath), meanImage.Dims));
        graph.Initializer.Add(mean);

        var sub = new NodeProto { Name = "imagenet_mean_subtraction", OpType = "Sub" };
        sub.Input.Add(InputName);
        sub.Input.Add(mean.Name);
        sub.Output.Add("centred");
        stem.Input[0] = "centred";
        graph.Node.Insert(0, sub);

        // Pooled [N, 512, 1, 1] → [N, 512] → x / max(‖x‖₂, 1e-12), as the project's exporter writes it (a zero row stays 0).
        AddNode(graph, "Flatten", "flatten", [FeaturizerOutput], "features", Int("axis", 1));
        AddNode(graph, "ReduceL2", "l2_norm", ["features"], "norm", Ints("axes", 1), Int("keepdims", 1));
        var epsilon = new TensorProto { Name = "l2_epsilon", DataType = (int)TensorProto.Types.DataType.Float };
        SetFloatData(epsilon, [1e-12f]);
        graph.Initializer.Add(epsilon);
        AddNode(graph, "Max", "l2_clamp", ["norm", epsilon.Name], "clamped_norm");
        AddNode(graph, "Div", "l2_normalize", ["features", "clamped_norm"], OutputName);

        graph.Input.Clear();
        graph.Input.Add(FloatTensor(InputName, "N", 3, Size, Size));
        graph.Output.Clear();
        graph.Output.Add(FloatTensor(OutputName, "N", Dimension));
        graph.ValueInfo.Clear(); // CNTK's annotations fix the batch dimension to 1
        graph.Name = "imagenet_resnet18";

        // IR 4: initializers need not be listed as graph inputs (the CNTK file already relies on it). Opset 8 is kept.
        model.IrVersion = Math.Max(model.IrVersion, 4);
        model.ProducerName = "ImageRetrieval";
        model.ProducerVersion = "imagenet-resnet18 builder " + PretrainedModels.BuilderVersion.ToString(CultureInfo.InvariantCulture);
        model.DocString =
            $"ImageNet ResNet-18 features of {ResNet18FeaturizerPackage.PackageId} {ResNet18FeaturizerPackage.PackageVersion} (MIT): " +
            $"[N, 3, {Size}, {Size}] R, G, B pixels 0-255 -> minus the ImageNet mean image -> ResNet-18 -> global average pool -> [N, {Dimension}], L2-normalised.";
        model.MetadataProps.Clear();
        foreach (var (key, value) in Metadata.ToDictionary())
        {
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        }
        return model;
    }

    private static T RequireSingle<T>(IEnumerable<T> items, string source, string what)
    {
        var list = items.Take(2).ToList();
        return list.Count == 1
            ? list[0]
            : throw new InvalidDataException($"'{source}' has {(list.Count == 0 ? "no" : "more than one")} {what}; expected exactly one (is it ML.NET's ResNet-18 featurizer?).");
    }

    private static void RequireShape(ValueInfoProto value, string name, long[] dims, string source)
    {
        var actual = value.Type?.TensorType?.Shape?.Dim.Select(d => d.DimValue).ToArray() ?? [];
        if (value.Name != name || !actual.SequenceEqual(dims) || value.Type?.TensorType?.ElemType != (int)TensorProto.Types.DataType.Float)
        {
            throw new InvalidDataException(
                $"'{source}': found '{value.Name}' [{string.Join(", ", actual)}]; expected float '{name}' [{string.Join(", ", dims)}] (ML.NET's ResNet-18 featurizer {ResNet18FeaturizerPackage.PackageVersion}).");
        }
    }

    private static float[] FlipAxis1(float[] values, IList<long> dims)
    {
        int channels = checked((int)dims[1]);
        int inner = checked((int)dims.Skip(2).Aggregate(1L, (a, b) => a * b));
        int outer = checked((int)dims[0]);
        var flipped = new float[values.Length];
        for (int o = 0; o < outer; o++)
        {
            for (int c = 0; c < channels; c++)
            {
                values.AsSpan(((o * channels) + c) * inner, inner).CopyTo(flipped.AsSpan(((o * channels) + (channels - 1 - c)) * inner, inner));
            }
        }
        return flipped;
    }

    private static float[] FloatData(TensorProto tensor, string source)
    {
        if (tensor.DataType != (int)TensorProto.Types.DataType.Float)
        {
            throw new InvalidDataException($"'{source}': tensor '{tensor.Name}' has data type {tensor.DataType}; expected float (1).");
        }
        long count = tensor.Dims.Aggregate(1L, (a, b) => a * b);
        float[] values = tensor.FloatData.Count > 0 ? [.. tensor.FloatData] : MemoryMarshal.Cast<byte, float>(tensor.RawData.Span).ToArray();
        if (!BitConverter.IsLittleEndian && tensor.FloatData.Count == 0)
        {
            throw new PlatformNotSupportedException("ONNX raw tensor data is little-endian; this machine is big-endian.");
        }
        return values.Length == count
            ? values
            : throw new InvalidDataException($"'{source}': tensor '{tensor.Name}' holds {values.Length} values for shape [{string.Join(", ", tensor.Dims)}].");
    }

    private static void SetFloatData(TensorProto tensor, float[] values)
    {
        tensor.FloatData.Clear();
        tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
    }

    private static void AddNode(GraphProto graph, string opType, string name, string[] inputs, string output, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = name };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        graph.Node.Add(node);
    }

    private static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    private static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    private static ValueInfoProto FloatTensor(string name, string batch, params long[] dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = batch });
        foreach (long dim in dims)
        {
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = dim });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }
}
