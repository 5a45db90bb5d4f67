using System.Text;

namespace ImageRetrieval.Tests;

/// <summary>
/// Writes small, valid ONNX models for tests of the search side without depending on the training
/// project's exporter: a minimal protobuf wire-format encoder for the few ONNX messages needed.
/// </summary>
internal static class TinyOnnxModel
{
    /// <summary>
    /// An embedding model <c>[N, C, H, W] → Flatten → Gemm(D) → LpNormalization(p=2)</c> with seeded
    /// random weights, opset 17, only the batch dimension dynamic, and the given metadata.
    /// </summary>
    public static byte[] FlattenGemmL2(int channels, int height, int width, int dimension, int seed = 1,
        IReadOnlyDictionary<string, string>? metadata = null, string inputName = "input", string outputName = "embedding", object[]? inputShape = null)
    {
        int features = channels * height * width;
        var random = new Random(seed);
        var weight = new float[dimension * features];
        for (int i = 0; i < weight.Length; i++)
        {
            weight[i] = (float)((random.NextDouble() - 0.5) * 0.02);
        }
        var bias = new float[dimension];
        for (int i = 0; i < bias.Length; i++)
        {
            bias[i] = (float)(random.NextDouble() - 0.5);
        }

        var graph = new Proto();
        graph.Message(1, Node(["input_flat"], [inputName], "Flatten", ("axis", 1L)));
        graph.Message(1, Node(["input_flat", "W", "B"], ["gemm"], "Gemm", ("transB", 1L)));
        graph.Message(1, Node(["gemm"], [outputName], "LpNormalization", ("axis", 1L), ("p", 2L)));
        graph.String(2, "tiny");
        graph.Message(5, Tensor("W", [dimension, features], weight));
        graph.Message(5, Tensor("B", [dimension], bias));
        graph.Message(11, ValueInfo(inputName, inputShape ?? ["N", channels, height, width]));
        graph.Message(12, ValueInfo(outputName, ["N", dimension]));
        return Model(graph, metadata);
    }

    /// <summary>
    /// A stand-in with the shape of the trainer's default <c>convnet</c> (batch-norm folded away):
    /// three stages of two 3×3 Conv + Relu (<paramref name="widths"/> channels, max-pool 2 between stages),
    /// GlobalAveragePool, Flatten, Gemm(D), LpNormalization(p=2). He-initialised seeded weights, opset 17,
    /// only the batch dimension dynamic.
    /// </summary>
    public static byte[] ConvNetL2(int channels, int height, int width, int dimension, int seed = 1,
        IReadOnlyDictionary<string, string>? metadata = null, string inputName = "input", string outputName = "embedding", int[]? widths = null)
    {
        widths ??= [32, 64, 128];
        var random = new Random(seed);
        var graph = new Proto();
        string current = inputName;
        int inChannels = channels;
        for (int stage = 0; stage < widths.Length; stage++)
        {
            for (int conv = 0; conv < 2; conv++)
            {
                string name = $"s{stage + 1}c{conv + 1}";
                int outChannels = widths[stage];
                float std = (float)Math.Sqrt(2.0 / (inChannels * 9));
                var w = new float[outChannels * inChannels * 9];
                for (int i = 0; i < w.Length; i++)
                {
                    w[i] = (float)(Gaussian(random) * std);
                }
                var b = new float[outChannels];
                for (int i = 0; i < b.Length; i++)
                {
                    b[i] = (float)((random.NextDouble() - 0.5) * 0.1);
                }
                graph.Message(5, Tensor(name + ".weight", [outChannels, inChannels, 3, 3], w));
                graph.Message(5, Tensor(name + ".bias", [outChannels], b));
                graph.Message(1, NodeInts([current, name + ".weight", name + ".bias"], [name], "Conv",
                    ("kernel_shape", [3, 3]), ("pads", [1, 1, 1, 1])));
                graph.Message(1, NodeInts([name], [name + ".relu"], "Relu"));
                current = name + ".relu";
                inChannels = outChannels;
            }
            if (stage < widths.Length - 1)
            {
                graph.Message(1, NodeInts([current], [$"pool{stage + 1}"], "MaxPool", ("kernel_shape", [2, 2]), ("strides", [2, 2])));
                current = $"pool{stage + 1}";
            }
        }
        graph.Message(1, NodeInts([current], ["gap"], "GlobalAveragePool"));
        graph.Message(1, Node(["flat"], ["gap"], "Flatten", ("axis", 1L)));
        var fc = new float[dimension * inChannels];
        float fcStd = (float)Math.Sqrt(1.0 / inChannels);
        for (int i = 0; i < fc.Length; i++)
        {
            fc[i] = (float)(Gaussian(random) * fcStd);
        }
        var fcBias = new float[dimension];
        graph.Message(5, Tensor("fc.weight", [dimension, inChannels], fc));
        graph.Message(5, Tensor("fc.bias", [dimension], fcBias));
        graph.Message(1, Node(["flat", "fc.weight", "fc.bias"], ["fc"], "Gemm", ("transB", 1L)));
        graph.Message(1, Node(["fc"], [outputName], "LpNormalization", ("axis", 1L), ("p", 2L)));
        graph.String(2, "convnet-standin");
        graph.Message(11, ValueInfo(inputName, ["N", channels, height, width]));
        graph.Message(12, ValueInfo(outputName, ["N", dimension]));
        return Model(graph, metadata);
    }

    /// <summary>
    /// Any small graph, node by node (opset 17, IR 8): for foreign-encoder tests that need layouts, in-graph
    /// normalisation or feature-map outputs that the fixed builders above do not have.
    /// </summary>
    public sealed class GraphBuilder
    {
        private readonly Proto _graph = new();

