using Microsoft.AspNetCore.Http;

namespace ImageRetrieval.AspNetCore;

/// <summary>Every error of the API as RFC 9457 problem details, with a title per kind and a detail naming the problem.</summary>
internal static class Problems
{
    public static IResult NotAnImage(string detail) => Problem(StatusCodes.Status415UnsupportedMediaType, "Not an image", detail);

    public static IResult Undecodable(string detail) => Problem(StatusCodes.Status422UnprocessableEntity, "Undecodable image", detail);

    public static IResult DecompressionBomb(string detail) => Problem(StatusCodes.Status422UnprocessableEntity, "Image too large when decoded", detail);

    public static IResult TooLarge(long limit) =>
        Problem(StatusCodes.Status413PayloadTooLarge, "Request too large", $"The request body is over the limit of {limit} bytes.");

    public static IResult BadRequest(string detail) => Problem(StatusCodes.Status400BadRequest, "Bad request", detail);

    public static IResult NotFound(string detail) => Problem(StatusCodes.Status404NotFound, "Not found", detail);

    public static IResult ReadOnly() => Problem(StatusCodes.Status403Forbidden, "Read-only",
        "This service does not add or remove images: it was started read-only (imgret serve without --api-key-file, or no ImageRetrieval:Api:ApiKey).");

    public static IResult Unauthorized() => Problem(StatusCodes.Status401Unauthorized, "API key required",
        "Adding and removing images needs the service's API key in the X-Api-Key header.");

    public static IResult Busy(TimeSpan retryAfter) => Problem(StatusCodes.Status429TooManyRequests, "Too many requests",
        $"Every worker is busy and the queue is full; retry in {Math.Max(1, (int)retryAfter.TotalSeconds)} s.");

    public static IResult Timeout(TimeSpan limit) => Problem(StatusCodes.Status504GatewayTimeout, "Request timed out",
        $"The request took longer than the limit of {limit.TotalSeconds:0.###} s and was cancelled.");

    public static IResult Unavailable(string detail) => Problem(StatusCodes.Status503ServiceUnavailable, "Service unavailable", detail);

    private static IResult Problem(int status, string title, string detail) => TypedResults.Problem(detail, statusCode: status, title: title);
}
