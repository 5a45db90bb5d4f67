using System.Collections.Concurrent;
using ImageRetrieval.ML.Imaging;
using ImageRetrieval.ML.Models;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace ImageRetrieval.ML.Embedding;

/// <summary>
/// The batched counterpart of <see cref="ImageEmbeddingEstimator"/>: same input columns, same output column and the
/// same vectors, but rows are embedded in batches by an <see cref="ImageEmbedder"/> (parallel decode, one ONNX
/// Runtime call per batch) instead of ML.NET's one-row-at-a-time scorer. Created by <c>mlContext.Transforms.EmbedImagesBatched</c>.
/// </summary>
public sealed class BatchedImageEmbeddingEstimator : IEstimator<BatchedImageEmbeddingTransformer>
{
    private readonly ImageEmbeddingOptions _options;
    private readonly ImageEmbeddingEstimator _plain;

    internal BatchedImageEmbeddingEstimator(TransformsCatalog catalog, ImageEmbeddingOptions options)
    {
        _plain = new ImageEmbeddingEstimator(catalog, options);
        _options = options.Clone();
    }

    /// <summary>The model's metadata.</summary>
    public EmbeddingModelMetadata Metadata => _plain.Metadata;

    /// <summary>How the model is fed, every value resolved against the graph.</summary>
    public ImageEncoderDescription Encoder => _plain.Encoder;

    /// <inheritdoc cref="ImageEmbeddingEstimator.GetOutputSchema"/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) => _plain.GetOutputSchema(inputSchema);

    /// <summary>Checks the input schema, opens the model (GPU or CPU) and returns the batched transformer.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The input column is missing or has the wrong type.</exception>
    /// <exception cref="InvalidOperationException">A GPU was requested, is unavailable, and <see cref="ImageEmbeddingOptions.FallbackToCpu"/> is false.</exception>
    public BatchedImageEmbeddingTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        ImageEmbeddingEstimator.InputKind kind = _plain.CheckInput(input.Schema);
        if (kind == ImageEmbeddingEstimator.InputKind.Image)
        {
            throw new ArgumentOutOfRangeException(nameof(input),
                $"Input column '{_plain.InputColumnName}' holds MLImage values; the batched path decodes files or encoded bytes itself. Use EmbedImages for MLImage columns, or pass paths / byte[].");
        }
        // The equivalent ML.NET chain serves single rows (PredictionEngine) and is what Save writes.
        TransformerChain<ITransformer> chain = _plain.FitChain(input);
        try
        {
            var embedder = new ImageEmbedder(_options.ModelPath, _options.ToEmbedderOptions(), _options.Logger);
            return new BatchedImageEmbeddingTransformer(_options, kind, embedder, chain, input.Schema);
        }
        catch
        {
            chain.Dispose();
            throw;
        }
    }
}

/// <summary>
/// Embeds the rows of an <see cref="IDataView"/> in batches with an <see cref="ImageEmbedder"/>. Input rows and
/// columns pass through; the output column is a known-size float vector, equal (≤ 1e-5) to the plain chain's.
/// </summary>
/// <remarks>
/// <para>Rows are read ahead in chunks of a few batches by a second cursor over the input, so the input must
/// give the same row order to every unshuffled cursor (all ML.NET loaders and transforms do).</para>
/// <para>Under <see cref="ImageErrorPolicy.Skip"/> rows whose image cannot be used are dropped from the output and
/// listed in <see cref="SkippedImages"/>; under <see cref="ImageErrorPolicy.Throw"/> cursoring throws an
/// <see cref="ImageDecodeException"/> naming the image.</para>
/// <para><c>mlContext.Model.Save</c> writes the equivalent ML.NET chain (ML.NET's model format only loads its own
/// component types): the model reloads as the plain row-by-row chain with the same outputs. Single-row use
/// (<c>PredictionEngine</c>, <see cref="GetRowToRowMapper"/>) also runs that chain.</para>
/// </remarks>
public sealed class BatchedImageEmbeddingTransformer : ITransformer, IDisposable
{
    private readonly ImageEmbeddingOptions _options;
    private readonly ImageEmbeddingEstimator.InputKind _kind;
    private readonly TransformerChain<ITransformer> _chain;
    private readonly ConcurrentDictionary<(long, string), ImageEmbeddingError> _skipped = new();

