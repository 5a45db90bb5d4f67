using System.Buffers;
using System.Text;
using ImageRetrieval.ML.Imaging;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace ImageRetrieval.AspNetCore;

/// <summary>An uploaded image: its bytes and what its header declares.</summary>
internal sealed record UploadedImage(string Source, byte[] Bytes, string Format, int Width, int Height);

/// <summary>
/// Reads a request's images: the raw body (one image) or <c>multipart/form-data</c> (file parts are images, other parts
/// are fields), never more than the size limit (413), and each checked by its header before any decoding: not an image
/// (415), declaring more pixels than the decoder's limit (422).
/// </summary>
internal static class UploadReader
{
    public static async Task<(IReadOnlyList<UploadedImage> Images, IReadOnlyDictionary<string, string> Fields)> ReadAsync(
        HttpRequest request, long maxBytes, int maxImages, long maxPixels, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
        {
            throw new ApiProblemException(Problems.TooLarge(maxBytes));
        }
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = maxBytes;
        }
        byte[] body = await ReadBodyAsync(request.Body, request.ContentLength, maxBytes, cancellationToken).ConfigureAwait(false);
        string? contentType = request.ContentType;
        if (contentType is not null && contentType.StartsWith("multipart/", StringComparison.OrdinalIgnoreCase))
        {
            return await ReadMultipartAsync(contentType, body, maxImages, maxPixels, cancellationToken).ConfigureAwait(false);
        }
        if (contentType is not null && !IsImageContentType(contentType))
        {
            throw new ApiProblemException(Problems.NotAnImage(
                $"Content-Type '{contentType}' is not an image: send the image's bytes (image/png, image/jpeg, ... or application/octet-stream) or multipart/form-data with a file."));
        }
        return ([Check("the request body", body, maxPixels)], new Dictionary<string, string>());
    }

    private static bool IsImageContentType(string contentType) =>
        contentType.StartsWith("image/", StringComparison.OrdinalIgnoreCase) ||
        contentType.StartsWith("application/octet-stream", StringComparison.OrdinalIgnoreCase);

    private static async Task<byte[]> ReadBodyAsync(Stream body, long? contentLength, long maxBytes, CancellationToken cancellationToken)
    {
        try
        {
            if (contentLength is long declared && declared <= maxBytes)
            {
                // The usual case: one array of the declared size, filled in place (no chunk buffer, no copy; this runs
                // once per search request, so its allocations show in the server's throughput).
                var exact = new byte[declared];
                int filled = 0;
                while (filled < exact.Length)
                {
                    int read = await body.ReadAsync(exact.AsMemory(filled), cancellationToken).ConfigureAwait(false);
                    if (read == 0)
                    {
                        throw new ApiProblemException(Problems.BadRequest($"The request body ended after {filled} of the {declared} bytes its Content-Length declares."));
                    }
                    filled += read;
                }
                return exact;
            }
            using var buffer = new MemoryStream();
            byte[] chunk = ArrayPool<byte>.Shared.Rent(81920);
            try
            {
                int read;
                while ((read = await body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    if (buffer.Length + read > maxBytes)
                    {
                        throw new ApiProblemException(Problems.TooLarge(maxBytes));
                    }
                    buffer.Write(chunk, 0, read);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(chunk);
            }
            return buffer.ToArray();
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new ApiProblemException(Problems.TooLarge(maxBytes));
        }
    }

    private static async Task<(IReadOnlyList<UploadedImage>, IReadOnlyDictionary<string, string>)> ReadMultipartAsync(
        string contentType, byte[] body, int maxImages, long maxPixels, CancellationToken cancellationToken)
    {
        if (!MediaTypeHeaderValue.TryParse(contentType, out MediaTypeHeaderValue? media) ||
            HeaderUtilities.RemoveQuotes(media.Boundary).Value is not { Length: > 0 } boundary)
        {
            throw new ApiProblemException(Problems.BadRequest($"Content-Type '{contentType}' has no multipart boundary."));
        }
        var images = new List<UploadedImage>();
        var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var reader = new MultipartReader(boundary, new MemoryStream(body, writable: false));
        try
        {
            MultipartSection? section;
            while ((section = await reader.ReadNextSectionAsync(cancellationToken).ConfigureAwait(false)) is not null)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out ContentDispositionHeaderValue? disposition))
                {
                    continue;
                }
                using var part = new MemoryStream();
                await section.Body.CopyToAsync(part, cancellationToken).ConfigureAwait(false);
                if (disposition.IsFileDisposition())
                {
                    if (images.Count == maxImages)
                    {
                        throw new ApiProblemException(Problems.BadRequest($"At most {maxImages} images per request."));
                    }
                    string name = HeaderUtilities.RemoveQuotes(disposition.FileName).Value ?? "";
                    images.Add(Check($"file {images.Count + 1} ('{Truncate(name)}')", part.ToArray(), maxPixels));
                }
                else if (HeaderUtilities.RemoveQuotes(disposition.Name).Value is { Length: > 0 } field)
                {
                    fields[field] = Encoding.UTF8.GetString(part.GetBuffer(), 0, (int)part.Length);
                }
            }
        }
        catch (IOException e)
        {
            throw new ApiProblemException(Problems.BadRequest("The multipart body is malformed: " + e.Message));
        }
        if (images.Count == 0)
        {
            throw new ApiProblemException(Problems.BadRequest("The multipart body holds no file part: add the image as a file (name=\"image\"; filename=\"...\")."));
        }
        return (images, fields);
    }

    private static UploadedImage Check(string source, byte[] bytes, long maxPixels)
    {
        if (bytes.Length == 0)
        {
            throw new ApiProblemException(Problems.NotAnImage($"{Capitalise(source)} is empty (0 bytes): send an image."));
        }
        if (ImageProbe.Read(bytes) is not var (format, width, height))
        {
            if (ImageProbe.Signature(bytes) is string signed)
            {
                throw new ApiProblemException(Problems.Undecodable(
                    $"{Capitalise(source)} ({bytes.Length} bytes) starts like a {signed} image but its header cannot be read: truncated or corrupt."));
            }
            throw new ApiProblemException(Problems.NotAnImage(
                $"{Capitalise(source)} ({bytes.Length} bytes) is not an image: no PNG, JPEG, GIF, BMP, WebP or ICO header."));
        }
        if (width < 1 || height < 1)
        {
            throw new ApiProblemException(Problems.Undecodable($"{Capitalise(source)} declares an empty size {width}x{height}."));
        }
        if ((long)width * height > maxPixels)
        {
            throw new ApiProblemException(Problems.DecompressionBomb(
                $"{Capitalise(source)} is a {bytes.Length}-byte {format} that declares {width}x{height} = {(long)width * height} pixels, over the limit of {maxPixels}: refused before decoding."));
        }
        return new UploadedImage(source, bytes, format, width, height);
    }

    /// <summary>The 422 answer for an image whose header passed but whose pixels do not decode.</summary>
    public static IResult Undecodable(UploadedImage image, string reason) =>
        Problems.Undecodable($"{Capitalise(image.Source)} is a {image.Format} header over undecodable data: {reason}.");

    /// <summary>The 422 answer for a decoding failure.</summary>
    public static IResult Undecodable(UploadedImage image, ImageDecodeException error) => Undecodable(image, error.Reason);

    private static string Truncate(string name) => name.Length <= 64 ? name : name[..64] + "…";

    private static string Capitalise(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];
}
