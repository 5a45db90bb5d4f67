using System.CommandLine;
using System.Globalization;
using ImageRetrieval.Cli.Output;
using ImageRetrieval.Cli.Services;
using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Models;
using Microsoft.ML.OnnxRuntime;
using Spectre.Console;

namespace ImageRetrieval.Cli.Commands;

/// <summary>
/// <c>imgret model-info MODEL</c>: what an ONNX model's graph takes and gives, its metadata, and how it would be fed — from
/// its <c>imageretrieval.*</c> metadata or its description file — or why it cannot be; <c>--init-description</c> writes a
/// starting <c>MODEL.onnx.json</c> for a foreign encoder.
/// </summary>
internal static class ModelInfoCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = ModelArgument.Description("The model") };
        var description = new Option<string?>("--description") { Description = "Check this encoder description (JSON) against the model instead of MODEL.onnx.json." };
        var init = new Option<bool>("--init-description") { Description = "Write MODEL.onnx.json guessed from the graph (layout, size, output; ImageNet mean/std at 0-1 scale) for you to check and edit; never overwrites." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object." };
        var command = new Command("model-info", "Show an ONNX model's inputs, outputs and metadata, and how imgret would feed it (or why it cannot).")
        {
            model, description, init, json,
        };
        command.SetAction(parse => CliOutput.Run(() =>
        {
            string path = ModelArgument.Resolve(parse.GetValue(model)!);
            Graph graph = Graph.Read(path);
            if (parse.GetValue(init))
            {
                string sidecar = ImageEncoderDescription.SidecarPath(path);
                if (File.Exists(sidecar))
                {
                    throw new IOException($"'{sidecar}' exists already; edit it, or delete it to write a new one.");
                }
                Guess(graph, path).Write(sidecar);
                AnsiConsole.MarkupLineInterpolated($"Wrote [green]{sidecar}[/]: check the channel order, pixel scale, mean and std against how the model was trained.");
            }
            ImageEncoderDescription? described = parse.GetValue(description) is { } file ? ImageEncoderDescription.Read(file) : null;
            (ImageEmbedder? embedder, string? problem) = TryOpen(path, described);
            using (embedder)
            {
                if (parse.GetValue(json))
                {
                    CliOutput.WriteJson(new ModelInfoJson(
                        Path.GetFullPath(path), new FileInfo(path).Length, graph.Producer,
                        [.. graph.Inputs.Select(i => new TensorJson(i.Name, i.Type, i.Dimensions))],
                        [.. graph.Outputs.Select(o => new TensorJson(o.Name, o.Type, o.Dimensions))],
                        graph.Metadata, embedder is null ? null : SourceName(embedder.EncoderSource), embedder?.Dimension, embedder?.Metadata.Metric,
                        embedder is null ? null : System.Text.Json.JsonDocument.Parse(embedder.Encoder.ToJson()).RootElement, problem), CliJsonContext.Default.ModelInfoJson);
                    return problem is null ? 0 : 1;
                }
                Print(path, graph, embedder, problem);
                return problem is null ? 0 : 1;
            }
        }));
        return command;
    }

    private static (ImageEmbedder?, string?) TryOpen(string path, ImageEncoderDescription? described)
    {
        try
        {
            return (new ImageEmbedder(path, new ImageEmbedderOptions { BatchSize = 2, DecodeParallelism = 1, Encoder = described }), null);
        }
        catch (InvalidDataException e)
        {
            return (null, e.Message);
        }
    }

    private static string SourceName(EncoderDescriptionSource source) => source switch
    {
        EncoderDescriptionSource.Metadata => "imageretrieval.* metadata",
        EncoderDescriptionSource.DescriptionFile => "description file",
        _ => "--description",
    };

    private static void Print(string path, Graph graph, ImageEmbedder? embedder, string? problem)
    {
        AnsiConsole.MarkupLineInterpolated($"[bold]{path}[/] ({new FileInfo(path).Length / 1048576.0:F1} MiB{(graph.Producer is { Length: > 0 } p ? ", produced by " + p : "")})");
        var table = new Table().AddColumn("").AddColumn("name").AddColumn("type");
        foreach (Tensor input in graph.Inputs)
        {
            table.AddRow("input", Markup.Escape(input.Name), Markup.Escape(input.Describe()));
        }
        foreach (Tensor output in graph.Outputs)
        {
            table.AddRow("output", Markup.Escape(output.Name), Markup.Escape(output.Describe()));
        }
        AnsiConsole.Write(table);
        if (graph.Metadata.Count > 0)
        {
            var metadata = new Table().AddColumn("metadata").AddColumn("value");
            foreach (var (key, value) in graph.Metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                metadata.AddRow(Markup.Escape(key), Markup.Escape(value.Length > 120 ? value[..117] + "..." : value));
            }
            AnsiConsole.Write(metadata);
        }
        if (embedder is null)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]Cannot be used as it is:[/] {problem}");
            AnsiConsole.MarkupLine("Describe how to feed it: [green]imgret model-info MODEL --init-description[/] writes a MODEL.onnx.json to check and edit (docs/photos.md lists the keys).");
            return;
        }
        ImageEncoderDescription d = embedder.Encoder;
        string F(float v) => v.ToString("G6", CultureInfo.InvariantCulture);
        AnsiConsole.MarkupLineInterpolated($"Fed as described by its [green]{SourceName(embedder.EncoderSource)}[/]:");
        AnsiConsole.MarkupLineInterpolated($"  input '{d.InputName}': {d.Layout.ToString().ToUpperInvariant()}, {d.Width}x{d.Height}, {(embedder.Metadata.InputChannels == 1 ? "grey" : d.ChannelOrder.ToString().ToUpperInvariant())}, value = (pixel x {F(d.PixelScale)} - mean) / std, mean [[{string.Join(", ", d.Mean!.Select(F))}]], std [[{string.Join(", ", d.Std!.Select(F))}]]");
        AnsiConsole.MarkupLineInterpolated($"  images fitted by: {(d.Resize ?? embedder.Options.ResizeMode) switch { ML.Imaging.ImageResizeMode.Fill => "stretch", ML.Imaging.ImageResizeMode.IsoPad => "pad", _ => "shorter side scaled, centre crop" }}");
        AnsiConsole.MarkupLineInterpolated($"  output '{d.OutputName}' → {embedder.Dimension}-d embedding, pooling {d.Pooling.ToString().ToLowerInvariant()}, L2 normalisation {(d.Normalize ? "here" : "none here")}, metric {d.Metric}; batch {(embedder.BatchSize == 1 ? "fixed at 1" : "dynamic")}");
    }

    // A starting description: layout from where the 1 or 3 channels sit, size from the graph (224 when dynamic), the
    // only output, and torchvision's ImageNet normalisation (scale 1/255), the most common choice of exported models.
    private static ImageEncoderDescription Guess(Graph graph, string path)
    {
        Tensor input = graph.Inputs.Count == 1 ? graph.Inputs[0] : throw new InvalidDataException($"'{path}' has {graph.Inputs.Count} inputs; write its description by hand.");
        int[] d = input.Dimensions;
        if (d.Length != 4)
        {
            throw new InvalidDataException($"'{path}': input '{input.Name}' is {input.Describe()}, not a 4-D image tensor.");
        }
        bool nhwc = d[1] is not (1 or 3) && d[3] is 1 or 3;
        int channels = nhwc ? d[3] : d[1];
        int Side(int value) => value > 0 ? value : 224;
        float[] mean = channels == 1 ? [0.5f] : [0.485f, 0.456f, 0.406f], std = channels == 1 ? [0.5f] : [0.229f, 0.224f, 0.225f];
        return new ImageEncoderDescription
        {
            InputName = input.Name,
            Layout = nhwc ? TensorLayout.Nhwc : TensorLayout.Nchw,
            Height = Side(nhwc ? d[1] : d[2]),
            Width = Side(nhwc ? d[2] : d[3]),
            PixelScale = 1f / 255,
            Mean = mean,
            Std = std,
            OutputName = graph.Outputs.Count == 1 ? graph.Outputs[0].Name : null,
        };
    }

    /// <summary><c>--json</c>: one input or output of the graph.</summary>
    internal sealed record TensorJson(string Name, string Type, int[] Dimensions);

    /// <summary><c>--json</c> output (keys as before the source-generated serializer).</summary>
    internal sealed record ModelInfoJson(
        string Model, long Bytes, string? Producer, TensorJson[] Inputs, TensorJson[] Outputs, IReadOnlyDictionary<string, string> Metadata,
        string? DescribedBy, int? Dimension, string? Metric, System.Text.Json.JsonElement? Encoder, string? Problem);

    private sealed record Tensor(string Name, string Type, int[] Dimensions)
    {
        public string Describe() => $"{Type}[{string.Join(", ", Dimensions.Select(v => v < 0 ? "?" : v.ToString(CultureInfo.InvariantCulture)))}]";
    }

    private sealed record Graph(string? Producer, IReadOnlyList<Tensor> Inputs, IReadOnlyList<Tensor> Outputs, IReadOnlyDictionary<string, string> Metadata)
    {
        public static Graph Read(string path)
        {
            try
            {
                using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
                using var session = new InferenceSession(path, options);
                static List<Tensor> List(IReadOnlyDictionary<string, NodeMetadata> nodes) =>
                    [.. nodes.Select(n => new Tensor(n.Key, n.Value.ElementDataType.ToString().ToLowerInvariant(), n.Value.Dimensions))];
                return new Graph(session.ModelMetadata.ProducerName, List(session.InputMetadata), List(session.OutputMetadata),
                    new Dictionary<string, string>(session.ModelMetadata.CustomMetadataMap));
            }
            catch (OnnxRuntimeException e)
            {
                throw new InvalidDataException($"'{path}' is not a loadable ONNX model ({e.Message.ReplaceLineEndings(" ").Trim()}).", e);
            }
        }
    }
}
