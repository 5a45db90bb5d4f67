using ImageRetrieval.ML;
using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Search;
using ImageRetrieval.ML.VectorStores;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.VectorData;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers ImageRetrieval's services: the image search index, the image embedding generator and the HNSW vector store.</summary>
public static class ImageRetrievalServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="ImageSearchIndex"/> as a singleton configured by <see cref="ImageRetrievalOptions"/>
    /// (<see cref="IOptions{TOptions}"/>, validated on first use): opened from <see cref="ImageRetrievalOptions.IndexDirectory"/>
    /// when it holds an index, created empty otherwise; logging to the container's <see cref="ILoggerFactory"/>.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the options (after any configuration binding).</param>
    /// <returns>The options builder, to bind or validate further.</returns>
    public static OptionsBuilder<ImageRetrievalOptions> AddImageRetrieval(this IServiceCollection services, Action<ImageRetrievalOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        OptionsBuilder<ImageRetrievalOptions> options = services.AddOptions<ImageRetrievalOptions>()
            .Validate(o => !string.IsNullOrEmpty(o.ModelPath), "ImageRetrieval:ModelPath is required: the ImageRetrieval ONNX model to embed images with.");
        if (configure is not null)
        {
            options.Configure(configure);
        }
        services.TryAddSingleton(sp =>
        {
            ImageRetrievalOptions o = sp.GetRequiredService<IOptions<ImageRetrievalOptions>>().Value;
            ILogger logger = sp.GetService<ILoggerFactory>()?.CreateLogger<ImageSearchIndex>() ?? (ILogger)Logging.Abstractions.NullLogger.Instance;
            if (o.IndexDirectory is string directory && File.Exists(Path.Combine(directory, "CURRENT")))
            {
                return ImageSearchIndex.Open(directory, o.ModelPath!, o.GalleryRoot, o.Index, logger);
            }
            string root = o.GalleryRoot ?? throw new OptionsValidationException(nameof(ImageRetrievalOptions), typeof(ImageRetrievalOptions),
                [$"ImageRetrieval:GalleryRoot is required to create an index ('{o.IndexDirectory ?? "(no IndexDirectory)"}' holds none)."]);
            return ImageSearchIndex.Create(o.ModelPath!, root, o.Index, logger);
        });
        return options;
    }

    /// <summary>Registers <see cref="ImageSearchIndex"/> with options bound from <paramref name="configuration"/> (e.g. <c>configuration.GetSection("ImageRetrieval")</c>).</summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The section holding <see cref="ImageRetrievalOptions"/>.</param>
    /// <returns>The options builder.</returns>
    /// <remarks>Binding uses the configuration binder's reflection (the source-generated binder cannot set the options'
    /// init-only properties), so this overload is not trim- or AOT-safe; the <c>Action</c> overload is.</remarks>
    [System.Diagnostics.CodeAnalysis.RequiresUnreferencedCode("Binds ImageRetrievalOptions by reflection.")]
    [System.Diagnostics.CodeAnalysis.RequiresDynamicCode("Binds ImageRetrievalOptions by reflection.")]
    public static OptionsBuilder<ImageRetrievalOptions> AddImageRetrieval(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return services.AddImageRetrieval().Bind(configuration);
    }

    /// <summary>
    /// Registers an <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> of <see cref="DataContent"/> images over the
    /// model of <see cref="ImageRetrievalOptions"/> (<c>AddImageRetrieval</c> or bound configuration), following
    /// Microsoft.Extensions.AI's convention: the returned builder adds middleware, e.g. <c>.UseLogging()</c> or
    /// <c>.UseOpenTelemetry()</c>.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="lifetime">The generator's lifetime (a singleton: it holds an ONNX Runtime session).</param>
    public static EmbeddingGeneratorBuilder<DataContent, Embedding<float>> AddImageEmbeddingGenerator(this IServiceCollection services, ServiceLifetime lifetime = ServiceLifetime.Singleton)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<ImageRetrievalOptions>();
        return services.AddEmbeddingGenerator<DataContent, Embedding<float>>(sp =>
        {
            ImageRetrievalOptions o = sp.GetRequiredService<IOptions<ImageRetrievalOptions>>().Value;
            string model = o.ModelPath ?? throw new OptionsValidationException(nameof(ImageRetrievalOptions), typeof(ImageRetrievalOptions),
                ["ImageRetrieval:ModelPath is required by the image embedding generator."]);
            return new ImageEmbeddingGenerator(model, o.Index.Embedder, sp.GetService<ILoggerFactory>()?.CreateLogger<ImageEmbeddingGenerator>());
        }, lifetime);
    }

    /// <summary>Registers an image embedding generator over <paramref name="modelPath"/> (see <see cref="AddImageEmbeddingGenerator(IServiceCollection, ServiceLifetime)"/>).</summary>
    /// <param name="services">The services.</param>
    /// <param name="modelPath">The ImageRetrieval ONNX model.</param>
    /// <param name="options">Embedder settings; defaults when null.</param>
    /// <param name="lifetime">The generator's lifetime.</param>
    public static EmbeddingGeneratorBuilder<DataContent, Embedding<float>> AddImageEmbeddingGenerator(this IServiceCollection services, string modelPath,
        ImageEmbedderOptions? options = null, ServiceLifetime lifetime = ServiceLifetime.Singleton)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        return services.AddEmbeddingGenerator<DataContent, Embedding<float>>(
            sp => new ImageEmbeddingGenerator(modelPath, options, sp.GetService<ILoggerFactory>()?.CreateLogger<ImageEmbeddingGenerator>()), lifetime);
    }

    /// <summary>
    /// Registers an <see cref="HnswVectorStore"/> (also as <see cref="VectorStore"/>) as a singleton. Unless
    /// <paramref name="configure"/> sets one, its embedding generator is the registered
    /// <c>IEmbeddingGenerator&lt;DataContent, Embedding&lt;float&gt;&gt;</c> (with its middleware), so records with a
    /// <see cref="DataContent"/> vector property are embedded by the store; its logger factory is the container's.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the store's options (directory, HNSW parameters, durability).</param>
    public static IServiceCollection AddHnswVectorStore(this IServiceCollection services, Action<HnswVectorStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton(sp =>
        {
            var options = new HnswVectorStoreOptions
            {
                LoggerFactory = sp.GetService<ILoggerFactory>(),
                EmbeddingGenerator = sp.GetService<IEmbeddingGenerator<DataContent, Embedding<float>>>(),
            };
            configure?.Invoke(options);
            return new HnswVectorStore(options);
        });
        services.TryAddSingleton<VectorStore>(sp => sp.GetRequiredService<HnswVectorStore>());
        return services;
    }

    /// <summary>Registers the collection <paramref name="name"/> of the registered <see cref="HnswVectorStore"/> as a singleton <see cref="VectorStoreCollection{TKey, TRecord}"/>.</summary>
    /// <typeparam name="TKey">The key type (Guid, string, int or long).</typeparam>
    /// <typeparam name="TRecord">The record type, described by VectorData attributes.</typeparam>
    /// <param name="services">The services.</param>
    /// <param name="name">The collection's name.</param>
    [System.Diagnostics.CodeAnalysis.RequiresUnreferencedCode("The HNSW provider maps records by reflection over the record type and is not trim-safe.")]
    [System.Diagnostics.CodeAnalysis.RequiresDynamicCode("The HNSW provider maps records by reflection over the record type and is not AOT-safe.")]
    public static IServiceCollection AddHnswCollection<TKey, TRecord>(this IServiceCollection services, string name)
        where TKey : notnull
        where TRecord : class
    {
        ArgumentNullException.ThrowIfNull(services);
        HnswVectorStore.ValidateName(name);
        services.AddSingleton(sp => sp.GetRequiredService<HnswVectorStore>().GetCollection<TKey, TRecord>(name));
        return services;
    }
}
