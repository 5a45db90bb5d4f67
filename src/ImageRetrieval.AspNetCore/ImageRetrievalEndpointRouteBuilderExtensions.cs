using System.Security.Cryptography;
using ImageRetrieval.AspNetCore;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the image search API, its page, its OpenAPI document and its health check.</summary>
public static class ImageRetrievalEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps, below <paramref name="prefix"/>: <c>POST /api/search?k=10</c>, <c>GET /api/images/{key}</c>,
    /// <c>GET /api/images/{key}/thumbnail</c>, <c>POST /api/images</c>, <c>DELETE /api/images/{key}</c>, <c>GET /api/info</c>,
    /// <c>GET /healthz</c>, the OpenAPI document (<c>/openapi/v1.json</c>) and the search page (<c>/</c>). Every API
    /// request passes the limits of <see cref="ImageRetrievalApiOptions"/> (size, concurrency and queue, timeout) and
    /// every error is answered as problem details. Needs <c>services.AddImageRetrieval(...)</c> and <c>services.AddImageRetrievalApi(...)</c>.
    /// </summary>
    /// <param name="endpoints">The app (or any route builder).</param>
    /// <param name="prefix">Where to mount it, e.g. <c>/image-search</c>; empty for the root.</param>
    /// <returns>The group of every mapped endpoint, to add conventions (authorization, CORS, ...).</returns>
    /// <exception cref="InvalidOperationException"><c>AddImageRetrievalApi</c> was not called.</exception>
    public static RouteGroupBuilder MapImageRetrievalApi(this IEndpointRouteBuilder endpoints, string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(prefix);
        ApiLimitsFilter limits = endpoints.ServiceProvider.GetService<ApiLimitsFilter>()
            ?? throw new InvalidOperationException("MapImageRetrievalApi needs services.AddImageRetrievalApi() (and services.AddImageRetrieval(...) for the index).");
        ImageRetrievalApiOptions options = endpoints.ServiceProvider.GetRequiredService<IOptions<ImageRetrievalApiOptions>>().Value;
        prefix = prefix.TrimEnd('/');
        RouteGroupBuilder root = endpoints.MapGroup(prefix);

        RouteGroupBuilder api = root.MapGroup("/api")
            .WithMetadata(new ImageRetrievalEndpointMetadata(prefix + "/api"))
            .AddEndpointFilter((context, next) => limits.InvokeAsync(context, next))   // a singleton: resolved once, not per request
            .WithTags("Image search")
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status504GatewayTimeout);
        // No Accepts(...) metadata: routing would answer other content types with a bare 415; the handlers answer it
        // with a detail naming the problem.

        api.MapPost("/search", ImageRetrievalEndpoints.SearchAsync)
            .WithName("SearchByImage")
            .WithSummary("The indexed images most similar to the posted image (raw bytes or multipart), nearest first.")
            .Produces<SearchResponse>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        api.MapGet("/images/{key:long}", ImageRetrievalEndpoints.GetImage)
            .WithName("GetImage")
            .WithSummary("The indexed image file of a key (only indexed files are served; no path comes from the request).")
            .Produces(StatusCodes.Status200OK, typeof(byte[]), "image/png", "image/jpeg", "image/gif", "image/bmp", "image/webp")
            .ProducesProblem(StatusCodes.Status404NotFound);
        api.MapGet("/images/{key:long}/thumbnail", ImageRetrievalEndpoints.GetThumbnail)
            .WithName("GetThumbnail")
            .WithSummary($"A PNG thumbnail of an indexed image (longest side at most {options.ThumbnailSize} px).")
            .Produces(StatusCodes.Status200OK, contentType: "image/png")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        api.MapPost("/images", ImageRetrievalEndpoints.AddAsync)
            .WithName("AddImages")
            .WithSummary("Adds one or many images (multipart file parts, optional 'label' field) with the X-Api-Key header; saved crash-safely before the answer.")
            .Produces<AddImagesResponse>(StatusCodes.Status201Created)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        api.MapDelete("/images/{key:long}", ImageRetrievalEndpoints.DeleteAsync)
            .WithName("RemoveImage")
            .WithSummary("Removes an image from the index (X-Api-Key header); files the service saved are deleted too.")
            .Produces(StatusCodes.Status204NoContent)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound);
        api.MapGet("/info", ImageRetrievalEndpoints.Info)
            .WithName("GetInfo")
            .WithSummary("What the service holds (count, model, metric) and its limits.")
            .Produces<InfoResponse>();

        root.MapHealthChecks("/healthz");
        if (options.MapOpenApiDocument)
        {
            root.MapOpenApi();
        }
        if (options.ServePage)
        {
            MapPage(root);
        }
        return root;
    }

    private static void MapPage(RouteGroupBuilder root)
    {
        foreach ((string route, string file, string type) in new[]
        {
            ("/", "index.html", "text/html; charset=utf-8"),
            ("/app.js", "app.js", "text/javascript; charset=utf-8"),
            ("/app.css", "app.css", "text/css; charset=utf-8"),
        })
        {
            byte[] content = ReadPageFile(file);
            string etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(content))[..16] + "\"";
            root.MapGet(route, (HttpContext http) =>
            {
                http.Response.Headers.ETag = etag;
                http.Response.Headers.CacheControl = "no-cache";
                http.Response.Headers.XContentTypeOptions = "nosniff";
                if (file == "index.html")
                {
                    // Everything the page uses is served from here: no external script, style, font or image.
                    http.Response.Headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'";
                }
                return http.Request.Headers.IfNoneMatch == etag ? Results.StatusCode(StatusCodes.Status304NotModified) : Results.Bytes(content, type);
            }).ExcludeFromDescription();
        }
    }

    private static byte[] ReadPageFile(string name)
    {
        using Stream stream = typeof(ImageRetrievalApiOptions).Assembly.GetManifestResourceStream("wwwroot/" + name)
            ?? throw new InvalidOperationException($"The page file wwwroot/{name} is not embedded in {typeof(ImageRetrievalApiOptions).Assembly.GetName().Name}.");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }
}
