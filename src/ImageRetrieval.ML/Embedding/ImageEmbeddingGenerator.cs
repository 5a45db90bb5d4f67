using ImageRetrieval.ML.Imaging;
using ImageRetrieval.ML.Models;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace ImageRetrieval.ML.Embedding;

/// <summary>
/// Microsoft.Extensions.AI's embedding generator for images: an <see cref="ImageEmbedder"/> (an ImageRetrieval ONNX model)
/// behind <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>. Images come as <see cref="DataContent"/> (encoded bytes
/// and a media type) or as <see cref="UriContent"/> with a <c>file:</c> URI; one <c>GenerateAsync</c> call with many
/// images decodes them in parallel and scores them in batches.
/// </summary>
/// <remarks>
/// <para>Errors: an image that cannot be used (not an image, truncated, too large, a missing file) raises an
/// <see cref="ImageDecodeException"/> naming its position and name, unless the embedder's
/// <see cref="ImageEmbedderOptions.OnError"/> is <see cref="ImageErrorPolicy.Skip"/>: then that image's embedding is
/// empty (zero length) and carries the reason in <c>AdditionalProperties["error"]</c>, the result lists the skipped
/// positions in <c>AdditionalProperties["skipped"]</c>, and every other image is embedded.</para>
/// <para>Metadata: <c>GetService(typeof(EmbeddingGeneratorMetadata))</c> gives the model id and dimension;
/// <c>GetService(typeof(EmbeddingModelMetadata))</c> and <c>GetService(typeof(ImageEmbedder))</c> the rest.</para>
/// <para>Thread-safe. Batch calls take turns and wait for their turn asynchronously; a one-image call runs at once,
/// alongside a running batch (see <see cref="ImageEmbedder"/>).</para>
/// </remarks>
public sealed class ImageEmbeddingGenerator : IEmbeddingGenerator<DataContent, Embedding<float>>, IEmbeddingGenerator<UriContent, Embedding<float>>
{
    /// <summary>The provider name reported in <see cref="EmbeddingGeneratorMetadata.ProviderName"/>.</summary>
    public const string ProviderName = "imageretrieval-onnx";

    private readonly ImageEmbedder _embedder;
    private readonly bool _ownsEmbedder;
    private readonly SemaphoreSlim _batchTurn = new(1, 1);

    /// <summary>Opens <paramref name="modelPath"/> with an <see cref="ImageEmbedder"/> of its own.</summary>
    /// <param name="modelPath">An ImageRetrieval ONNX model.</param>
    /// <param name="options">Batching, threads, device, error policy; defaults when null.</param>
    /// <param name="logger">Receives warnings (a requested GPU that is unavailable); none when null.</param>
    /// <param name="modelId">The id reported as <see cref="EmbeddingGeneratorMetadata.DefaultModelId"/>; the model's file name when null.</param>
    /// <exception cref="FileNotFoundException">The model does not exist.</exception>
    /// <exception cref="InvalidDataException">The model is not an ImageRetrieval ONNX model.</exception>
    public ImageEmbeddingGenerator(string modelPath, ImageEmbedderOptions? options = null, ILogger? logger = null, string? modelId = null)
        : this(new ImageEmbedder(modelPath, options, logger), ownsEmbedder: true, modelId ?? Path.GetFileNameWithoutExtension(modelPath), modelPath)
    {
    }

    /// <summary>Wraps an existing embedder (shared with, e.g., an <c>ImageSearchIndex</c>); it is disposed with the generator only when <paramref name="ownsEmbedder"/>.</summary>
    /// <param name="embedder">The embedder.</param>
    /// <param name="ownsEmbedder">Dispose the embedder with the generator.</param>
    /// <param name="modelId">The id reported as <see cref="EmbeddingGeneratorMetadata.DefaultModelId"/>.</param>
    public ImageEmbeddingGenerator(ImageEmbedder embedder, bool ownsEmbedder = false, string? modelId = null)
        : this(embedder ?? throw new ArgumentNullException(nameof(embedder)), ownsEmbedder, modelId ?? "imageretrieval", null)
    {
    }

