using ImageRetrieval.AspNetCore;
using ImageRetrieval.ML.Search;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the services of the image search endpoints (<c>app.MapImageRetrievalApi()</c>).</summary>
public static class ImageRetrievalApiServiceCollectionExtensions
{
    /// <summary>
    /// Registers what <c>MapImageRetrievalApi()</c> needs: its options, the concurrency limiter, thumbnails, the
    /// crash-safe writer, source-generated JSON for its answers (first in the HTTP JSON resolver chain, for its own
    /// types only), problem details, the OpenAPI document and a health check. The
    /// <see cref="ImageSearchIndex"/> itself comes from <c>services.AddImageRetrieval(...)</c>.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the options (after any configuration binding).</param>
    /// <returns>The options builder, to bind or validate further.</returns>
    public static OptionsBuilder<ImageRetrievalApiOptions> AddImageRetrievalApi(this IServiceCollection services, Action<ImageRetrievalApiOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        OptionsBuilder<ImageRetrievalApiOptions> options = services.AddOptions<ImageRetrievalApiOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }
        options.Validate(o =>
        {
            o.Validate();
            return true;
        });
        services.TryAddSingleton<ApiLimitsFilter>();
        services.TryAddSingleton<Thumbnails>();
        services.TryAddSingleton<IndexWriter>();
        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Insert(0, ApiJsonContext.Default));
        services.AddProblemDetails();
        services.AddOpenApi();
        services.AddHealthChecks().AddCheck<IndexHealthCheck>("image-index");
        return options;
    }

    /// <summary>Registers the endpoints' services with options bound from <paramref name="configuration"/> (e.g. <c>configuration.GetSection("ImageRetrieval:Api")</c>).</summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The section holding <see cref="ImageRetrievalApiOptions"/>.</param>
    /// <returns>The options builder.</returns>
    [System.Diagnostics.CodeAnalysis.RequiresUnreferencedCode("Binds ImageRetrievalApiOptions by reflection.")]
    [System.Diagnostics.CodeAnalysis.RequiresDynamicCode("Binds ImageRetrievalApiOptions by reflection.")]
    public static OptionsBuilder<ImageRetrievalApiOptions> AddImageRetrievalApi(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return services.AddImageRetrievalApi().Bind(configuration);
    }

    /// <summary>Healthy once the index is open (resolving it opens it), with its image count.</summary>
    private sealed class IndexHealthCheck(IServiceProvider services) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                ImageSearchIndex index = services.GetRequiredService<ImageSearchIndex>();
                return Task.FromResult(HealthCheckResult.Healthy($"{index.Count} images"));
            }
            catch (Exception e) when (e is IOException or InvalidDataException or OptionsValidationException or ObjectDisposedException)
            {
                return Task.FromResult(HealthCheckResult.Unhealthy("The image index is not available: " + e.Message));
            }
        }
    }
}
