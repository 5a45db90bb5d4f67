using System.Globalization;
using System.Text;
using System.Text.Json;
using ImageRetrieval.IO;
using ImageRetrieval.ML.Imaging;
using ImageRetrieval.ML.Indexing;

namespace ImageRetrieval.ML.Models;

/// <summary>Memory layout of a model's image input.</summary>
public enum TensorLayout
{
    /// <summary><c>[N, C, H, W]</c>: one plane per channel (PyTorch, ONNX, ML.NET's <c>ExtractPixels</c> default).</summary>
    Nchw,

    /// <summary><c>[N, H, W, C]</c>: channels interleaved per pixel (TensorFlow, Keras).</summary>
    Nhwc,
}

/// <summary>The order of a colour model's three input channels.</summary>
public enum ChannelOrder
{
    /// <summary>Red, green, blue.</summary>
    Rgb,

    /// <summary>Blue, green, red (Caffe, OpenCV, CNTK models).</summary>
    Bgr,
}

/// <summary>How a 4-D output (a feature map) becomes one vector per image.</summary>
public enum OutputPooling
{
    /// <summary>No pooling: the output must be <c>[N, D]</c>, or 4-D with a 1 × 1 spatial size.</summary>
    None,

    /// <summary>Mean over the spatial positions (global average pooling).</summary>
    Average,

    /// <summary>Maximum over the spatial positions (global max pooling).</summary>
    Max,
}

/// <summary>
/// How to feed a foreign ONNX image encoder — a CLIP, DINOv2, timm or Keras model exported elsewhere, with none of this
/// library's <c>imageretrieval.*</c> metadata — and how to turn its output into an embedding. Give it in code
/// (<c>ImageEmbedderOptions.Encoder</c>, <c>ImageEmbeddingOptions.Encoder</c>) or as JSON next to the model
/// (<c>model.onnx.json</c>, see <see cref="SidecarPath"/>). It is checked against the graph when the model is opened.
/// </summary>
/// <remarks>
/// <para>Each input value is <c>(pixel × PixelScale − Mean[c]) / Std[c]</c> for a 0–255 pixel, channel <c>c</c> counted in
/// the model's own order (<see cref="ChannelOrder"/>): for a BGR model, list the blue mean first. Grey models (one
/// input channel) receive ML.NET's grey conversion (0.3 R + 0.59 G + 0.11 B).</para>
/// <para>Null sizes and names are taken from the graph (which must then fix them, or have exactly one input / output).</para>
/// </remarks>
public sealed record ImageEncoderDescription
{
    /// <summary>Name of the graph input to feed; null: the graph's only input.</summary>
    public string? InputName { get; init; }

    /// <summary>Layout of that input. A 4-D output is read in the same layout (<c>[N, D, h, w]</c> or <c>[N, h, w, D]</c>).</summary>
    public TensorLayout Layout { get; init; } = TensorLayout.Nchw;

    /// <summary>Input width in pixels; null: the graph's (which must be fixed).</summary>
    public int? Width { get; init; }

    /// <summary>Input height in pixels; null: the graph's (which must be fixed).</summary>
    public int? Height { get; init; }

    /// <summary>Channel order of a colour model.</summary>
    public ChannelOrder ChannelOrder { get; init; } = ChannelOrder.Rgb;

    /// <summary>Factor applied to 0–255 pixel values first (1/255 for models that expect 0–1).</summary>
    public float PixelScale { get; init; } = 1f;

    /// <summary>Per-channel mean subtracted after scaling, in the model's channel order; null: zero.</summary>
    public IReadOnlyList<float>? Mean { get; init; }

    /// <summary>Per-channel standard deviation divided by last, in the model's channel order; null: one.</summary>
    public IReadOnlyList<float>? Std { get; init; }

    /// <summary>How images are fitted to the input size; null: the embedder's <c>ResizeMode</c> option (centre crop by default).</summary>
    public ImageResizeMode? Resize { get; init; }

    /// <summary>Name of the graph output that holds the embedding; null: the graph's only output.</summary>
    public string? OutputName { get; init; }