        public GraphBuilder Input(string name, params object[] dims)
        {
            _graph.Message(11, ValueInfo(name, dims));
            return this;
        }

        public GraphBuilder Output(string name, params object[] dims)
        {
            _graph.Message(12, ValueInfo(name, dims));
            return this;
        }

        public GraphBuilder Initializer(string name, long[] dims, float[] values)
        {
            _graph.Message(5, Tensor(name, dims, values));
            return this;
        }

        /// <summary>A node; attributes are an int (<c>long</c>) or a list of ints (<c>long[]</c>).</summary>
        public GraphBuilder Node(string op, string[] inputs, string output, params (string Name, object Value)[] attributes)
        {
            var node = new Proto();
            foreach (string i in inputs)
            {
                node.String(1, i);
            }
            node.String(2, output);
            node.String(4, op);
            foreach (var (name, value) in attributes)
            {
                var attribute = new Proto();
                attribute.String(1, name);
                if (value is long[] values)
                {
                    foreach (long v in values)
                    {
                        attribute.Varint(8, v);
                    }
                    attribute.Varint(20, 7); // INTS
                }
                else
                {
                    attribute.Varint(3, Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture));
                    attribute.Varint(20, 2); // INT
                }
                node.Message(5, attribute);
            }
            _graph.Message(1, node);
            return this;
        }

        public byte[] Build(IReadOnlyDictionary<string, string>? metadata = null)
        {
            _graph.String(2, "graph");
            return Model(_graph, metadata);
        }
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2.0 * Math.Log(1.0 - random.NextDouble())) * Math.Cos(2.0 * Math.PI * random.NextDouble());

    private static byte[] Model(Proto graph, IReadOnlyDictionary<string, string>? metadata)
    {
        var model = new Proto();
        model.Varint(1, 8); // ir_version
        model.String(2, "ImageRetrieval.Tests");
        model.Message(7, graph);
        var opset = new Proto();
        opset.String(1, "");
        opset.Varint(2, 17);
        model.Message(8, opset);
        foreach (var (key, value) in metadata ?? new Dictionary<string, string>())
        {
            var entry = new Proto();
            entry.String(1, key);
            entry.String(2, value);
            model.Message(14, entry);
        }
        return model.ToArray();
    }

    private static Proto NodeInts(string[] inputs, string[] outputs, string op, params (string Name, long[] Values)[] attributes)
    {
        var node = new Proto();
        foreach (string i in inputs)
        {
            node.String(1, i);
        }
        foreach (string o in outputs)
        {
            node.String(2, o);
        }
        node.String(4, op);
        foreach (var (name, values) in attributes)
        {
            var attribute = new Proto();
            attribute.String(1, name);
            foreach (long v in values)
            {
                attribute.Varint(8, v);
            }
            attribute.Varint(20, 7); // AttributeType.INTS
            node.Message(5, attribute);
        }
        return node;
    }

    private static Proto Node(string[] inputs, string[] outputs, string op, params (string Name, long Value)[] attributes)
    {
        // Flatten's input list is written as its output name in the signature above for brevity: swap.
        var node = new Proto();
        if (op == "Flatten")
        {
            (inputs, outputs) = (outputs, inputs);
        }
        foreach (string i in inputs)
        {
            node.String(1, i);
        }
        foreach (string o in outputs)
        {
            node.String(2, o);
        }
        node.String(4, op);
        foreach (var (name, value) in attributes)
        {
            var attribute = new Proto();
            attribute.String(1, name);
            attribute.Varint(3, value);
            attribute.Varint(20, 2); // AttributeType.INT
            node.Message(5, attribute);
        }
        return node;
    }

    private static Proto Tensor(string name, long[] dims, float[] values)
    {
        var tensor = new Proto();
        foreach (long d in dims)
        {
            tensor.Varint(1, d);
        }
        tensor.Varint(2, 1); // FLOAT
        tensor.String(8, name);
        var raw = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, raw, 0, raw.Length);
        tensor.Bytes(9, raw);
        return tensor;
    }

    private static Proto ValueInfo(string name, object[] dims)
    {
        var shape = new Proto();
        foreach (object d in dims)
        {
            var dim = new Proto();
            if (d is string param)
            {
                dim.String(2, param);
            }
            else
            {
                dim.Varint(1, Convert.ToInt64(d, System.Globalization.CultureInfo.InvariantCulture));
            }
            shape.Message(1, dim);
        }
        var tensorType = new Proto();
        tensorType.Varint(1, 1); // FLOAT
        tensorType.Message(2, shape);
        var type = new Proto();
        type.Message(1, tensorType);
        var info = new Proto();
        info.String(1, name);
        info.Message(2, type);
        return info;
    }

    /// <summary>Protobuf wire-format writer (varints and length-delimited fields only).</summary>
    private sealed class Proto
    {
        private readonly MemoryStream _buffer = new();

        public void Varint(int field, long value)
        {
            WriteRawVarint((ulong)((field << 3) | 0));
            WriteRawVarint((ulong)value);
        }

        public void String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public void Message(int field, Proto message) => Bytes(field, message.ToArray());

        public void Bytes(int field, byte[] value)
        {
            WriteRawVarint((ulong)((field << 3) | 2));
            WriteRawVarint((ulong)value.Length);
            _buffer.Write(value);
        }

        public byte[] ToArray() => _buffer.ToArray();

        private void WriteRawVarint(ulong value)
        {
            while (value >= 0x80)
            {
                _buffer.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }
            _buffer.WriteByte((byte)value);
        }
    }
}
