using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ImageRetrieval.ML.Imaging;
using ImageRetrieval.ML.Search;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.AspNetCore;

/// <summary>The handlers of the API (mapped by <c>MapImageRetrievalApi</c>); every failure is a problem-details answer.</summary>
internal static class ImageRetrievalEndpoints
{
    public const string ApiKeyHeader = "X-Api-Key";
    private const int MaxLabelLength = 200;
    private const string JsonContentType = "application/json; charset=utf-8";
    private static readonly FileExtensionContentTypeProvider ContentTypes = new();

    public static async Task<IResult> SearchAsync(HttpContext http, ImageSearchIndex index, IOptions<ImageRetrievalApiOptions> options)
    {
        ImageRetrievalApiOptions o = options.Value;
        var watch = Stopwatch.StartNew();
        int k = ParseK(http.Request.Query["k"], o);
        var (images, _) = await UploadReader.ReadAsync(http.Request, o.MaxRequestBytes, 1, index.Options.Embedder.MaxPixels, http.RequestAborted);
        UploadedImage image = images[0];
        IReadOnlyList<ImageSearchResult> results;
        try
        {
            results = index.Search(image.Bytes, k, cancellationToken: http.RequestAborted);
        }
        catch (ImageDecodeException e)
        {
            return UploadReader.Undecodable(image, e);
        }
        string api = ApiBase(http);
        var hits = new SearchHitResponse[results.Count];
        for (int i = 0; i < hits.Length; i++)
        {
            ImageSearchResult r = results[i];
            string imageUrl = ImageUrl(api, r.Key);
            hits[i] = new SearchHitResponse(i + 1, r.Key, r.Label, r.Distance, r.Path, imageUrl, ThumbnailUrl(imageUrl));
        }
        // The hot answer: written by the source generator's fast path (no converter walk) with its length known, so
        // it goes out with a Content-Length rather than chunked. Written with the context's own options (web defaults),
        // so this answer's shape does not follow changes an app makes to its HTTP JSON options.
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(new SearchResponse(k, watch.Elapsed.TotalMilliseconds, hits), ApiJsonContext.Default.SearchResponse);
        return TypedResults.Bytes(json, JsonContentType);
    }

    public static IResult GetImage(HttpContext http, long key, ImageSearchIndex index)
    {
        (IndexedImage _, string file) = FileOf(index, key);
        string contentType = ContentTypes.TryGetContentType(file, out string? type) ? type : "application/octet-stream";
        http.Response.Headers.CacheControl = "private, max-age=60";
        return TypedResults.PhysicalFile(file, contentType, enableRangeProcessing: true);
    }

    public static IResult GetThumbnail(HttpContext http, long key, ImageSearchIndex index, Thumbnails thumbnails, IOptions<ImageRetrievalApiOptions> options)
    {
        (IndexedImage item, string file) = FileOf(index, key);
        byte[]? png = thumbnails.Get(item, file, options.Value.ThumbnailSize, index.Options.Embedder.MaxPixels);
        if (png is null)
        {
            return Problems.Undecodable($"The file of image {key} cannot be decoded into a thumbnail.");
        }
        http.Response.Headers.CacheControl = "private, max-age=60";
        return TypedResults.File(png, "image/png");
    }

    public static async Task<IResult> AddAsync(HttpContext http, ImageSearchIndex index, IndexWriter writer, IOptions<ImageRetrievalApiOptions> options, ILogger<IndexWriter> logger)
    {
        ImageRetrievalApiOptions o = options.Value;
        CheckWriteAccess(http, o);
        if (writer.IndexDirectory is null)
        {
            return Problems.Unavailable("Adding needs ImageRetrieval:IndexDirectory to save the index to; none is configured.");
        }
        var watch = Stopwatch.StartNew();
        var (images, fields) = await UploadReader.ReadAsync(http.Request, o.MaxRequestBytes, o.MaxImagesPerRequest, index.Options.Embedder.MaxPixels, http.RequestAborted);
        string? label = fields.GetValueOrDefault("label") ?? http.Request.Query["label"].FirstOrDefault();
        if (label is not null && (label.Length > MaxLabelLength || label.Any(char.IsControl)))
        {
            return Problems.BadRequest($"The label must be at most {MaxLabelLength} characters without control characters.");
        }
        label = string.IsNullOrWhiteSpace(label) ? null : label.Trim();
        // From here the request's cancellation no longer applies: files, index and save complete together.
        string[] paths = images.Select(i => writer.SaveUpload(o.UploadFolder, ImageProbe.Extension(i.Format), i.Bytes)).ToArray();
        IndexingReport report = index.AddImages(images.Select(i => (ReadOnlyMemory<byte>)i.Bytes).ToList(), paths, paths.Select(_ => label).ToList());
        if (report.Skipped.Count > 0)
        {
            foreach (string path in paths)
            {
                index.Remove(path);
                writer.DeleteUpload(path);
            }
            SkippedImage first = report.Skipped[0];
            int which = Array.IndexOf(paths, first.Path);
            logger.LogInformation("Refused an upload: {Reason}", first.Reason);
            return UploadReader.Undecodable(images[Math.Max(0, which)], first.Reason);
        }
        await writer.CommitAsync();
        string api = ApiBase(http);
        var added = paths.Select(p => index.Get(p)).OfType<IndexedImage>()
            .Select(i => (Item: i, Url: ImageUrl(api, i.Key)))
            .Select(x => new ImageResponse(x.Item.Key, x.Item.Path, x.Item.Label, x.Url, ThumbnailUrl(x.Url))).ToList();
        return TypedResults.Created(added.Count > 0 ? added[0].ImageUrl : null, new AddImagesResponse(added, watch.Elapsed.TotalMilliseconds));
    }

