using System.Globalization;
using ImageRetrieval.ML.Imaging;
using ImageRetrieval.ML.Models;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace ImageRetrieval.ML.Embedding;

/// <summary>
/// An opened and checked embedding model, and how to feed it: from an explicit <see cref="ImageEncoderDescription"/>,
/// from the description file beside it (<c>model.onnx.json</c>), or from its <c>imageretrieval.*</c> metadata (in that
/// order). Whatever the source, the description is checked against the graph here, before any image is read, and every
/// failure says what the graph has and what was described or expected.
/// </summary>
internal sealed class EmbeddingModel
{
    private EmbeddingModel(string path, EmbeddingModelMetadata metadata, ImageEncoderDescription description, EncoderDescriptionSource source,
        int channels, int height, int width, int fixedBatch, int[] outputShape, int dimension, OutputPooling pooling)
    {
        Path = path;
        Metadata = metadata;
        Description = description;
        Source = source;
        Channels = channels;
        Height = height;
        Width = width;
        FixedBatch = fixedBatch;
        OutputShape = outputShape;
        Dimension = dimension;
        Pooling = pooling;
        // Input value = pixel × scale / std − mean / std, per model channel.
        Multiplier = new float[channels];
        Offset = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            float std = description.Std![c];
            Multiplier[c] = description.PixelScale / std;
            Offset[c] = -description.Mean![c] / std;
        }
    }

    public string Path { get; }

    /// <summary>The model's own metadata, or one derived from its description (architecture, dimension, metric, geometry).</summary>
    public EmbeddingModelMetadata Metadata { get; }

    /// <summary>The description in use, every value resolved (names, sizes, one mean and std per channel).</summary>
    public ImageEncoderDescription Description { get; }

    public EncoderDescriptionSource Source { get; }

    public int Channels { get; }

    public int Height { get; }

    public int Width { get; }

    public int Dimension { get; }

    /// <summary>1 when the graph fixes the batch dimension to 1; 0 when it is dynamic.</summary>
    public int FixedBatch { get; }

    /// <summary>The output's dimensions after the batch one: <c>[D]</c>, or a feature map in the input's layout.</summary>
    public int[] OutputShape { get; }

    /// <summary>Output values per image before pooling.</summary>
    public int OutputLength => OutputShape.Aggregate(1, (a, b) => a * b);

    /// <summary>The pooling actually applied: <see cref="OutputPooling.None"/> when the output already is one vector per image.</summary>
    public OutputPooling Pooling { get; }

    public float[] Multiplier { get; }

    public float[] Offset { get; }

    public TensorLayout Layout => Description.Layout;

    public bool Normalize => Description.Normalize;

    public string InputName => Description.InputName!;

    public string OutputName => Description.OutputName!;

    public int ImageLength => Channels * Height * Width;

    public long[] InputShape(int batch) => Layout == TensorLayout.Nchw ? [batch, Channels, Height, Width] : [batch, Height, Width, Channels];

    public ImageDecodeOptions DecodeOptions(ImageResizeMode mode, long maxPixels, long maxEncodedBytes) => new()
    {
        Width = Width,
        Height = Height,
        Channels = Channels,
        ResizeMode = Description.Resize ?? mode,
        MaxPixels = maxPixels,
        MaxEncodedBytes = maxEncodedBytes,
    };

    /// <summary>Opens a session and checks the model. The caller owns the returned session.</summary>
    /// <param name="modelPath">The ONNX file.</param>
    /// <param name="sessionOptions">ONNX Runtime settings.</param>
    /// <param name="described">An explicit description; null: the description file beside the model, else its metadata.</param>
    /// <param name="expectedWidth">If set, the input width the caller requires.</param>
    /// <param name="expectedHeight">If set, the input height the caller requires.</param>
    /// <param name="expectedChannels">If set, the input channels the caller requires.</param>
    /// <param name="session">The opened session.</param>
    /// <exception cref="FileNotFoundException">The model file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not an ONNX model, has neither metadata nor a description, or disagrees with them or with the expectations.</exception>
    public static EmbeddingModel Open(string modelPath, SessionOptions sessionOptions, ImageEncoderDescription? described,
        int? expectedWidth, int? expectedHeight, int? expectedChannels, out InferenceSession session)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelPath);
        if (!File.Exists(modelPath))
        {
            throw new FileNotFoundException($"Embedding model file not found: '{modelPath}'. Expected an ONNX model exported by ImageRetrieval.Training's ONNX exporter, a pretrained model name, or an ONNX encoder with a description.", modelPath);
        }
        try
        {
            session = new InferenceSession(modelPath, sessionOptions);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"'{modelPath}' is not a loadable ONNX model ({e.Message.ReplaceLineEndings(" ").Trim()}). Expected an ONNX embedding model exported by ImageRetrieval.Training's ONNX exporter.", e);
        }
        try
        {
            EmbeddingModel model = Resolve(modelPath, session, described);
            model.CheckExpectations(expectedWidth, expectedHeight, expectedChannels);
            return model;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Opens and checks the model on the CPU, then closes it.</summary>
    public static EmbeddingModel Inspect(string modelPath, ImageEncoderDescription? described = null, int? expectedWidth = null, int? expectedHeight = null, int? expectedChannels = null)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        var model = Open(modelPath, options, described, expectedWidth, expectedHeight, expectedChannels, out var session);
        session.Dispose();
        return model;
    }

    private static EmbeddingModel Resolve(string path, InferenceSession session, ImageEncoderDescription? described)
    {
        if (described is not null)
        {
            described.Validate(path);
            return FromDescription(path, session, described, EncoderDescriptionSource.Options);
        }
        string sidecar = ImageEncoderDescription.SidecarPath(path);
        if (File.Exists(sidecar))
        {
            return FromDescription(path, session, ImageEncoderDescription.Read(sidecar), EncoderDescriptionSource.DescriptionFile);
        }
        IReadOnlyDictionary<string, string> entries = session.ModelMetadata.CustomMetadataMap;
        if (!entries.Keys.Any(k => k.StartsWith(EmbeddingModelMetadata.KeyPrefix, StringComparison.Ordinal)))
        {
            throw new InvalidDataException(
                $"Model '{path}' lacks the metadata entry '{EmbeddingModelMetadata.KeyPrefix}format_version' and has no encoder description. ImageRetrieval models carry " +
                $"imageretrieval.* metadata_props (written by ImageRetrieval.Training's ONNX exporter); for any other ONNX image encoder, describe how to feed it in " +
                $"'{System.IO.Path.GetFileName(sidecar)}' beside it or pass an ImageEncoderDescription (ImageEmbedderOptions.Encoder). The graph has inputs " +
                $"[{DescribeAll(session.InputMetadata)}] and outputs [{DescribeAll(session.OutputMetadata)}].");
        }
        return FromMetadata(path, session, EmbeddingModelMetadata.FromDictionary(entries, path));
    }

    // A model with imageretrieval.* metadata: the contract is exact (input [N, C, H, W] float, output [N, D] float).
    private static EmbeddingModel FromMetadata(string path, InferenceSession session, EmbeddingModelMetadata m)
    {
        if (!session.InputMetadata.TryGetValue(m.InputName, out NodeMetadata? input))
        {
            throw new InvalidDataException($"Model '{path}': its metadata names the input '{m.InputName}', but the graph's inputs are [{string.Join(", ", session.InputMetadata.Keys)}].");
        }
        if (session.InputMetadata.Count != 1)
        {
            throw new InvalidDataException($"Model '{path}' has {session.InputMetadata.Count} inputs; expected exactly one, '{m.InputName}' [N, {m.InputChannels}, {m.InputHeight}, {m.InputWidth}].");
        }
        int[] expectedInput = [-1, m.InputChannels, m.InputHeight, m.InputWidth];
        if (input.ElementDataType != TensorElementType.Float || !ShapeMatches(input.Dimensions, expectedInput))
        {
            throw new InvalidDataException(
                $"Model '{path}': input '{m.InputName}' is {Describe(input)}; expected float[N, {m.InputChannels}, {m.InputHeight}, {m.InputWidth}] as its metadata states (only N dynamic).");
        }
        if (!session.OutputMetadata.TryGetValue(m.OutputName, out NodeMetadata? output))
        {
            throw new InvalidDataException($"Model '{path}': its metadata names the output '{m.OutputName}', but the graph's outputs are [{string.Join(", ", session.OutputMetadata.Keys)}].");
        }
        if (output.ElementDataType != TensorElementType.Float || !ShapeMatches(output.Dimensions, [-1, m.EmbeddingDimension]))
        {
            throw new InvalidDataException(
                $"Model '{path}': output '{m.OutputName}' is {Describe(output)}; expected float[N, {m.EmbeddingDimension}] (embedding_dimension = {m.EmbeddingDimension}).");
        }
        int fixedBatch = CheckBatch(path, m.InputName, input);
        ImageEncoderDescription description = ImageEncoderDescription.FromMetadata(m) with
        {
            Mean = Enumerable.Repeat(0f, m.InputChannels).ToArray(),
            Std = Enumerable.Repeat(1f, m.InputChannels).ToArray(),
        };
        return new EmbeddingModel(path, m, description, EncoderDescriptionSource.Metadata, m.InputChannels, m.InputHeight, m.InputWidth,
            fixedBatch, [m.EmbeddingDimension], m.EmbeddingDimension, OutputPooling.None);
    }

    private static EmbeddingModel FromDescription(string path, InferenceSession session, ImageEncoderDescription d, EncoderDescriptionSource source)
    {
        string what = source == EncoderDescriptionSource.DescriptionFile ? $"the description '{ImageEncoderDescription.SidecarPath(path)}'" : "the encoder description";
        InvalidDataException Error(string message) => new($"Model '{path}': {message} (described by {what}).");

        // Input: which, its type and rank, the layout's channel axis, the size.
        string inputName = d.InputName ?? (session.InputMetadata.Count == 1
            ? session.InputMetadata.Keys.Single()
            : throw Error($"the graph has {session.InputMetadata.Count} inputs [{DescribeAll(session.InputMetadata)}]; name the image input ('input')"));
        if (!session.InputMetadata.TryGetValue(inputName, out NodeMetadata? input))
        {
            throw Error($"the description names the input '{inputName}', but the graph's inputs are [{DescribeAll(session.InputMetadata)}]");
        }
        if (session.InputMetadata.Count != 1)
        {
            throw Error($"the graph has {session.InputMetadata.Count} inputs [{DescribeAll(session.InputMetadata)}]; only encoders with a single image input are supported");
        }
        if (input.ElementDataType != TensorElementType.Float)
        {
            throw Error($"input '{inputName}' is {Describe(input)}; only float inputs are supported");
        }
        int[] dims = input.Dimensions;
        string layoutName = d.Layout == TensorLayout.Nchw ? "nchw [N, C, H, W]" : "nhwc [N, H, W, C]";
        if (dims.Length != 4)
        {
            throw Error($"input '{inputName}' is {Describe(input)}; the description says {layoutName}, a 4-D image tensor");
        }
        (int cAxis, int hAxis, int wAxis) = d.Layout == TensorLayout.Nchw ? (1, 2, 3) : (3, 1, 2);
        int channels = dims[cAxis];
        if (channels is not (1 or 3))
        {
            int other = d.Layout == TensorLayout.Nchw ? dims[3] : dims[1];
            string hint = other is 1 or 3 ? $"; the graph looks {(d.Layout == TensorLayout.Nchw ? "nhwc" : "nchw")} — set \"layout\" accordingly" : "";
            throw Error($"input '{inputName}' is {Describe(input)}; the description says {layoutName}, so its channel dimension is {DimText(channels)}, not 1 or 3{hint}");
        }
        int height = Size(d.Height, dims[hAxis], "height");
        int width = Size(d.Width, dims[wAxis], "width");
        int fixedBatch = CheckBatch(path, inputName, input);
        float[] mean = PerChannel(d.Mean, 0f, "mean");
        float[] std = PerChannel(d.Std, 1f, "std");

        // Output: which, its type and rank; a 4-D map needs pooling unless it is 1 × 1.
        string outputName = d.OutputName ?? (session.OutputMetadata.Count == 1
            ? session.OutputMetadata.Keys.Single()
            : throw Error($"the graph has {session.OutputMetadata.Count} outputs [{DescribeAll(session.OutputMetadata)}]; name the embedding output ('output')"));
        if (!session.OutputMetadata.TryGetValue(outputName, out NodeMetadata? output))
        {
            throw Error($"the description names the output '{outputName}', but the graph's outputs are [{DescribeAll(session.OutputMetadata)}]");
        }
        if (output.ElementDataType != TensorElementType.Float)
        {
            throw Error($"output '{outputName}' is {Describe(output)}; only float outputs are supported");
        }
        int[] outputDims = output.Dimensions;
        if (outputDims.Skip(1).Any(v => v < 1))
        {
            // Shape inference left a dimension open: run one blank image to learn it.
            outputDims = ProbeOutput(session, inputName, outputName, d.Layout, channels, height, width);
        }
        int[] shape = outputDims[1..];
        int dimension;
        OutputPooling pooling;
        switch (outputDims.Length)
        {
            case 2:
                dimension = shape[0];
                pooling = OutputPooling.None;
                break;
            case 4:
                dimension = d.Layout == TensorLayout.Nchw ? shape[0] : shape[2];
                int spatial = d.Layout == TensorLayout.Nchw ? shape[1] * shape[2] : shape[0] * shape[1];
                pooling = spatial == 1 ? OutputPooling.None : d.Pooling;
                if (spatial > 1 && d.Pooling == OutputPooling.None)
                {
                    throw Error($"output '{outputName}' is {Describe(output)}, a {(d.Layout == TensorLayout.Nchw ? $"{shape[1]}x{shape[2]}" : $"{shape[0]}x{shape[1]}")} feature map per image; the description says pooling \"none\" — use \"average\" or \"max\"");
                }
                break;
            default:
                throw Error($"output '{outputName}' is {Describe(output)}; expected [N, D], or a 4-D feature map in the input's layout to pool (token sequences [N, T, D] are not supported: export the pooled or class-token output)");
        }
        if (dimension is < 1 or > 65536)
        {
            throw Error($"output '{outputName}' gives {dimension}-d embeddings; expected 1..65536");
        }

        ImageEncoderDescription resolved = d with { InputName = inputName, OutputName = outputName, Width = width, Height = height, Mean = mean, Std = std };
        var metadata = new EmbeddingModelMetadata
        {
            InputWidth = width,
            InputHeight = height,
            InputChannels = channels,
            PixelScale = d.PixelScale,
            EmbeddingDimension = dimension,
            Metric = d.Metric,
            Architecture = d.Architecture ?? System.IO.Path.GetFileNameWithoutExtension(path),
            TrainingDataset = d.TrainingDataset ?? "unknown",
            InputName = inputName,
            OutputName = outputName,
        };
        return new EmbeddingModel(path, metadata, resolved, source, channels, height, width, fixedBatch, shape, dimension, pooling);

        int Size(int? described, int graph, string name)
        {
            if (graph > 0 && described is int value && value != graph)
            {
                throw Error($"input '{inputName}' is {Describe(input)}, {name} {graph}; the description says {name} {value}");
            }
            return graph > 0 ? graph : described ?? throw Error($"input '{inputName}' is {Describe(input)}, with a dynamic {name}; the description must give \"{name}\"");
        }

        float[] PerChannel(IReadOnlyList<float>? values, float fallback, string name)
        {
            if (values is null)
            {
                return Enumerable.Repeat(fallback, channels).ToArray();
            }
            return values.Count == channels
                ? [.. values]
                : throw Error($"input '{inputName}' is {Describe(input)}, {channels} channel{(channels == 1 ? "" : "s")}; the description gives {values.Count} {name} value{(values.Count == 1 ? "" : "s")} [{ImageEncoderDescription.Join(values)}]");
        }
    }

    private static int[] ProbeOutput(InferenceSession session, string inputName, string outputName, TensorLayout layout, int channels, int height, int width)
    {
        int[] shape = layout == TensorLayout.Nchw ? [1, channels, height, width] : [1, height, width, channels];
        var blank = new DenseTensor<float>(shape);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(inputName, blank)], [outputName]);
        return [.. results.First().AsTensor<float>().Dimensions];
    }

    private static int CheckBatch(string path, string name, NodeMetadata input)
    {
        int leading = input.Dimensions[0];
        return leading switch
        {
            < 1 => 0,
            1 => 1,
            _ => throw new InvalidDataException($"Model '{path}' has a fixed batch dimension of {leading} (input '{name}' is {Describe(input)}); expected a dynamic batch dimension (or 1)."),
        };
    }

    private void CheckExpectations(int? expectedWidth, int? expectedHeight, int? expectedChannels)
    {
        var wanted = new List<string>();
        if (expectedChannels is int c && c != Channels)
        {
            wanted.Add($"{c} channels");
        }
        if (expectedHeight is int h && h != Height)
        {
            wanted.Add($"height {h}");
        }
        if (expectedWidth is int w && w != Width)
        {
            wanted.Add($"width {w}");
        }
        if (wanted.Count > 0)
        {
            throw new InvalidDataException(
                $"Model '{Path}' takes {Channels}x{Height}x{Width} (channels x height x width) images, but the options expect {string.Join(", ", wanted)}.");
        }
    }

    // The leading (batch) dimension may be dynamic or anything; the others must be exactly as expected.
    private static bool ShapeMatches(int[] actual, int[] expected)
    {
        if (actual.Length != expected.Length)
        {
            return false;
        }
        for (int i = 1; i < actual.Length; i++)
        {
            if (actual[i] != expected[i])
            {
                return false;
            }
        }
        return true;
    }

    private static string DimText(int d) => d < 0 ? "?" : d.ToString(CultureInfo.InvariantCulture);

    internal static string Describe(NodeMetadata node) =>
        $"{node.ElementDataType.ToString().ToLowerInvariant()}[{string.Join(", ", node.Dimensions.Select(DimText))}]";

    private static string DescribeAll(IReadOnlyDictionary<string, NodeMetadata> nodes) =>
        string.Join(", ", nodes.Select(n => $"'{n.Key}' {Describe(n.Value)}"));
}
