using System.Text.Json.Serialization;
using ImageRetrieval.ML.VectorStores;

namespace ImageRetrieval.ML.Search;

/// <summary>
/// Source-generated System.Text.Json metadata for every file this package writes as JSON: no reflection at run time,
/// so the persistence code is safe to trim and to compile ahead of time. snake_case names, indented, nulls omitted.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    MaxDepth = 16)]
[JsonSerializable(typeof(IndexManifest))]
[JsonSerializable(typeof(List<ImageSearchIndex.ItemRecord>))]
[JsonSerializable(typeof(CollectionManifest))]
[JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class SearchJsonContext : JsonSerializerContext;
