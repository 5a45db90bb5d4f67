using System.Text.Json;
using System.Text.Json.Serialization;

namespace ImageRetrieval.AspNetCore;

/// <summary>
/// Source-generated serialisation of the API's answers (web defaults: camelCase). Put first in the app's HTTP JSON
/// resolver chain by <c>AddImageRetrievalApi</c>: it resolves only these types, so the app's own types are untouched.
/// Generated code instead of reflection-built converters: less work per answer and nothing that trimming can remove.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(SearchResponse))]
[JsonSerializable(typeof(AddImagesResponse))]
[JsonSerializable(typeof(InfoResponse))]
internal sealed partial class ApiJsonContext : JsonSerializerContext;