    private ImageEmbeddingGenerator(ImageEmbedder embedder, bool ownsEmbedder, string modelId, string? modelPath)
    {
        _embedder = embedder;
        _ownsEmbedder = ownsEmbedder;
        Metadata = new EmbeddingGeneratorMetadata(ProviderName, modelPath is null ? null : new Uri(Path.GetFullPath(modelPath)), modelId, embedder.Dimension);
    }

    /// <summary>The provider, model id and dimension.</summary>
    public EmbeddingGeneratorMetadata Metadata { get; }

    /// <summary>The embedder doing the work.</summary>
    public ImageEmbedder Embedder => _embedder;

    /// <summary>Embeds encoded images (PNG, JPEG, ... bytes); <see cref="DataContent.Name"/> names an image in errors.</summary>
    /// <exception cref="ArgumentException">A content is not an image (its media type is not <c>image/*</c>), or the options ask for another dimension.</exception>
    /// <exception cref="ImageDecodeException">An image cannot be used (unless the embedder skips bad images).</exception>
    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<DataContent> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        CheckOptions(options);
        var images = new List<ReadOnlyMemory<byte>>();
        var names = new List<string>();
        foreach (DataContent content in values)
        {
            if (content is null)
            {
                throw new ArgumentException($"Value {images.Count} is null.", nameof(values));
            }
            if (!content.HasTopLevelMediaType("image") && content.MediaType != "application/octet-stream")
            {
                throw new ArgumentException($"Value {images.Count} ('{content.Name ?? "#" + images.Count}') has media type '{content.MediaType}'; expected an image (image/*).", nameof(values));
            }
            names.Add(content.Name ?? "#" + images.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
            images.Add(content.Data);
        }
        return EmbedAsync(images, names, cancellationToken);
    }

    /// <summary>Embeds image files given as <c>file:</c> URIs (read asynchronously).</summary>
    /// <exception cref="ArgumentException">A URI is not a <c>file:</c> URI.</exception>
    /// <exception cref="ImageDecodeException">A file is missing or not a usable image (unless the embedder skips bad images).</exception>
    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<UriContent> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        CheckOptions(options);
        var images = new List<ReadOnlyMemory<byte>>();
        var names = new List<string>();
        var unreadable = new Dictionary<int, Exception>();
        foreach (UriContent content in values)
        {
            if (content?.Uri is not { IsFile: true } uri)
            {
                throw new ArgumentException($"Value {images.Count} ('{content?.Uri}') is not a file: URI; pass remote images as DataContent.", nameof(values));
            }
            string path = uri.LocalPath;
            names.Add(path);
            try
            {
                images.Add(await ReadLimitedAsync(path, cancellationToken).ConfigureAwait(false));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Left empty: the decoder reports it as this image's error, in order, under the chosen policy.
                images.Add(ReadOnlyMemory<byte>.Empty);
                unreadable[images.Count - 1] = e;
            }
        }
        return await EmbedAsync(images, names, cancellationToken, unreadable).ConfigureAwait(false);
    }

