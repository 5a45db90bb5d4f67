using System.Reflection;
using ImageRetrieval.ML.Models;
using ImageRetrieval.Training.Networks;
using ImageRetrieval.Training.Onnx.Protobuf;
using TorchSharp;
using TorchSharp.Modules;
using static ImageRetrieval.Training.Onnx.OnnxGraphBuilder;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Onnx;

/// <summary>
/// Writes an <see cref="EmbeddingNetwork"/> as an ONNX model that ONNX Runtime (and ML.NET's ONNX
/// scorer) evaluates to the same function: input <c>[N, C, H, W]</c> float pixels as ExtractPixels
/// produces them (only N dynamic), output L2-normalised <c>[N, D]</c>, per-channel normalisation inside
/// the graph, <see cref="EmbeddingModelMetadata"/> in <c>metadata_props</c>.
/// </summary>
/// <remarks>
/// The exporter walks the network's modules by type (not by layer name): Conv2d, batch norm (TorchSharp's
/// BatchNorm2d and <see cref="SafeBatchNorm2d"/>), ReLU, PReLU, max pooling (MaxPool2d and
/// <see cref="ChannelsLastMaxPool2d"/>), AvgPool2d, AdaptiveAvgPool2d, Flatten, Linear, Dropout / Identity
/// (no-ops in eval mode), nested Sequential and the ResNet residual block. Any other module — or a configuration of a
/// known module that ONNX cannot express exactly — raises <see cref="OnnxExportException"/> naming the
/// module's path and type. Batch-norm layers are exported with their running statistics (eval mode).
/// </remarks>
public static class OnnxExporter
{
    /// <summary>Exports <paramref name="network"/> to <paramref name="path"/> (written atomically) and returns the metadata written into it.</summary>
    /// <param name="network">The network; its training/eval mode is restored afterwards.</param>
    /// <param name="path">The <c>.onnx</c> file to write.</param>
    /// <param name="options">Names, opset, pixel scale and metadata; defaults when null.</param>
    /// <exception cref="OnnxExportException">A module cannot be mapped to ONNX exactly.</exception>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public static EmbeddingModelMetadata Export(EmbeddingNetwork network, string path, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var model = BuildModel(network, options ?? new OnnxExportOptions(), out var metadata);
        OnnxSchema.WriteModel(model, path);
        return metadata;
    }

    /// <summary>Builds the ONNX model in memory.</summary>
    internal static ModelProto BuildModel(EmbeddingNetwork network, OnnxExportOptions options, out EmbeddingModelMetadata metadata)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var spec = network.Spec;
        int outputDimension = network.OutputDimension;
        metadata = options.Metadata(spec, outputDimension);

        bool wasTraining = network.training;
        network.eval();
        try
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            var walker = new Walker(options);
            var graph = walker.Builder.Graph;
            graph.Input.Add(FloatValueInfo(options.InputName, [null, spec.Channels, spec.Height, spec.Width], "batch"));
            graph.Output.Add(FloatValueInfo(options.OutputName, [null, outputDimension], "batch"));

            var device = network.parameters().FirstOrDefault()?.device ?? torch.CPU;
            var x = new Value(options.InputName, torch.zeros(1, spec.Channels, spec.Height, spec.Width, device: device));
            x = walker.EmitPreprocess(network.Preprocess, x);
            if (spec.EmbeddingLayers is { Length: > 0 } layers)
            {
                // The embedding is taken from named layers: the graph stops after the last of them (the head is not exported).
                var tapped = new Dictionary<string, Value>(StringComparer.Ordinal);
                walker.EmitSequential(network.Features, "features", x, tapped, layers.ToHashSet(StringComparer.Ordinal));
                walker.EmitLayerEmbedding(layers.Select(l => (l, tapped[l])).ToList(), options.OutputName);
            }
            else
            {
                x = walker.Emit(network.Features, "features", x);
                if (x.Sample.dim() != 2 || x.Sample.shape[1] != spec.EmbeddingDimension)
                {
                    throw new OnnxExportException("features", network.Features.GetType().Name,
                        $"the features produce shape [{string.Join(", ", x.Sample.shape)}] for one image, expected [1, {spec.EmbeddingDimension}] (the spec's embedding dimension).");
                }
                walker.EmitL2Normalize(x, "normalize", options.OutputName);
            }

            var model = new ModelProto
            {
                IrVersion = OnnxExportOptions.IrVersionFor(options.Opset),
                ProducerName = "ImageRetrieval",
                ProducerVersion = typeof(OnnxExporter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0",
                DocString = $"ImageRetrieval embedding network '{spec.Architecture}': [N, {spec.Channels}, {spec.Height}, {spec.Width}] pixels -> [N, {outputDimension}] L2-normalised embedding"
                    + (spec.EmbeddingLayers is { Length: > 0 } embedded ? $" (layers {string.Join(", ", embedded)})." : "."),
                Graph = graph,
            };
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = options.Opset });
            foreach (var (key, value) in metadata.ToDictionary())
            {
                model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
            }
            return model;
        }
        finally
        {
            network.train(wasTraining);
        }
    }

    /// <summary>A graph tensor name plus a sample tensor with the same shape (batch 1), used to track shapes.</summary>
    private readonly record struct Value(string Name, Tensor Sample);

    private sealed class Walker(OnnxExportOptions options)
    {
        public OnnxGraphBuilder Builder { get; } = new("embedding_network");

        public Value EmitPreprocess(PixelNormalization preprocess, Value x)
        {
            // The input is pixel × scale; the network wants (pixel − mean) / std = (input − mean·scale) / (std·scale).
            float scale = options.PixelScale;
            float[] mean = preprocess.Mean.Select(m => m * scale).ToArray();
            float[] std = preprocess.Std.Select(s => s * scale).ToArray();
            long[] shape = [1, mean.Length, 1, 1];
            string sub = Builder.Node("Sub", "preprocess.sub", [x.Name, Builder.Initializer("preprocess.mean", mean, shape)]);
            string div = Builder.Node("Div", "preprocess.div", [sub, Builder.Initializer("preprocess.std", std, shape)]);
            return new Value(div, preprocess.forward(x.Sample / scale));
        }

        /// <summary>Row-wise L2 normalisation of a 2-D value into <paramref name="output"/> (null: a fresh name), node names under <paramref name="path"/>.</summary>
        public string EmitL2Normalize(Value x, string path, string? output)
        {
            // torch.nn.functional.normalize: x / max(‖x‖₂, eps), row-wise; written out so a zero row gives 0 like TorchSharp.
            string norm = options.Opset >= 18
                ? Builder.Node("ReduceL2", path + ".norm", [x.Name, Builder.Int64Initializer(path + ".axes", [1])], Int("keepdims", 1))
                : Builder.Node("ReduceL2", path + ".norm", [x.Name], Ints("axes", 1), Int("keepdims", 1));
            string clamped = Builder.Node("Max", path + ".clamp", [norm, Builder.Initializer(path + ".eps", [1e-12f], [])]);
            return output is null
                ? Builder.Node("Div", path + ".div", [x.Name, clamped])
                : Builder.NodeWithOutput("Div", path + ".div", [x.Name, clamped], output);
        }

        /// <summary>
        /// The embedding of <see cref="NetworkSpec.EmbeddingLayers"/>, as <see cref="EmbeddingNetwork"/> computes it: every
        /// layer's output flattened and L2-normalised, then (for more than one) concatenated and scaled by 1/√count.
        /// </summary>
        public void EmitLayerEmbedding(IReadOnlyList<(string Layer, Value Value)> parts, string output)
        {
            var names = new List<string>(parts.Count);
            foreach (var (layer, value) in parts)
            {
                string path = "embedding." + layer;
                var flat = value.Sample.dim() == 2 ? value
                    : new Value(Builder.Node("Flatten", path + ".flatten", [value.Name], Int("axis", 1)), value.Sample.flatten(1));
                names.Add(EmitL2Normalize(flat, path + ".normalize", parts.Count == 1 ? output : null));
            }
            if (parts.Count > 1)
            {
                string concat = Builder.Node("Concat", "embedding.concat", names, Int("axis", 1));
                Builder.NodeWithOutput("Mul", "embedding.scale", [concat, Builder.Initializer("embedding.scale", [(float)(1 / Math.Sqrt(parts.Count))], [])], output);
            }
        }

        public Value Emit(nn.Module<Tensor, Tensor> module, string path, Value x)
        {
            switch (module)
            {
                case Sequential sequential:
                    return EmitSequential(sequential, path, x, null, null);
                case ResidualBlock block:
                    return EmitResidualBlock(block, path, x);
                case Conv2d conv:
                    return EmitConv(conv, path, x, null, null);
                case BatchNorm bn:
                    return EmitBatchNorm(bn, path, x);
                case ReLU:
                    return new Value(Builder.Node("Relu", path, [x.Name]), module.forward(x.Sample));
                case PReLU prelu:
                    return EmitPRelu(prelu, path, x);
                case MaxPool2d pool:
                    return EmitMaxPool(pool, path, x);
                case ChannelsLastMaxPool2d pool:
                    return EmitChannelsLastMaxPool(pool, path, x);
                case AvgPool2d pool:
                    return EmitAvgPool(pool, path, x);
                case AdaptiveAvgPool2d pool:
                    return EmitAdaptiveAvgPool(pool, path, x);
                case Flatten flatten:
                    return EmitFlatten(flatten, path, x);
                case Linear linear:
                    return EmitLinear(linear, path, x);
                case Dropout or Identity:
                    return x; // identity in eval mode
                default:
                    throw new OnnxExportException(path, module.GetType().FullName ?? module.GetType().Name,
                        "the exporter has no ONNX mapping for this module type. Supported: Sequential, Conv2d, BatchNorm2d, SafeBatchNorm2d, ReLU, PReLU, MaxPool2d, ChannelsLastMaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Flatten, Linear, Dropout, Identity and ResidualBlock.");
            }
        }

        /// <summary>
        /// The children of <paramref name="sequential"/> in order. With <paramref name="taps"/>: the outputs of the children of
        /// those names go into <paramref name="tapped"/> (a tapped convolution is not folded with the batch norm after it), and
        /// the walk stops once all are there.
        /// </summary>
        public Value EmitSequential(Sequential sequential, string path, Value x, Dictionary<string, Value>? tapped, IReadOnlySet<string>? taps)
        {
            var children = sequential.named_children().ToList();
            for (int i = 0; i < children.Count; i++)
            {
                if (taps is not null && tapped!.Count == taps.Count)
                {
                    break;
                }
                var (name, child) = children[i];
                string childPath = path + "." + name;
                if (child is not nn.Module<Tensor, Tensor> tensorModule)
                {
                    throw new OnnxExportException(childPath, child.GetType().FullName ?? child.GetType().Name, "a Sequential child must map one tensor to one tensor.");
                }
                if (options.FoldBatchNorm && child is Conv2d conv && i + 1 < children.Count && children[i + 1].module is BatchNorm bn && taps?.Contains(name) != true)
                {
                    x = EmitConv(conv, childPath, x, bn, path + "." + children[i + 1].name);
                    i++;
                }
                else
                {
                    x = Emit(tensorModule, childPath, x);
                }
                if (taps is not null && taps.Contains(children[i].name))
                {
                    tapped![children[i].name] = x;
                }
            }
            return x;
        }

        private Value EmitResidualBlock(ResidualBlock block, string path, Value x)
        {
            var main = EmitConvBn(block.Conv1, block.Bn1, path + ".conv1", path + ".bn1", x);
            main = new Value(Builder.Node("Relu", path + ".relu1", [main.Name]), nn.functional.relu(main.Sample));
            main = EmitConvBn(block.Conv2, block.Bn2, path + ".conv2", path + ".bn2", main);
            var shortcut = block.Downsample is null ? x : EmitSequential(block.Downsample, path + ".downsample", x, null, null);
            string sum = Builder.Node("Add", path + ".add", [main.Name, shortcut.Name]);
            var sample = main.Sample + shortcut.Sample;
            return new Value(Builder.Node("Relu", path + ".relu2", [sum]), nn.functional.relu(sample));
        }

        private Value EmitConvBn(Conv2d conv, BatchNorm bn, string convPath, string bnPath, Value x) =>
            options.FoldBatchNorm
                ? EmitConv(conv, convPath, x, bn, bnPath)
                : EmitBatchNorm(bn, bnPath, EmitConv(conv, convPath, x, null, null));

        private Value EmitConv(Conv2d conv, string path, Value x, BatchNorm? foldedBn, string? bnPath)
        {
            string type = conv.GetType().Name;
            if (conv.transposed)
            {
                throw new OnnxExportException(path, type, "transposed convolutions are not supported.");
            }
            if (conv.padding_mode != PaddingModes.Zeros)
            {
                throw new OnnxExportException(path, type, $"padding mode {conv.padding_mode} is not supported (only zero padding).");
            }
            long[] kernel = Pair(conv.kernel_size, 1);
            long[] stride = Pair(conv.stride, 1);
            long[] dilation = Pair(conv.dilation, 1);
            long[] pads; // ONNX order: [top, left, bottom, right]
            if (conv.padding_type == Padding.Valid)
            {
                pads = [0, 0, 0, 0];
            }
            else if (conv.padding_type == Padding.Same)
            {
                // PyTorch's 'same': total = dilation·(kernel − 1), the smaller half before.
                long totalH = dilation[0] * (kernel[0] - 1), totalW = dilation[1] * (kernel[1] - 1);
                pads = [totalH / 2, totalW / 2, totalH - totalH / 2, totalW - totalW / 2];
            }
            else
            {
                long[] padding = Pair(conv.padding, 0);
                pads = [padding[0], padding[1], padding[0], padding[1]];
            }

            Tensor weight = conv.weight ?? throw new OnnxExportException(path, type, "the convolution has no weight.");
            Tensor? bias = conv.bias;
            var sample = conv.forward(x.Sample);
            if (foldedBn is not null)
            {
                // y = γ·(Wx + b − μ)/√(σ² + ε) + β  ⇒  W' = W·s, b' = (b − μ)·s + β with s = γ/√(σ² + ε), in float64.
                var (runningMean, runningVar) = RunningStats(foldedBn, bnPath!);
                var scale = BnScale(foldedBn, runningVar);
                var w64 = weight.detach().to_type(ScalarType.Float64);
                var b64 = bias is null ? torch.zeros(weight.shape[0], dtype: ScalarType.Float64, device: weight.device) : bias.detach().to_type(ScalarType.Float64);
                var beta = foldedBn.bias is null ? torch.zeros_like(scale) : foldedBn.bias.detach().to_type(ScalarType.Float64);
                weight = w64 * scale.reshape(-1, 1, 1, 1);
                bias = (b64 - runningMean.to_type(ScalarType.Float64)) * scale + beta;
                sample = foldedBn.forward(sample);
            }

            var inputs = new List<string> { x.Name, Builder.Initializer(path + ".weight", weight) };
            if (bias is not null)
            {
                inputs.Add(Builder.Initializer((foldedBn is null ? path : path + "+bn") + ".bias", bias));
            }
            string output = Builder.Node("Conv", path, inputs,
                Ints("kernel_shape", kernel), Ints("strides", stride), Ints("pads", pads), Ints("dilations", dilation), Int("group", conv.groups));
            return new Value(output, sample);
        }

        private Value EmitBatchNorm(BatchNorm bn, string path, Value x)
        {
            var (runningMean, runningVar) = RunningStats(bn, path);
            long channels = bn.num_features;
            Tensor gamma = bn.weight is null ? torch.ones(channels) : bn.weight;
            Tensor beta = bn.bias is null ? torch.zeros(channels) : bn.bias;
            string output = Builder.Node("BatchNormalization", path,
                [
                    x.Name,
                    Builder.Initializer(path + ".weight", gamma),
                    Builder.Initializer(path + ".bias", beta),
                    Builder.Initializer(path + ".running_mean", runningMean),
                    Builder.Initializer(path + ".running_var", runningVar),
                ],
                Float("epsilon", (float)bn.eps));
            return new Value(output, bn.forward(x.Sample));
        }

        private static (Tensor Mean, Tensor Var) RunningStats(BatchNorm bn, string path)
        {
            if (!bn.track_running_stats || bn.running_mean is null || bn.running_var is null)
            {
                throw new OnnxExportException(path, bn.GetType().Name, "batch norm without running statistics normalises with batch statistics even in eval mode; ONNX inference needs running statistics.");
            }
            return (bn.running_mean, bn.running_var);
        }

        private static Tensor BnScale(BatchNorm bn, Tensor runningVar)
        {
            var gamma = bn.weight is null ? torch.ones_like(runningVar, dtype: ScalarType.Float64) : bn.weight.detach().to_type(ScalarType.Float64);
            return gamma / (runningVar.to_type(ScalarType.Float64) + bn.eps).sqrt();
        }

        private Value EmitPRelu(PReLU prelu, string path, Value x)
        {
            var weight = prelu.weight ?? throw new OnnxExportException(path, prelu.GetType().Name, "PReLU has no weight.");
            long count = weight.numel();
            long rank = x.Sample.dim();
            long[] slopeShape;
            if (count == 1)
            {
                slopeShape = [1];
            }
            else if (rank >= 2 && x.Sample.shape[1] == count)
            {
                // One slope per channel (dimension 1): shape [C, 1, …] broadcasts against [N, C, …].
                slopeShape = new long[rank - 1];
                Array.Fill(slopeShape, 1L);
                slopeShape[0] = count;
            }
            else
            {
                throw new OnnxExportException(path, prelu.GetType().Name, $"{count} slopes do not match dimension 1 of the input shape [{string.Join(", ", x.Sample.shape)}].");
            }
            string output = Builder.Node("PRelu", path, [x.Name, Builder.Initializer(path + ".weight", weight, slopeShape)]);
            return new Value(output, prelu.forward(x.Sample));
        }

        private Value EmitMaxPool(MaxPool2d pool, string path, Value x)
        {
            long[] kernel = Pair(pool.kernel_size, 1);
            long[] stride = pool.stride is { Length: > 0 } ? Pair(pool.stride, 1) : kernel;
            long[] padding = Pair(pool.padding, 0);
            long[] dilation = Pair(pool.dilation, 1);
            var sample = pool.forward(x.Sample);
            RequireFloorShape(pool.ceil_mode, x.Sample, sample, kernel, stride, padding, dilation, path, pool.GetType().Name);
            string output = Builder.Node("MaxPool", path, [x.Name],
                Ints("kernel_shape", kernel), Ints("strides", stride), Ints("pads", padding[0], padding[1], padding[0], padding[1]), Ints("dilations", dilation));
            return new Value(output, sample);
        }

        private Value EmitChannelsLastMaxPool(ChannelsLastMaxPool2d pool, string path, Value x)
        {
            // No padding, no dilation, floor mode: ONNX MaxPool's defaults, written out.
            var sample = pool.forward(x.Sample);
            string output = Builder.Node("MaxPool", path, [x.Name],
                Ints("kernel_shape", pool.KernelSize, pool.KernelSize), Ints("strides", pool.Stride, pool.Stride), Ints("pads", 0, 0, 0, 0), Ints("dilations", 1, 1));
            return new Value(output, sample);
        }

        private Value EmitAvgPool(AvgPool2d pool, string path, Value x)
        {
            if (pool.divisor_override is not null)
            {
                throw new OnnxExportException(path, pool.GetType().Name, "divisor_override has no ONNX AveragePool equivalent.");
            }
            long[] kernel = Pair(pool.kernel_size, 1);
            long[] stride = pool.stride is { Length: > 0 } ? Pair(pool.stride, 1) : kernel;
            long[] padding = Pair(pool.padding, 0);
            var sample = pool.forward(x.Sample);
            RequireFloorShape(pool.ceil_mode, x.Sample, sample, kernel, stride, padding, [1, 1], path, pool.GetType().Name);
            string output = Builder.Node("AveragePool", path, [x.Name],
                Ints("kernel_shape", kernel), Ints("strides", stride), Ints("pads", padding[0], padding[1], padding[0], padding[1]),
                Int("count_include_pad", pool.count_include_pad ? 1 : 0));
            return new Value(output, sample);
        }

        private Value EmitAdaptiveAvgPool(AdaptiveAvgPool2d pool, string path, Value x)
        {
            var sample = pool.forward(x.Sample);
            long inH = x.Sample.shape[^2], inW = x.Sample.shape[^1];
            long outH = sample.shape[^2], outW = sample.shape[^1];
            if (outH == 1 && outW == 1)
            {
                return new Value(Builder.Node("GlobalAveragePool", path, [x.Name]), sample);
            }
            if (inH % outH != 0 || inW % outW != 0)
            {
                throw new OnnxExportException(path, pool.GetType().Name,
                    $"adaptive pooling {inH}x{inW} -> {outH}x{outW} uses uneven windows, which ONNX AveragePool cannot express; use an output size that divides the input or 1.");
            }
            long kh = inH / outH, kw = inW / outW;
            string output = Builder.Node("AveragePool", path, [x.Name], Ints("kernel_shape", kh, kw), Ints("strides", kh, kw), Ints("pads", 0, 0, 0, 0));
            return new Value(output, sample);
        }

        private Value EmitFlatten(Flatten flatten, string path, Value x)
        {
            long rank = x.Sample.dim();
            long end = flatten.end_dim < 0 ? flatten.end_dim + rank : flatten.end_dim;
            if (flatten.start_dim != 1 || end != rank - 1)
            {
                throw new OnnxExportException(path, flatten.GetType().Name, $"only Flatten(start_dim: 1, end_dim: -1) is supported, got start_dim {flatten.start_dim}, end_dim {flatten.end_dim}.");
            }
            return new Value(Builder.Node("Flatten", path, [x.Name], Int("axis", 1)), flatten.forward(x.Sample));
        }

        private Value EmitLinear(Linear linear, string path, Value x)
        {
            if (x.Sample.dim() != 2)
            {
                throw new OnnxExportException(path, linear.GetType().Name,
                    $"Linear is exported as Gemm and needs a 2-D input, got shape [{string.Join(", ", x.Sample.shape)}]; add a Flatten before it.");
            }
            var inputs = new List<string> { x.Name, Builder.Initializer(path + ".weight", linear.weight!) };
            if (linear.bias is not null)
            {
                inputs.Add(Builder.Initializer(path + ".bias", linear.bias));
            }
            return new Value(Builder.Node("Gemm", path, inputs, Int("transB", 1)), linear.forward(x.Sample));
        }

        private static void RequireFloorShape(bool ceilMode, Tensor input, Tensor output, long[] kernel, long[] stride, long[] padding, long[] dilation, string path, string type)
        {
            if (!ceilMode)
            {
                return;
            }
            for (int d = 0; d < 2; d++)
            {
                long size = input.shape[^(2 - d)];
                long floor = ((size + 2 * padding[d] - dilation[d] * (kernel[d] - 1) - 1) / stride[d]) + 1;
                if (floor != output.shape[^(2 - d)])
                {
                    throw new OnnxExportException(path, type, "ceil_mode changes the output size for this input; export with ceil_mode: false.");
                }
            }
        }

        private static long[] Pair(long[]? values, long fallback) => values switch
        {
            null or { Length: 0 } => [fallback, fallback],
            { Length: 1 } => [values[0], values[0]],
            _ => [values[0], values[1]],
        };
    }
}