    public static async Task<IResult> DeleteAsync(HttpContext http, long key, ImageSearchIndex index, IndexWriter writer, Thumbnails thumbnails, IOptions<ImageRetrievalApiOptions> options)
    {
        ImageRetrievalApiOptions o = options.Value;
        CheckWriteAccess(http, o);
        if (writer.IndexDirectory is null)
        {
            return Problems.Unavailable("Removing needs ImageRetrieval:IndexDirectory to save the index to; none is configured.");
        }
        IndexedImage? item = index.Get(key);
        if (item is null || !index.Remove(key))
        {
            return Problems.NotFound($"No image is indexed under key {key}.");
        }
        thumbnails.Forget(key);
        await writer.CommitAsync();
        // Only files the service itself saved are deleted, and only after the index without them is durable.
        if (item.Path.StartsWith(o.UploadFolder.Trim('/', '\\').Replace('\\', '/') + "/", StringComparison.Ordinal))
        {
            writer.DeleteUpload(item.Path);
        }
        return TypedResults.NoContent();
    }

    public static IResult Info(ImageSearchIndex index, IOptions<ImageRetrievalApiOptions> options)
    {
        ImageRetrievalApiOptions o = options.Value;
        return TypedResults.Ok(new InfoResponse(index.Count, index.Dimension, index.ModelMetadata.Metric, index.ModelMetadata.Architecture,
            index.ModelMetadata.TrainingDataset, Path.GetFileName(index.ModelPath), index.ModelSha256, index.ExecutionProvider.ToString(),
            !o.WritesEnabled, o.MaxRequestBytes, o.MaxResults, o.MaxConcurrentRequests, o.QueueLimit));
    }

    private static int ParseK(string? text, ImageRetrievalApiOptions o)
    {
        if (string.IsNullOrEmpty(text))
        {
            return Math.Min(ImageRetrievalApiOptions.Defaults.DefaultResults, o.MaxResults);
        }
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int k) || k < 1 || k > o.MaxResults)
        {
            throw new ApiProblemException(Problems.BadRequest($"k must be a whole number from 1 to {o.MaxResults}, got '{Truncate(text)}'."));
        }
        return k;
    }

    private static void CheckWriteAccess(HttpContext http, ImageRetrievalApiOptions o)
    {
        if (!o.WritesEnabled)
        {
            throw new ApiProblemException(Problems.ReadOnly());
        }
        string given = http.Request.Headers[ApiKeyHeader].ToString();
        if (!CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), SHA256.HashData(Encoding.UTF8.GetBytes(o.ApiKey!))))
        {
            http.Response.Headers.WWWAuthenticate = "ApiKey header=\"" + ApiKeyHeader + "\"";
            throw new ApiProblemException(Problems.Unauthorized());
        }
    }

    private static (IndexedImage Item, string File) FileOf(ImageSearchIndex index, long key)
    {
        IndexedImage item = index.Get(key) ?? throw new ApiProblemException(Problems.NotFound($"No image is indexed under key {key}."));
        string file;
        try
        {
            file = index.ResolvePath(item);
        }
        catch (InvalidDataException)
        {
            throw new ApiProblemException(Problems.NotFound($"Image {key} has no servable file."));
        }
        if (!File.Exists(file))
        {
            throw new ApiProblemException(Problems.NotFound($"The file of image {key} is no longer in the gallery."));
        }
        return (item, file);
    }

    private static string ApiBase(HttpContext http) => ImageRetrievalEndpointMetadata.ApiBase(http);

    private static string ImageUrl(string api, long key) => $"{api}/images/{key.ToString(CultureInfo.InvariantCulture)}";

    private static string ThumbnailUrl(string imageUrl) => imageUrl + "/thumbnail";

    private static string Truncate(string text) => text.Length <= 32 ? text : text[..32] + "…";
}
