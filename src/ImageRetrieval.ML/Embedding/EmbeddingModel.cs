using ImageRetrieval.ML.Imaging;
using ImageRetrieval.ML.Models;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace ImageRetrieval.ML.Embedding;

/// <summary>
/// An opened and checked ImageRetrieval embedding model: its metadata agrees with its graph
/// (input <c>[N, C, H, W]</c> float, output <c>[N, D]</c> float) and with what the caller expects.
/// Every failure is raised here, before any image is read, with a message stating what was expected.
/// </summary>
internal sealed class EmbeddingModel
{
    private EmbeddingModel(string path, EmbeddingModelMetadata metadata)
    {
        Path = path;
        Metadata = metadata;
    }

    public string Path { get; }

    public EmbeddingModelMetadata Metadata { get; }

    public int Channels => Metadata.InputChannels;

    public int Height => Metadata.InputHeight;

    public int Width => Metadata.InputWidth;

    public int Dimension => Metadata.EmbeddingDimension;

    public int ImageLength => Channels * Height * Width;

    public ImageDecodeOptions DecodeOptions(ImageResizeMode mode, long maxPixels, long maxEncodedBytes) => new()
    {
        Width = Width,
        Height = Height,
        Channels = Channels,
        ResizeMode = mode,
        MaxPixels = maxPixels,
        MaxEncodedBytes = maxEncodedBytes,
    };

    /// <summary>Opens a session and checks the model. The caller owns the returned session.</summary>
    /// <exception cref="FileNotFoundException">The model file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not an ONNX model, lacks the metadata, or disagrees with itself or with the expectations.</exception>
    public static EmbeddingModel Open(string modelPath, SessionOptions sessionOptions, int? expectedWidth, int? expectedHeight, int? expectedChannels, out InferenceSession session)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelPath);
        if (!File.Exists(modelPath))
        {
            throw new FileNotFoundException($"Embedding model file not found: '{modelPath}'. Expected an ONNX model exported by ImageRetrieval.Training's ONNX exporter.", modelPath);
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
            var metadata = EmbeddingModelMetadata.FromDictionary(session.ModelMetadata.CustomMetadataMap, modelPath);
            var model = new EmbeddingModel(modelPath, metadata);
            model.Check(session, expectedWidth, expectedHeight, expectedChannels);
            return model;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Opens and checks the model on the CPU, then closes it.</summary>
    public static EmbeddingModel Inspect(string modelPath, int? expectedWidth = null, int? expectedHeight = null, int? expectedChannels = null)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        var model = Open(modelPath, options, expectedWidth, expectedHeight, expectedChannels, out var session);
        session.Dispose();
        return model;
    }

    private void Check(InferenceSession session, int? expectedWidth, int? expectedHeight, int? expectedChannels)
    {
        var m = Metadata;
        var wanted = new List<string>();
        if (expectedChannels is int c && c != m.InputChannels)
        {
            wanted.Add($"{c} channels");
        }
        if (expectedHeight is int h && h != m.InputHeight)
        {
            wanted.Add($"height {h}");
        }
        if (expectedWidth is int w && w != m.InputWidth)
        {
            wanted.Add($"width {w}");
        }
        if (wanted.Count > 0)
        {
            throw new InvalidDataException(
                $"Model '{Path}' takes {m.InputChannels}x{m.InputHeight}x{m.InputWidth} (channels x height x width) images, but the options expect {string.Join(", ", wanted)}.");
        }
        if (!session.InputMetadata.TryGetValue(m.InputName, out NodeMetadata? input))
        {
            throw new InvalidDataException($"Model '{Path}': its metadata names the input '{m.InputName}', but the graph's inputs are [{string.Join(", ", session.InputMetadata.Keys)}].");
        }
        if (session.InputMetadata.Count != 1)
        {
            throw new InvalidDataException($"Model '{Path}' has {session.InputMetadata.Count} inputs; expected exactly one, '{m.InputName}' [N, {m.InputChannels}, {m.InputHeight}, {m.InputWidth}].");
        }
        int[] expectedInput = [-1, m.InputChannels, m.InputHeight, m.InputWidth];
        if (input.ElementDataType != TensorElementType.Float || !ShapeMatches(input.Dimensions, expectedInput))
        {
            throw new InvalidDataException(
                $"Model '{Path}': input '{m.InputName}' is {Describe(input)}; expected float[N, {m.InputChannels}, {m.InputHeight}, {m.InputWidth}] as its metadata states (only N dynamic).");
        }
        if (!session.OutputMetadata.TryGetValue(m.OutputName, out NodeMetadata? output))
        {
            throw new InvalidDataException($"Model '{Path}': its metadata names the output '{m.OutputName}', but the graph's outputs are [{string.Join(", ", session.OutputMetadata.Keys)}].");
        }
        if (output.ElementDataType != TensorElementType.Float || !ShapeMatches(output.Dimensions, [-1, m.EmbeddingDimension]))
        {
            throw new InvalidDataException(
                $"Model '{Path}': output '{m.OutputName}' is {Describe(output)}; expected float[N, {m.EmbeddingDimension}] (embedding_dimension = {m.EmbeddingDimension}).");
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

    private static string Describe(NodeMetadata node) =>
        $"{node.ElementDataType.ToString().ToLowerInvariant()}[{string.Join(", ", node.Dimensions.Select(d => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)))}]";
}
