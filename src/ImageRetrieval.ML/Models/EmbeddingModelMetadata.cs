using System.Globalization;
using ImageRetrieval.ML.Indexing;
using Microsoft.ML.OnnxRuntime;

namespace ImageRetrieval.ML.Models;

/// <summary>
/// What an ImageRetrieval embedding model says about itself, stored in the ONNX model's
/// <c>metadata_props</c> under <c>imageretrieval.*</c> keys. The training side's exporter writes it;
/// the search side reads it to configure image loading (size, channels, pixel scale) and the index
/// (dimension, metric).
/// </summary>
/// <remarks>
/// Input contract: the model's input is exactly what ML.NET's <c>ExtractPixels</c> produces — planar
/// float pixels <c>[N, C, H, W]</c> with values <c>pixel × PixelScale</c> (0–255 when the scale is 1),
/// only the batch dimension dynamic. A one-channel model receives the grey image (the search side
/// converts colour images to grey first); a three-channel model receives R, G, B planes. Per-channel
/// mean/std normalisation happens inside the graph.
/// </remarks>
public sealed record EmbeddingModelMetadata
{
    /// <summary>The metadata format version this library writes and reads.</summary>
    public const int CurrentFormatVersion = 1;

    /// <summary>Prefix of every metadata key.</summary>
    public const string KeyPrefix = "imageretrieval.";

    /// <summary>Metadata format version.</summary>
    public int FormatVersion { get; init; } = CurrentFormatVersion;

    /// <summary>Input image width in pixels.</summary>
    public required int InputWidth { get; init; }

    /// <summary>Input image height in pixels.</summary>
    public required int InputHeight { get; init; }

    /// <summary>Input channels: 1 (grey) or 3 (RGB).</summary>
    public required int InputChannels { get; init; }

    /// <summary>Factor applied to 0–255 pixel values before they reach the model (ExtractPixels' <c>scaleImage</c>).</summary>
    public float PixelScale { get; init; } = 1f;

    /// <summary>Length of the embedding vector.</summary>
    public required int EmbeddingDimension { get; init; }

    /// <summary>The distance the embeddings were trained for, by its <see cref="DistanceMetricNames"/> name: <c>cosine</c>, <c>l2</c> or <c>ip</c>.</summary>
    public string Metric { get; init; } = DistanceMetricNames.Cosine;

    /// <summary><see cref="Metric"/> as the index's <see cref="Indexing.DistanceMetric"/>.</summary>
    /// <exception cref="FormatException"><see cref="Metric"/> is not a known name.</exception>
    public DistanceMetric DistanceMetric => DistanceMetricNames.Parse(Metric, "model metadata");

    /// <summary>Network architecture, e.g. <c>classic</c>, <c>convnet</c>, <c>resnet18</c>.</summary>
    public string Architecture { get; init; } = "unknown";

    /// <summary>The dataset the network was trained on.</summary>
    public string TrainingDataset { get; init; } = "unknown";

    /// <summary>Name of the graph's input tensor.</summary>
    public string InputName { get; init; } = "pixels";

    /// <summary>Name of the graph's output tensor.</summary>
    public string OutputName { get; init; } = "embedding";

    /// <summary>The metadata as ONNX <c>metadata_props</c> entries.</summary>
    public IReadOnlyDictionary<string, string> ToDictionary() => new Dictionary<string, string>
    {
        [KeyPrefix + "format_version"] = FormatVersion.ToString(CultureInfo.InvariantCulture),
        [KeyPrefix + "input_width"] = InputWidth.ToString(CultureInfo.InvariantCulture),
        [KeyPrefix + "input_height"] = InputHeight.ToString(CultureInfo.InvariantCulture),
        [KeyPrefix + "input_channels"] = InputChannels.ToString(CultureInfo.InvariantCulture),
        [KeyPrefix + "pixel_scale"] = PixelScale.ToString("R", CultureInfo.InvariantCulture),
        [KeyPrefix + "embedding_dimension"] = EmbeddingDimension.ToString(CultureInfo.InvariantCulture),
        [KeyPrefix + "metric"] = Metric,
        [KeyPrefix + "architecture"] = Architecture,
        [KeyPrefix + "training_dataset"] = TrainingDataset,
        [KeyPrefix + "input_name"] = InputName,
        [KeyPrefix + "output_name"] = OutputName,
    };

