using System.Runtime.InteropServices;
using Google.Protobuf;
using ImageRetrieval.Training.Onnx.Protobuf;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Onnx;

/// <summary>
/// Appends nodes and float initializers to an ONNX <see cref="GraphProto"/>, with unique, readable
/// tensor names derived from the module path (e.g. <c>features.layer1.0.conv1.weight</c>).
/// </summary>
internal sealed class OnnxGraphBuilder
{
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private int _counter;

    public OnnxGraphBuilder(string graphName)
    {
        Graph = new GraphProto { Name = graphName };
    }

    public GraphProto Graph { get; }

    /// <summary>Reserves a unique tensor name based on <paramref name="hint"/>.</summary>
    public string UniqueName(string hint)
    {
        string name = hint;
        while (!_names.Add(name))
        {
            name = $"{hint}_{++_counter}";
        }
        return name;
    }

    /// <summary>Adds a float32 initializer from a TorchSharp tensor (copied, detached, on the CPU).</summary>
    public string Initializer(string hint, Tensor tensor, long[]? shape = null)
    {
        using var scope = torch.NewDisposeScope();
        var cpu = tensor.detach().cpu().to_type(ScalarType.Float32).contiguous();
        return Initializer(hint, cpu.data<float>().ToArray(), shape ?? cpu.shape);
    }

    /// <summary>Adds a float32 initializer (little-endian raw data).</summary>
    public string Initializer(string hint, float[] values, long[] shape)
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        if (count != values.Length)
        {
            throw new ArgumentException($"Initializer '{hint}': {values.Length} values do not fill shape [{string.Join(", ", shape)}].", nameof(values));
        }
        string name = UniqueName(hint);
        var proto = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        proto.Dims.AddRange(shape);
        byte[] bytes = MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
        if (!BitConverter.IsLittleEndian)
        {
            for (int i = 0; i < bytes.Length; i += 4)
            {
                Array.Reverse(bytes, i, 4);
            }
        }
        proto.RawData = ByteString.CopyFrom(bytes);
        Graph.Initializer.Add(proto);
        return name;
    }

    /// <summary>Adds an int64 initializer (for operator inputs such as ReduceL2's axes from opset 18).</summary>
    public string Int64Initializer(string hint, long[] values)
    {
        string name = UniqueName(hint);
        var proto = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        proto.Dims.Add(values.Length);
        proto.Int64Data.AddRange(values);
        Graph.Initializer.Add(proto);
        return name;
    }

    /// <summary>Adds a node with one output and returns the output's name.</summary>
    public string Node(string opType, string nameHint, IEnumerable<string> inputs, params AttributeProto[] attributes) =>
        NodeWithOutput(opType, nameHint, inputs, UniqueName(nameHint), attributes);

    /// <summary>Adds a node whose output gets exactly <paramref name="output"/> as its name.</summary>
    public string NodeWithOutput(string opType, string nameHint, IEnumerable<string> inputs, string output, params AttributeProto[] attributes)
    {
        _names.Add(output);
        var node = new NodeProto { OpType = opType, Name = nameHint + ":" + opType };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
        return output;
    }

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    /// <summary>A float tensor value-info with the given dimensions; a null entry becomes the symbolic <paramref name="dynamicName"/>.</summary>
    public static ValueInfoProto FloatValueInfo(string name, long?[] dims, string dynamicName)
    {
        var shape = new TensorShapeProto();
        foreach (long? dim in dims)
        {
            shape.Dim.Add(dim is long value
                ? new TensorShapeProto.Types.Dimension { DimValue = value }
                : new TensorShapeProto.Types.Dimension { DimParam = dynamicName });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto
            {
                TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape },
            },
        };
    }
}
