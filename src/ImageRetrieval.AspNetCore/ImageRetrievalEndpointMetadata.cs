using Microsoft.AspNetCore.Http;

namespace ImageRetrieval.AspNetCore;

/// <summary>Where the API is mounted (its prefix), carried by each endpoint so answers can link to images.</summary>
internal sealed record ImageRetrievalEndpointMetadata(string ApiPath)
{
    public static string ApiBase(HttpContext http) =>
        http.Request.PathBase + (http.GetEndpoint()?.Metadata.GetMetadata<ImageRetrievalEndpointMetadata>()?.ApiPath ?? "/api");
}
