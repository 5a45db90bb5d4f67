using System.Threading.RateLimiting;
using ImageRetrieval.ML.Imaging;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.AspNetCore;

/// <summary>
/// The limits every API request passes: a turn from the concurrency limiter (queued, then 429), a deadline (504), and
/// known failures answered as problem details instead of a 500. Applied by an endpoint filter, so an app that maps the
/// endpoints needs no middleware in any particular order.
/// </summary>
internal sealed class ApiLimitsFilter : IEndpointFilter, IDisposable
{
    private readonly ImageRetrievalApiOptions _options;
    private readonly ConcurrencyLimiter _limiter;
    private readonly ILogger _logger;

    public ApiLimitsFilter(IOptions<ImageRetrievalApiOptions> options, ILogger<ApiLimitsFilter> logger)
    {
        _options = options.Value;
        _options.Validate();
        _logger = logger;
        _limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = _options.MaxConcurrentRequests,
            QueueLimit = _options.QueueLimit,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
    }

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        HttpContext http = context.HttpContext;
        CancellationToken aborted = http.RequestAborted;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        deadline.CancelAfter(_options.RequestTimeout);
        // Handlers read HttpContext.RequestAborted: from here on it also fires at the deadline (as ASP.NET Core's
        // request-timeout middleware does).
        http.RequestAborted = deadline.Token;
        try
        {
            using RateLimitLease lease = await _limiter.AcquireAsync(1, deadline.Token).ConfigureAwait(false);
            if (!lease.IsAcquired)
            {
                TimeSpan retry = lease.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan after) ? after : TimeSpan.FromSeconds(1);
                http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retry.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                return Problems.Busy(retry);
            }
            return await next(context).ConfigureAwait(false);
        }
        catch (ApiProblemException e)
        {
            return e.Result;
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !aborted.IsCancellationRequested)
        {
            return Problems.Timeout(_options.RequestTimeout);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return Problems.TooLarge(_options.MaxRequestBytes);
        }
        catch (ImageDecodeException e)
        {
            return Problems.Undecodable($"The image cannot be used: {e.Reason}.");
        }
        catch (ObjectDisposedException e)
        {
            _logger.LogWarning(e, "A request arrived while the index was shutting down.");
            return Problems.Unavailable("The index is shutting down.");
        }
        finally
        {
            http.RequestAborted = aborted;
        }
    }

    public void Dispose() => _limiter.Dispose();
}
