using System.Text.Json.Serialization;
using ImageRetrieval.Cli.Commands;
using ImageRetrieval.Cli.Services;

namespace ImageRetrieval.Cli.Output;

/// <summary>
/// The serializers of every command's <c>--json</c> output, generated at compile time: keys in snake_case (a name with
/// a digit, such as <c>p_at_1</c>, is spelled out with <see cref="JsonPropertyNameAttribute"/>), nulls left out. Scripts
/// depend on these keys; the shapes live beside their commands.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(AnnBenchCommand.AnnBenchResult))]
[JsonSerializable(typeof(EmbeddingBenchmark.Report))]
[JsonSerializable(typeof(SearchCommand.SearchJson))]
[JsonSerializable(typeof(SearchCommand.QueryFolderJson))]
[JsonSerializable(typeof(DemoCommand.DemoJson))]
[JsonSerializable(typeof(EvalCommand.EvalJson))]
[JsonSerializable(typeof(ExportCommand.ExportJson))]
[JsonSerializable(typeof(TrainCommand.TrainJson))]
[JsonSerializable(typeof(IndexCommand.IndexJson))]
[JsonSerializable(typeof(MatInfoCommand.MatInfoJson))]
[JsonSerializable(typeof(InfoCommand.InfoJson))]
[JsonSerializable(typeof(ModelInfoCommand.ModelInfoJson))]
[JsonSerializable(typeof(SoakResult))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