    /// <summary>How a 4-D output becomes a vector (ignored for 2-D outputs).</summary>
    public OutputPooling Pooling { get; init; } = OutputPooling.Average;

    /// <summary>Divide each embedding by its L2 norm (a zero vector stays zero).</summary>
    public bool Normalize { get; init; } = true;

    /// <summary>The distance to search with, by its <see cref="DistanceMetricNames"/> name: <c>cosine</c>, <c>l2</c> or <c>ip</c>.</summary>
    public string Metric { get; init; } = DistanceMetricNames.Cosine;

    /// <summary>Free text naming the network, shown by <c>imgret model-info</c> and stored in index manifests.</summary>
    public string? Architecture { get; init; }

    /// <summary>Free text naming what the network was trained on.</summary>
    public string? TrainingDataset { get; init; }

    /// <summary>The description file that <see cref="Read"/> looks for beside a model: <c>model.onnx</c> → <c>model.onnx.json</c>.</summary>
    public static string SidecarPath(string modelPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        return modelPath + ".json";
    }

    /// <summary>
    /// The description equivalent to a model's <c>imageretrieval.*</c> metadata: NCHW, R, G, B (or grey), the metadata's
    /// pixel scale, no mean or std, the output used as it is (the model normalises itself), the metadata's metric.
    /// </summary>
    public static ImageEncoderDescription FromMetadata(EmbeddingModelMetadata metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        return new ImageEncoderDescription
        {
            InputName = metadata.InputName,
            Width = metadata.InputWidth,
            Height = metadata.InputHeight,
            PixelScale = metadata.PixelScale,
            OutputName = metadata.OutputName,
            Pooling = OutputPooling.None,
            Normalize = false,
            Metric = metadata.Metric,
            Architecture = metadata.Architecture,
            TrainingDataset = metadata.TrainingDataset,
        };
    }