    /// <summary>Embeds one image (the query path: it does not wait behind a batch in progress).</summary>
    /// <remarks>The extension methods of the same name cannot choose between this class's two generator interfaces; these can.</remarks>
    public async Task<Embedding<float>> GenerateAsync(DataContent value, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        (await GenerateAsync([value ?? throw new ArgumentNullException(nameof(value))], options, cancellationToken).ConfigureAwait(false))[0];

    /// <summary>Embeds one image file given as a <c>file:</c> URI.</summary>
    public async Task<Embedding<float>> GenerateAsync(UriContent value, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        (await GenerateAsync([value ?? throw new ArgumentNullException(nameof(value))], options, cancellationToken).ConfigureAwait(false))[0];

    /// <summary>The embedding vector of one image.</summary>
    public async Task<ReadOnlyMemory<float>> GenerateVectorAsync(DataContent value, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        (await GenerateAsync(value, options, cancellationToken).ConfigureAwait(false)).Vector;

    /// <summary>The embedding vector of one image file given as a <c>file:</c> URI.</summary>
    public async Task<ReadOnlyMemory<float>> GenerateVectorAsync(UriContent value, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        (await GenerateAsync(value, options, cancellationToken).ConfigureAwait(false)).Vector;

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(EmbeddingGeneratorMetadata) ? Metadata
            : serviceType == typeof(EmbeddingModelMetadata) ? _embedder.Metadata
            : serviceType == typeof(ImageEmbedder) ? _embedder
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsEmbedder)
        {
            _embedder.Dispose();
        }
    }

    private void CheckOptions(EmbeddingGenerationOptions? options)
    {
        if (options?.Dimensions is int dimensions && dimensions != _embedder.Dimension)
        {
            throw new ArgumentException($"The options ask for {dimensions}-d embeddings; model '{Metadata.DefaultModelId}' produces {_embedder.Dimension}-d.", nameof(options));
        }
    }

    private async Task<byte[]> ReadLimitedAsync(string path, CancellationToken cancellationToken)
    {
        var info = new FileInfo(path);
        if (info.Exists && info.Length > _embedder.Options.MaxEncodedBytes)
        {
            throw new IOException($"the file is {info.Length} bytes, over the limit of {_embedder.Options.MaxEncodedBytes}");
        }
        return await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
    }

    private async Task<GeneratedEmbeddings<Embedding<float>>> EmbedAsync(List<ReadOnlyMemory<byte>> images, List<string> names, CancellationToken cancellationToken, Dictionary<int, Exception>? unreadable = null)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (unreadable is { Count: > 0 } && _embedder.Options.OnError == ImageErrorPolicy.Throw)
        {
            var (index, io) = unreadable.MinBy(p => p.Key);
            throw new ImageDecodeException(names[index], "the file cannot be read: " + io.Message, io);
        }
        DateTimeOffset created = DateTimeOffset.UtcNow;
        if (images.Count == 1 && (unreadable is null || unreadable.Count == 0))
        {
            // One image (a query): straight to the session, never behind a batch in progress.
            float[] vector = _embedder.Embed(images[0].ToArray(), names[0]);
            return [new Embedding<float>(vector) { ModelId = Metadata.DefaultModelId, CreatedAt = created }];
        }
        await _batchTurn.WaitAsync(cancellationToken).ConfigureAwait(false);
        ImageEmbeddingResult result;
        try
        {
            result = _embedder.EmbedImages(images, names, (IProgress<ImageEmbeddingProgress>?)null, cancellationToken);
        }
        finally
        {
            _batchTurn.Release();
        }
        var embeddings = new GeneratedEmbeddings<Embedding<float>>(result.Count);
        var skipped = new List<int>();
        for (int i = 0; i < result.Count; i++)
        {
            if (result.Succeeded(i))
            {
                embeddings.Add(new Embedding<float>(result.GetVector(i)) { ModelId = Metadata.DefaultModelId, CreatedAt = created });
                continue;
            }
            skipped.Add(i);
            ImageEmbeddingError error = result.Errors.First(e => e.Index == i);
            string reason = unreadable is not null && unreadable.TryGetValue(i, out Exception? io) ? "the file cannot be read: " + io.Message : error.Reason;
            embeddings.Add(new Embedding<float>(ReadOnlyMemory<float>.Empty)
            {
                ModelId = Metadata.DefaultModelId,
                CreatedAt = created,
                AdditionalProperties = new AdditionalPropertiesDictionary { ["error"] = $"#{i} '{names[i]}': {reason}" },
            });
        }
        if (skipped.Count > 0)
        {
            embeddings.AdditionalProperties = new AdditionalPropertiesDictionary { ["skipped"] = skipped.ToArray() };
        }
        return embeddings;
    }
}