    /// <summary>Parses metadata entries.</summary>
    /// <param name="entries">The model's <c>metadata_props</c>.</param>
    /// <param name="source">The model file, for error messages.</param>
    /// <exception cref="InvalidDataException">A key is missing or malformed, or the format version is newer than this library.</exception>
    public static EmbeddingModelMetadata FromDictionary(IReadOnlyDictionary<string, string> entries, string source)
    {
        ArgumentNullException.ThrowIfNull(entries);
        int version = Int("format_version");
        if (version < 1 || version > CurrentFormatVersion)
        {
            throw new InvalidDataException($"Model '{source}' has ImageRetrieval metadata format version {version}; this library reads versions 1..{CurrentFormatVersion}.");
        }
        var metadata = new EmbeddingModelMetadata
        {
            FormatVersion = version,
            InputWidth = Int("input_width"),
            InputHeight = Int("input_height"),
            InputChannels = Int("input_channels"),
            PixelScale = Float("pixel_scale"),
            EmbeddingDimension = Int("embedding_dimension"),
            Metric = String("metric"),
            Architecture = String("architecture", "unknown"),
            TrainingDataset = String("training_dataset", "unknown"),
            InputName = String("input_name"),
            OutputName = String("output_name"),
        };
        metadata.Validate(source);
        return metadata;

        string String(string key, string? fallback = null)
        {
            if (entries.TryGetValue(KeyPrefix + key, out string? value) && !string.IsNullOrWhiteSpace(value))
            {
                return value;
            }
            return fallback ?? throw new InvalidDataException(
                $"Model '{source}' lacks the metadata entry '{KeyPrefix}{key}'. ImageRetrieval models carry imageretrieval.* metadata_props (written by ImageRetrieval.Training's ONNX exporter).");
        }

        int Int(string key) => int.TryParse(String(key), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v)
            ? v
            : throw new InvalidDataException($"Model '{source}': metadata '{KeyPrefix}{key}' = '{String(key)}' is not an integer.");

        float Float(string key) => float.TryParse(String(key), NumberStyles.Float, CultureInfo.InvariantCulture, out float v)
            ? v
            : throw new InvalidDataException($"Model '{source}': metadata '{KeyPrefix}{key}' = '{String(key)}' is not a number.");
    }

    /// <summary>Reads the metadata of an ONNX model file.</summary>
    /// <param name="modelPath">The <c>.onnx</c> file.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a loadable ONNX model or lacks ImageRetrieval metadata.</exception>
    public static EmbeddingModelMetadata ReadFromOnnx(string modelPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        if (!File.Exists(modelPath))
        {
            throw new FileNotFoundException($"Model file not found: '{modelPath}'.", modelPath);
        }
        try
        {
            using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
            using var session = new InferenceSession(modelPath, options);
            return FromDictionary(session.ModelMetadata.CustomMetadataMap, modelPath);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"'{modelPath}' is not a valid ONNX model: {e.Message}", e);
        }
    }

    /// <summary>Checks the values are usable.</summary>
    /// <exception cref="InvalidDataException">A value is out of range.</exception>
    public void Validate(string source)
    {
        if (InputChannels is not (1 or 3))
        {
            throw new InvalidDataException($"Model '{source}': input_channels is {InputChannels}; expected 1 (grey) or 3 (RGB).");
        }
        if (InputWidth is < 1 or > 8192 || InputHeight is < 1 or > 8192)
        {
            throw new InvalidDataException($"Model '{source}': input size {InputWidth}x{InputHeight} is outside 1..8192.");
        }
        if (EmbeddingDimension is < 1 or > 65536)
        {
            throw new InvalidDataException($"Model '{source}': embedding_dimension {EmbeddingDimension} is outside 1..65536.");
        }
        if (!(PixelScale > 0) || float.IsInfinity(PixelScale))
        {
            throw new InvalidDataException($"Model '{source}': pixel_scale {PixelScale} must be a positive number.");
        }
        if (!DistanceMetricNames.TryParse(Metric, out _))
        {
            throw new InvalidDataException($"Model '{source}': metric '{Metric}' is unknown; expected one of {string.Join(", ", DistanceMetricNames.All)}.");
        }
    }
}
