using System.Diagnostics.CodeAnalysis;
using System.Linq.Expressions;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.VectorData;
using Microsoft.Extensions.VectorData.ProviderServices;
using AIEmbedding = Microsoft.Extensions.AI.Embedding;

namespace ImageRetrieval.ML.VectorStores;

/// <summary>
/// A VectorData collection backed by ImageRetrieval's HNSW index: records described by the VectorData attributes or a
/// collection definition, keys of type <see cref="Guid"/>, <see cref="string"/>, <see cref="int"/> or <see cref="long"/>,
/// LINQ filters evaluated inside the graph traversal, vectors embedded by an <see cref="IEmbeddingGenerator"/> configured
/// on the vector property, and persistence to a crash-safe directory when the store has one.
/// </summary>
/// <typeparam name="TKey">The key type.</typeparam>
/// <typeparam name="TRecord">The record type.</typeparam>
/// <remarks>
/// Obtain collections from an <see cref="HnswVectorStore"/> (one store per directory, shared by the application): every
/// collection object with the same name then works on the same records. Thread-safe; searches never wait for writes.
/// </remarks>
#pragma warning disable CA1711 // VectorData names its collection types ...Collection.
public class HnswCollection<TKey, TRecord> : VectorStoreCollection<TKey, TRecord>
#pragma warning restore CA1711
    where TKey : notnull
    where TRecord : class
{
    private readonly HnswVectorStore _store;
    private readonly bool _ownsStore;
    private readonly CollectionSchema _schema;
    private readonly VectorStoreCollectionMetadata _metadata;

    /// <summary>A collection in a store of its own (for one-off use; prefer <see cref="HnswVectorStore.GetCollection{TKey, TRecord}"/>).</summary>
    /// <param name="name">The collection's name (letters, digits, '-', '_', '.'; it names a folder).</param>
    /// <param name="storeOptions">Where and how the store keeps collections; in memory when null.</param>
    /// <param name="options">The record definition and embedding generator; the record type's attributes when null.</param>
    [RequiresUnreferencedCode("The HNSW provider maps records by reflection over the record type and is not trim-safe.")]
    [RequiresDynamicCode("The HNSW provider maps records by reflection over the record type and is not AOT-safe.")]
    public HnswCollection(string name, HnswVectorStoreOptions? storeOptions = null, HnswCollectionOptions? options = null)
        : this(new HnswVectorStore(storeOptions), name, BuildModel(options, storeOptions?.EmbeddingGenerator), ownsStore: true)
    {
    }

    internal HnswCollection(HnswVectorStore store, string name, CollectionModel model, bool ownsStore = false)
    {
        HnswVectorStore.ValidateName(name);
        _store = store;
        _ownsStore = ownsStore;
        Name = name;
        Model = model;
        _schema = CollectionSchema.From(model);
        _metadata = new VectorStoreCollectionMetadata
        {
            VectorStoreSystemName = HnswVectorStore.SystemName,
            VectorStoreName = store.Options.Directory,
            CollectionName = name,
        };
    }

    /// <inheritdoc />
    public override string Name { get; }

    internal CollectionModel Model { get; }

    [RequiresUnreferencedCode("Reflection over the record type.")]
    [RequiresDynamicCode("Reflection over the record type.")]
    internal static CollectionModel BuildModel(HnswCollectionOptions? options, IEmbeddingGenerator? storeGenerator) =>
        typeof(TRecord) == typeof(Dictionary<string, object?>)
            ? throw new NotSupportedException(VectorDataStrings.NonDynamicCollectionWithDictionaryNotSupported(typeof(HnswDynamicCollection)))
            : new HnswModelBuilder().Build(typeof(TRecord), typeof(TKey), options?.Definition, options?.EmbeddingGenerator ?? storeGenerator);

    /// <inheritdoc />
    public override Task<bool> CollectionExistsAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(_store.CollectionExists(Name));

    /// <inheritdoc />
    public override Task EnsureCollectionExistsAsync(CancellationToken cancellationToken = default) =>
        Run("EnsureCollectionExists", () => _store.GetOrCreateStorage(Name, _schema));

    /// <inheritdoc />
    public override Task EnsureCollectionDeletedAsync(CancellationToken cancellationToken = default) =>
        Run("EnsureCollectionDeleted", () => _store.DeleteCollection(Name));

    /// <inheritdoc />
    public override Task<TRecord?> GetAsync(TKey key, RecordRetrievalOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        bool includeVectors = CheckIncludeVectors(options?.IncludeVectors ?? false);
        object normalized = NormalizeKey(key);
        return Run("Get", () => Storage().TryGet(normalized, out StoredRecord? record) ? ToRecord(record!, includeVectors) : null);
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<TRecord> GetAsync(Expression<Func<TRecord, bool>> filter, int top,
        FilteredRecordRetrievalOptions<TRecord>? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentOutOfRangeException.ThrowIfLessThan(top, 1);
        options ??= new();
        ArgumentOutOfRangeException.ThrowIfNegative(options.Skip, nameof(options));
        bool includeVectors = CheckIncludeVectors(options.IncludeVectors);
        RecordFilter recordFilter = HnswFilterTranslator.Translate(filter, Model);
        List<StoredRecord> records = await Run("Get", () => Storage().Snapshot()).ConfigureAwait(false);
        IEnumerable<StoredRecord> matching = records.Where(recordFilter.Matches);
        var orderBy = options.OrderBy?.Invoke(new()).Values;
        if (orderBy is { Count: > 0 })
        {
            IOrderedEnumerable<StoredRecord>? sorted = null;
            foreach (var sort in orderBy)
            {
                int field = FieldOf(Model.GetDataOrKeyProperty(sort.PropertySelector));
                Func<StoredRecord, object?> value = r => field < 0 ? r.Key : r.Data[field];
                IComparer<object?> comparer = Comparer<object?>.Create(CompareNullsFirst);
                sorted = sorted is null
                    ? (sort.Ascending ? matching.OrderBy(value, comparer) : matching.OrderByDescending(value, comparer))
                    : (sort.Ascending ? sorted.ThenBy(value, comparer) : sorted.ThenByDescending(value, comparer));
            }
            matching = sorted!;
        }
        foreach (StoredRecord record in matching.Skip(options.Skip).Take(top))
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return ToRecord(record, includeVectors);
        }
    }

    /// <inheritdoc />
    public override Task DeleteAsync(TKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        return DeleteAsync([key], cancellationToken);
    }

    /// <inheritdoc />
    public override Task DeleteAsync(IEnumerable<TKey> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var normalized = keys.Select(k => NormalizeKey(k ?? throw new ArgumentException("A key is null.", nameof(keys)))).ToList();
        return Run("Delete", () => Storage().Delete(normalized));
    }

    /// <inheritdoc />
    public override Task UpsertAsync(TRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        return UpsertAsync([record], cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>Vector properties with an embedding generator are embedded in one call per property for all the records
    /// (so an image generator scores them in batches). For a persistent store, the call returns once the records are on disk.</remarks>
    public override async Task UpsertAsync(IEnumerable<TRecord> records, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(records);
        IReadOnlyList<TRecord> list = records as IReadOnlyList<TRecord> ?? records.ToList();
        if (list.Count == 0)
        {
            return;
        }
        var generated = new float[]?[Model.VectorProperties.Count][];
        for (int v = 0; v < Model.VectorProperties.Count; v++)
        {
            VectorPropertyModel property = Model.VectorProperties[v];
            if (HnswModelBuilder.IsNativeVectorType(property.Type))
            {
                continue;
            }
            var inputs = list.Select(r => property.GetValueAsObject(r)).ToList();
            var present = inputs.Select((value, i) => (value, i)).Where(p => p.value is not null).ToList();
            var vectors = new float[]?[list.Count];
            if (present.Count > 0)
            {
                IReadOnlyList<AIEmbedding> embeddings = await property.GenerateEmbeddingsAsync(present.Select(p => p.value!), cancellationToken).ConfigureAwait(false);
                if (embeddings.Count != present.Count)
                {
                    throw new InvalidOperationException($"The embedding generator of property '{property.ModelName}' returned {embeddings.Count} embeddings for {present.Count} values.");
                }
                for (int i = 0; i < present.Count; i++)
                {
                    vectors[present[i].i] = embeddings[i] is Embedding<float> e
                        ? e.Vector.ToArray()
                        : throw new InvalidOperationException($"The embedding generator of property '{property.ModelName}' returned a {embeddings[i].GetType().Name}; the HNSW provider stores Embedding<float>.");
                }
            }
            generated[v] = vectors;
        }
        var stored = new List<(object Key, object?[] Data, float[]?[] Vectors)>(list.Count);
        for (int i = 0; i < list.Count; i++)
        {
            stored.Add(FromRecord(list[i], i, generated));
        }
        await Run("Upsert", () => Storage().Upsert(stored, cancellationToken)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<VectorSearchResult<TRecord>> SearchAsync<TInput>(TInput searchValue, int top,
        VectorSearchOptions<TRecord>? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(searchValue);
        ArgumentOutOfRangeException.ThrowIfLessThan(top, 1);
        options ??= new();
        ArgumentOutOfRangeException.ThrowIfNegative(options.Skip, nameof(options));
        bool includeVectors = CheckIncludeVectors(options.IncludeVectors);
        VectorPropertyModel property = Model.GetVectorPropertyOrSingle(options);
        int vector = IndexOf(property);
        ReadOnlyMemory<float> query = searchValue switch
        {
            ReadOnlyMemory<float> memory => memory,
            float[] array => array,
            Embedding<float> embedding => embedding.Vector,
            _ when property.EmbeddingGenerator is IEmbeddingGenerator<TInput, Embedding<float>> generator =>
                await generator.GenerateVectorAsync(searchValue, cancellationToken: cancellationToken).ConfigureAwait(false),
            _ => property.EmbeddingGenerator is null
                ? throw new NotSupportedException(VectorDataStrings.InvalidSearchInputAndNoEmbeddingGeneratorWasConfigured(searchValue.GetType(), HnswModelBuilder.SupportedVectorTypes))
                : throw new InvalidOperationException(VectorDataStrings.IncompatibleEmbeddingGeneratorWasConfiguredForInputType(typeof(TInput), property.EmbeddingGenerator.GetType())),
        };
        RecordFilter? filter = options.Filter is null ? null : HnswFilterTranslator.Translate(options.Filter, Model);
        string function = _schema.Vectors[vector].DistanceFunction;
        var hits = await Run("Search", () => Storage().Search(vector, query.Span, top + options.Skip, filter, null, cancellationToken)).ConfigureAwait(false);
        foreach (var (record, distance) in hits.Skip(options.Skip))
        {
            double score = DistanceFunctions.Score(function, distance);
            if (options.ScoreThreshold is double threshold && (DistanceFunctions.HigherIsBetter(function) ? score < threshold : score > threshold))
            {
                continue;
            }
            yield return new VectorSearchResult<TRecord>(ToRecord(record, includeVectors), score);
        }
    }

    /// <inheritdoc />
    public override object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(VectorStoreCollectionMetadata) ? _metadata
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing && _ownsStore)
        {
            _store.Dispose();
        }
        base.Dispose(disposing);
    }

    /// <summary>Saves the collection's current state as a new version of its directory now (useful with <see cref="HnswVectorStoreOptions.SaveOnEveryWrite"/> off).</summary>
    public Task SaveAsync(CancellationToken cancellationToken = default) => Run("Save", () => Storage().Save());

    private CollectionStorage Storage() =>
        _store.TryGetStorage(Name, _schema) ?? throw new VectorStoreException($"Collection '{Name}' does not exist; call EnsureCollectionExistsAsync first.")
        {
            VectorStoreSystemName = HnswVectorStore.SystemName,
            VectorStoreName = _store.Options.Directory,
            CollectionName = Name,
        };

    private Task Run(string operation, Action action) => Run(operation, () => { action(); return true; });

    private Task<T> Run<T>(string operation, Func<T> action)
    {
        try
        {
            return Task.FromResult(action());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            throw new VectorStoreException($"The HNSW store failed to {operation} on collection '{Name}': {e.Message}", e)
            {
                VectorStoreSystemName = HnswVectorStore.SystemName,
                VectorStoreName = _store.Options.Directory,
                CollectionName = Name,
                OperationName = operation,
            };
        }
    }

    private bool CheckIncludeVectors(bool includeVectors)
    {
        if (includeVectors && Model.EmbeddingGenerationRequired)
        {
            throw new NotSupportedException(VectorDataStrings.IncludeVectorsNotSupportedWithEmbeddingGeneration);
        }
        return includeVectors;
    }

    private object NormalizeKey(object key)
    {
        Type type = _schema.KeyType;
        if (key.GetType() == type)
        {
            return key;
        }
        try
        {
            return type == typeof(Guid) && key is string s ? Guid.Parse(s)
                : type == typeof(string) ? throw new InvalidCastException()
                : Convert.ChangeType(key, type, System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is InvalidCastException or FormatException or OverflowException)
        {
            throw new ArgumentException($"Key '{key}' is a {key.GetType().Name}; collection '{Name}' has {type.Name} keys.", nameof(key), e);
        }
    }

    private int IndexOf(VectorPropertyModel property)
    {
        for (int i = 0; i < Model.VectorProperties.Count; i++)
        {
            if (ReferenceEquals(Model.VectorProperties[i], property))
            {
                return i;
            }
        }
        throw new InvalidOperationException($"Vector property '{property.ModelName}' is not part of collection '{Name}'.");
    }

    private int FieldOf(PropertyModel property)
    {
        if (property is KeyPropertyModel)
        {
            return -1;
        }
        for (int i = 0; i < Model.DataProperties.Count; i++)
        {
            if (ReferenceEquals(Model.DataProperties[i], property))
            {
                return i;
            }
        }
        throw new InvalidOperationException($"Property '{property.ModelName}' cannot be ordered by.");
    }

    private static int CompareNullsFirst(object? a, object? b) =>
        a is null ? (b is null ? 0 : -1) : b is null ? 1 : RecordFilter.CompareValues(a, b);

    private (object Key, object?[] Data, float[]?[] Vectors) FromRecord(TRecord record, int index, float[]?[]?[] generated)
    {
        KeyPropertyModel keyProperty = Model.KeyProperty;
        object? key = keyProperty.GetValueAsObject(record);
        if (keyProperty.IsAutoGenerated && (key is null || (key is Guid g && g == Guid.Empty)))
        {
            var newKey = Guid.NewGuid();
            keyProperty.SetValueAsObject(record, newKey);
            key = newKey;
        }
        if (key is null || (key is string s && s.Length == 0))
        {
            throw new ArgumentException($"Record {index} has no key (property '{keyProperty.ModelName}' is null or empty).", "records");
        }
        var data = new object?[Model.DataProperties.Count];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = DataValues.Snapshot(Model.DataProperties[i].GetValueAsObject(record));
        }
        var vectors = new float[]?[Model.VectorProperties.Count];
        for (int v = 0; v < vectors.Length; v++)
        {
            vectors[v] = generated[v] is { } produced
                ? produced[index]
                : Model.VectorProperties[v].GetValueAsObject(record) switch
                {
                    null => null,
                    ReadOnlyMemory<float> memory => memory.ToArray(),
                    float[] array => (float[])array.Clone(),
                    Embedding<float> embedding => embedding.Vector.ToArray(),
                    var other => throw new ArgumentException(
                        $"Record '{key}': vector property '{Model.VectorProperties[v].ModelName}' holds a {other.GetType().Name}; supported: {HnswModelBuilder.SupportedVectorTypes}.", "records"),
                };
        }
        return (NormalizeKey(key), data, vectors);
    }

    private TRecord ToRecord(StoredRecord stored, bool includeVectors)
    {
        TRecord record = Model.CreateRecord<TRecord>();
        Model.KeyProperty.SetValueAsObject(record, stored.Key);
        for (int i = 0; i < Model.DataProperties.Count; i++)
        {
            Model.DataProperties[i].SetValueAsObject(record, DataValues.Snapshot(stored.Data[i]));
        }
        if (includeVectors)
        {
            for (int v = 0; v < Model.VectorProperties.Count; v++)
            {
                VectorPropertyModel property = Model.VectorProperties[v];
                float[]? vector = stored.Vectors[v];
                object? value = vector is null ? null
                    : property.Type == typeof(float[]) ? (float[])vector.Clone()
                    : property.Type == typeof(Embedding<float>) ? new Embedding<float>(vector.ToArray())
                    : new ReadOnlyMemory<float>(vector.ToArray());
                property.SetValueAsObject(record, value);
            }
        }
        return record;
    }
}