    /// <summary>Reads a description file (JSON, see <see cref="FromJson"/>).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The JSON is malformed or a value is invalid; the message names the file and the key.</exception>
    public static ImageEncoderDescription Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Encoder description not found: '{path}'.", path);
        }
        return FromJson(File.ReadAllText(path), path);
    }

    /// <summary>
    /// Parses a description. Keys (all optional): <c>input</c>, <c>layout</c> (<c>nchw</c> | <c>nhwc</c>), <c>width</c>,
    /// <c>height</c>, <c>channel_order</c> (<c>rgb</c> | <c>bgr</c>), <c>pixel_scale</c>, <c>mean</c>, <c>std</c> (arrays),
    /// <c>resize</c> (<c>stretch</c> | <c>crop</c> | <c>pad</c>), <c>output</c>, <c>pooling</c> (<c>none</c> | <c>average</c> |
    /// <c>max</c>), <c>normalize</c> (bool), <c>metric</c> (<c>cosine</c> | <c>l2</c> | <c>ip</c>), <c>architecture</c>,
    /// <c>training_dataset</c>. Unknown keys are refused, so a typo does not silently change nothing.
    /// </summary>
    /// <param name="json">The JSON object.</param>
    /// <param name="source">What it was read from, named in errors.</param>
    /// <exception cref="InvalidDataException">The JSON is malformed, has an unknown key, or a value is invalid.</exception>
    public static ImageEncoderDescription FromJson(string json, string source = "<json>")
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Encoder description '{source}' is not valid JSON: {e.Message}", e);
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"Encoder description '{source}' must be a JSON object; found {document.RootElement.ValueKind}.");
            }
            var description = new ImageEncoderDescription();
            foreach (JsonProperty p in document.RootElement.EnumerateObject())
            {
                description = p.Name switch
                {
                    "input" => description with { InputName = Text(p) },
                    "layout" => description with { Layout = Choice(p, LayoutNames) },
                    "width" => description with { Width = Integer(p) },
                    "height" => description with { Height = Integer(p) },
                    "channel_order" => description with { ChannelOrder = Choice(p, ChannelOrderNames) },
                    "pixel_scale" => description with { PixelScale = Number(p) },
                    "mean" => description with { Mean = Numbers(p) },
                    "std" => description with { Std = Numbers(p) },
                    "resize" => description with { Resize = Choice(p, ResizeNames) },
                    "output" => description with { OutputName = Text(p) },
                    "pooling" => description with { Pooling = Choice(p, PoolingNames) },
                    "normalize" => description with { Normalize = Boolean(p) },
                    "metric" => description with { Metric = Text(p) },
                    "architecture" => description with { Architecture = Text(p) },
                    "training_dataset" => description with { TrainingDataset = Text(p) },
                    _ => throw new InvalidDataException(
                        $"Encoder description '{source}': unknown key '{p.Name}'; the keys are {string.Join(", ", KeyNames)}."),
                };
            }
            description.Validate(source);
            return description;
        }

        string Text(JsonProperty p) => p.Value.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(p.Value.GetString())
            ? p.Value.GetString()!
            : throw Invalid(p, "a non-empty string");

        int Integer(JsonProperty p) => p.Value.ValueKind == JsonValueKind.Number && p.Value.TryGetInt32(out int v) ? v : throw Invalid(p, "an integer");

        float Number(JsonProperty p) => p.Value.ValueKind == JsonValueKind.Number ? (float)p.Value.GetDouble() : throw Invalid(p, "a number");

        bool Boolean(JsonProperty p) => p.Value.ValueKind is JsonValueKind.True or JsonValueKind.False ? p.Value.GetBoolean() : throw Invalid(p, "true or false");

        float[] Numbers(JsonProperty p) => p.Value.ValueKind == JsonValueKind.Array && p.Value.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number)
            ? [.. p.Value.EnumerateArray().Select(e => (float)e.GetDouble())]
            : throw Invalid(p, "an array of numbers");

        T Choice<T>(JsonProperty p, IReadOnlyDictionary<string, T> names) =>
            p.Value.ValueKind == JsonValueKind.String && names.TryGetValue(p.Value.GetString()!, out T? value)
                ? value
                : throw Invalid(p, "one of " + string.Join(", ", names.Keys.Select(k => $"\"{k}\"")));

        InvalidDataException Invalid(JsonProperty p, string expected) =>
            new($"Encoder description '{source}': '{p.Name}' is {p.Value.GetRawText()}; expected {expected}.");
    }

    /// <summary>The description as JSON, in the format <see cref="FromJson"/> reads (only the values that are set).</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            if (InputName is not null)
            {
                writer.WriteString("input", InputName);
            }
            writer.WriteString("layout", NameOf(LayoutNames, Layout));
            WriteOptional("width", Width);
            WriteOptional("height", Height);
            writer.WriteString("channel_order", NameOf(ChannelOrderNames, ChannelOrder));
            writer.WriteNumber("pixel_scale", PixelScale);
            WriteArray("mean", Mean);
            WriteArray("std", Std);
            if (Resize is { } resize)
            {
                writer.WriteString("resize", NameOf(ResizeNames, resize));
            }
            if (OutputName is not null)
            {
                writer.WriteString("output", OutputName);
            }
            writer.WriteString("pooling", NameOf(PoolingNames, Pooling));
            writer.WriteBoolean("normalize", Normalize);
            writer.WriteString("metric", Metric);
            if (Architecture is not null)
            {
                writer.WriteString("architecture", Architecture);
            }
            if (TrainingDataset is not null)
            {
                writer.WriteString("training_dataset", TrainingDataset);
            }
            writer.WriteEndObject();

            void WriteOptional(string key, int? value)
            {
                if (value is int v)
                {
                    writer.WriteNumber(key, v);
                }
            }

            void WriteArray(string key, IReadOnlyList<float>? values)
            {
                if (values is null)
                {
                    return;
                }
                writer.WriteStartArray(key);
                foreach (float v in values)
                {
                    writer.WriteNumberValue(v);
                }
                writer.WriteEndArray();
            }
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Writes <see cref="ToJson"/> to <paramref name="path"/> atomically (e.g. <see cref="SidecarPath"/> of a model).</summary>
    public void Write(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Validate(path);
        AtomicFile.WriteAllText(path, ToJson() + "\n");
    }

    /// <summary>Checks the values that do not depend on the graph (sizes, scale, std, metric).</summary>
    /// <param name="source">Named in the error.</param>
    /// <exception cref="InvalidDataException">A value is out of range.</exception>
    public void Validate(string source)
    {
        if (Width is < 1 or > 8192 || Height is < 1 or > 8192)
        {
            throw new InvalidDataException($"Encoder description '{source}': size {Width}x{Height} is outside 1..8192.");
        }
        if (!(PixelScale > 0) || float.IsInfinity(PixelScale))
        {
            throw new InvalidDataException($"Encoder description '{source}': pixel_scale {PixelScale.ToString(CultureInfo.InvariantCulture)} must be a positive number.");
        }
        if (Mean is { Count: not (1 or 3) } || Std is { Count: not (1 or 3) })
        {
            throw new InvalidDataException($"Encoder description '{source}': mean and std need 1 (grey) or 3 (colour) values; got {Mean?.Count.ToString(CultureInfo.InvariantCulture) ?? "none"} and {Std?.Count.ToString(CultureInfo.InvariantCulture) ?? "none"}.");
        }
        if (Mean?.Any(m => !float.IsFinite(m)) == true || Std?.Any(s => !(s > 0) || !float.IsFinite(s)) == true)
        {
            throw new InvalidDataException($"Encoder description '{source}': mean values must be finite and std values positive; got mean [{Join(Mean)}], std [{Join(Std)}].");
        }
        if (!DistanceMetricNames.TryParse(Metric, out _))
        {
            throw new InvalidDataException($"Encoder description '{source}': metric '{Metric}' is unknown; expected one of {string.Join(", ", DistanceMetricNames.All)}.");
        }
        if (!Enum.IsDefined(Layout) || !Enum.IsDefined(ChannelOrder) || !Enum.IsDefined(Pooling) || (Resize is { } r && !Enum.IsDefined(r)))
        {
            throw new InvalidDataException($"Encoder description '{source}': an enum value is undefined.");
        }
    }

    internal static string Join(IReadOnlyList<float>? values) =>
        values is null ? "" : string.Join(", ", values.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));

    private static readonly IReadOnlyList<string> KeyNames =
        ["input", "layout", "width", "height", "channel_order", "pixel_scale", "mean", "std", "resize", "output", "pooling", "normalize", "metric", "architecture", "training_dataset"];

    private static readonly Dictionary<string, TensorLayout> LayoutNames = new(StringComparer.OrdinalIgnoreCase) { ["nchw"] = TensorLayout.Nchw, ["nhwc"] = TensorLayout.Nhwc };

    private static readonly Dictionary<string, ChannelOrder> ChannelOrderNames = new(StringComparer.OrdinalIgnoreCase) { ["rgb"] = ChannelOrder.Rgb, ["bgr"] = ChannelOrder.Bgr };

    private static readonly Dictionary<string, OutputPooling> PoolingNames = new(StringComparer.OrdinalIgnoreCase)
    {
        ["none"] = OutputPooling.None, ["average"] = OutputPooling.Average, ["max"] = OutputPooling.Max,
    };

    // The first name of each value is the one written.
    private static readonly Dictionary<string, ImageResizeMode> ResizeNames = new(StringComparer.OrdinalIgnoreCase)
    {
        ["crop"] = ImageResizeMode.IsoCrop, ["stretch"] = ImageResizeMode.Fill, ["pad"] = ImageResizeMode.IsoPad,
        ["shorter-side-crop"] = ImageResizeMode.IsoCrop, ["iso-crop"] = ImageResizeMode.IsoCrop, ["fill"] = ImageResizeMode.Fill, ["iso-pad"] = ImageResizeMode.IsoPad,
    };

    private static string NameOf<T>(Dictionary<string, T> names, T value) where T : struct, Enum =>
        names.First(p => EqualityComparer<T>.Default.Equals(p.Value, value)).Key;
}