    internal BatchedImageEmbeddingTransformer(ImageEmbeddingOptions options, ImageEmbeddingEstimator.InputKind kind, ImageEmbedder embedder, TransformerChain<ITransformer> chain, DataViewSchema fitSchema)
    {
        _options = options;
        _kind = kind;
        Embedder = embedder;
        _chain = chain;
        OutputType = chain.GetOutputSchema(fitSchema)[options.OutputColumnName].Type;
    }

    /// <summary>The embedder that scores the batches.</summary>
    public ImageEmbedder Embedder { get; }

    /// <summary>The execution provider that runs the model.</summary>
    public ExecutionProviderInfo ExecutionProvider => Embedder.ExecutionProvider;

    /// <summary>Rows skipped under <see cref="ImageErrorPolicy.Skip"/>, over every pass of every transformed view, ordered by row.</summary>
    public IReadOnlyList<ImageEmbeddingError> SkippedImages => [.. _skipped.Values.OrderBy(e => e.Index).ThenBy(e => e.Source, StringComparer.Ordinal)];

    internal DataViewType OutputType { get; }

    internal string InputColumnName => _options.InputColumnName ?? _options.OutputColumnName;

    internal string OutputColumnName => _options.OutputColumnName;

    internal ImageEmbeddingOptions Options => _options;

    internal ImageEmbeddingEstimator.InputKind Kind => _kind;

    /// <summary>True: single rows are mapped by the equivalent ML.NET chain.</summary>
    public bool IsRowToRowMapper => true;

    /// <summary>The output schema: the input columns plus the embedding column.</summary>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return BatchedEmbeddingDataView.MakeSchema(inputSchema, this);
    }

    /// <summary>The row-to-row mapper of the equivalent ML.NET chain (used by <c>PredictionEngine</c>).</summary>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => ((ITransformer)_chain).GetRowToRowMapper(inputSchema);

    /// <summary>A lazy view that embeds the input rows in batches as it is cursored.</summary>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new BatchedEmbeddingDataView(input, this);
    }

    void ICanSaveModel.Save(ModelSaveContext ctx) => ((ICanSaveModel)_chain).Save(ctx);

    /// <summary>Frees the ONNX Runtime sessions.</summary>
    public void Dispose()
    {
        Embedder.Dispose();
        _chain.Dispose();
    }

    internal void CheckInputSchema(DataViewSchema schema)
    {
        DataViewSchema.Column? column = schema.GetColumnOrNull(InputColumnName);
        DataViewType? item = column?.Type is VectorDataViewType v ? v.ItemType : column?.Type;
        bool ok = column is not null && (_kind == ImageEmbeddingEstimator.InputKind.Path
            ? column.Value.Type is TextDataViewType
            : column.Value.Type is VectorDataViewType && item == NumberDataViewType.Byte);
        if (!ok)
        {
            throw new ArgumentOutOfRangeException(nameof(schema),
                $"Input column '{InputColumnName}' must be {(_kind == ImageEmbeddingEstimator.InputKind.Path ? "String (an image path)" : "Vector<Byte> (an encoded image)")} as when the transformer was fitted; found {(column is null ? "no such column" : column.Value.Type.ToString())}.");
        }
    }

    internal void RecordSkipped(ImageEmbeddingError error) => _skipped.TryAdd((error.Index, error.Source), error);

    internal ImageEmbeddingResult EmbedChunk(IReadOnlyList<object?> items, long firstRow)
    {
        string folder = _options.ImageFolder ?? "";
        ModelInput input = Embedder.Input;
        string NameOf(int i) => items[i] switch
        {
            string path => Path.Combine(folder, path),
            _ => $"row {(firstRow + i).ToString(System.Globalization.CultureInfo.InvariantCulture)}",
        };
        return Embedder.Run(items.Count, NameOf, (i, span) =>
        {
            switch (items[i])
            {
                case string path:
                    input.FromFile(NameOf(i), span);
                    break;
                case byte[] bytes:
                    input.FromBytes(bytes, span, NameOf(i));
                    break;
                default:
                    throw new ImageDecodeException(NameOf(i), "the input value is empty");
            }
        }, null, CancellationToken.None);
    }
}
