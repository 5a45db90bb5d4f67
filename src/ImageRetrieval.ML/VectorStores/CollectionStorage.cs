using System.Collections.Concurrent;
using System.Numerics.Tensors;
using System.Text.Json;
using ImageRetrieval.ML.Indexing;
using ImageRetrieval.ML.Search;
using ImageRetrieval.ML.Threading;
using Microsoft.Extensions.Logging;

namespace ImageRetrieval.ML.VectorStores;

/// <summary>
/// The engine behind one HNSW collection: records by internal id, the user-key → id map, one <see cref="HnswIndex"/> per
/// vector property, and persistence to a crash-safe index directory (immutable versions and a <c>CURRENT</c> pointer).
/// </summary>
/// <remarks>
/// <para>Writers (upserts, deletes, saves) take turns; searches and reads take no lock: they see every record whose
/// upsert has returned. A record is replaced as a whole (a new <see cref="StoredRecord"/>), so a reader never sees half
/// of an update. <see cref="Dispose"/> waits for operations in flight.</para>
/// <para>Filtered search evaluates the <see cref="RecordFilter"/> inside the HNSW traversal (nodes that fail it still
/// route, and the beam keeps widening until it holds <c>top</c> matches). When a sample of the records says so few match
/// that walking the graph to find them would cost more than checking them all, it scans the matching records exactly.</para>
/// </remarks>
internal sealed partial class CollectionStorage : IDisposable
{
    private const string RecordsFileName = "records.json";
    private const int SampleSize = 256;
    private readonly ConcurrentDictionary<object, long> _ids = new();
    private readonly RecordTable _records = new();
    private readonly HnswIndex[] _graphs;
    private readonly Lock _writeLock = new();
    private readonly OperationGate _gate = new();
    private readonly ILogger _logger;
    private HnswStoreSettings _settings;
    private long _nextId;

    private CollectionStorage(string name, CollectionSchema schema, string? directory, HnswStoreSettings settings, ILogger logger, HnswIndex[]? graphs)
    {
        Name = name;
        Schema = schema;
        Directory = directory;
        _settings = settings;
        _logger = logger;
        _graphs = graphs ?? schema.Vectors.Select(v => new HnswIndex(v.Dimensions, v.Metric, settings.Hnsw)).ToArray();
    }

    public string Name { get; }

    public CollectionSchema Schema { get; }

    /// <summary>The collection's index directory, or null for a collection kept in memory only.</summary>
    public string? Directory { get; }

    public int Count => _records.Count;

    /// <summary>The settings in force; the filtered-search benchmark switches the strategy threshold on one built graph.</summary>
    internal HnswStoreSettings Settings
    {
        get => _settings;
        set => _settings = value;
    }

    /// <summary>Creates an empty collection; a persistent one is saved at once so that it exists on disk.</summary>
    public static CollectionStorage Create(string name, CollectionSchema schema, string? directory, HnswStoreSettings settings, ILogger logger)
    {
        var storage = new CollectionStorage(name, schema, directory, settings, logger, null);
        if (directory is not null)
        {
            storage.Save();
        }
        return storage;
    }

    /// <summary>Opens a saved collection, checking that it holds what <paramref name="schema"/> describes.</summary>
    /// <exception cref="InvalidDataException">The saved files are corrupt.</exception>
    /// <exception cref="InvalidOperationException">The collection holds records of another shape.</exception>
    public static CollectionStorage Open(string name, CollectionSchema schema, string directory, HnswStoreSettings settings, ILogger logger)
    {
        string folder = IndexDirectory.OpenCurrent(directory);
        CollectionManifest manifest = CollectionManifest.Read(folder);
        schema.CheckMatches(manifest, name);
        var graphs = new HnswIndex[schema.Vectors.Count];
        CollectionStorage? storage = null;
        try
        {
            for (int v = 0; v < graphs.Length; v++)
            {
                string graphPath = Path.Combine(folder, GraphFile(v));
                try
                {
                    graphs[v] = HnswIndex.Load(graphPath);
                }
                catch (InvalidDataException e)
                {
                    throw new InvalidDataException($"'{graphPath}': {e.Message}", e);
                }
            }
            storage = new CollectionStorage(name, schema, directory, settings, logger, graphs);
            storage._nextId = manifest.NextId;
            var vectors = new Dictionary<long, float[]>[schema.Vectors.Count];
            for (int v = 0; v < vectors.Length; v++)
            {
                string path = Path.Combine(folder, VectorFile(v));
                int count = graphs[v].Count;
                vectors[v] = EmbeddingStore.Read(path, schema.Vectors[v].Dimensions, count).Snapshot().ToDictionary(p => p.Key, p => p.Vector);
            }
            storage.ReadRecords(Path.Combine(folder, RecordsFileName), manifest, vectors);
            return storage;
        }
        catch
        {
            if (storage is not null)
            {
                storage.Dispose();
            }
            else
            {
                foreach (HnswIndex? graph in graphs)
                {
                    graph?.Dispose();
                }
            }
            throw;
        }
    }

    public bool TryGet(object key, out StoredRecord? record)
    {
        using var _ = _gate.Enter(this);
        record = _ids.TryGetValue(key, out long id) && _records.TryGet(id, out StoredRecord? r) ? r : null;
        return record is not null;
    }

    /// <summary>A snapshot of the records in id (insertion) order.</summary>
    public List<StoredRecord> Snapshot()
    {
        using var _ = _gate.Enter(this);
        return _records.All().ToList();
    }

    /// <summary>Inserts or replaces records (by key) and, for a persistent collection, saves a new version before returning.</summary>
    public void Upsert(IReadOnlyList<(object Key, object?[] Data, float[]?[] Vectors)> records, CancellationToken cancellationToken)
    {
        using var _ = _gate.Enter(this);
        foreach (var (key, _, vectors) in records)
        {
            for (int v = 0; v < vectors.Length; v++)
            {
                if (vectors[v] is float[] vector && vector.Length != Schema.Vectors[v].Dimensions)
                {
                    throw new ArgumentException(
                        $"Record '{key}': vector property '{Schema.Vectors[v].StorageName}' has {vector.Length} values; the collection's vectors have {Schema.Vectors[v].Dimensions}.", nameof(records));
                }
                if (vectors[v] is float[] values && values.Any(x => !float.IsFinite(x)))
                {
                    throw new ArgumentException($"Record '{key}': vector property '{Schema.Vectors[v].StorageName}' holds a NaN or infinite value.", nameof(records));
                }
            }
        }
        lock (_writeLock)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var batches = new List<(long Key, ReadOnlyMemory<float> Vector)>[_graphs.Length];
            for (int v = 0; v < batches.Length; v++)
            {
                batches[v] = new List<(long, ReadOnlyMemory<float>)>(records.Count);
            }
            foreach (var (key, data, vectors) in records)
            {
                long id = _ids.GetOrAdd(key, _ => _nextId++);
                _records.Set(new StoredRecord(id, key, data, vectors));
                for (int v = 0; v < vectors.Length; v++)
                {
                    if (vectors[v] is float[] vector)
                    {
                        batches[v].Add((id, vector));
                    }
                    else
                    {
                        _graphs[v].Remove(id);
                    }
                }
            }
            for (int v = 0; v < _graphs.Length; v++)
            {
                // AddRange replaces a key that is already present (an update).
                _graphs[v].AddRange(batches[v], Math.Max(1, _settings.IndexingThreads));
            }
            SaveIfDurable();
        }
    }

    /// <summary>Deletes records by key (missing keys are ignored) and, for a persistent collection, saves a new version.</summary>
    public void Delete(IEnumerable<object> keys)
    {
        using var _ = _gate.Enter(this);
        lock (_writeLock)
        {
            bool changed = false;
            foreach (object key in keys)
            {
                if (_ids.TryRemove(key, out long id))
                {
                    _records.Remove(id);
                    foreach (HnswIndex graph in _graphs)
                    {
                        graph.Remove(id);
                    }
                    changed = true;
                }
            }
            if (changed)
            {
                SaveIfDurable();
            }
        }
    }

    /// <summary>The <paramref name="k"/> records nearest to <paramref name="query"/> on vector property <paramref name="vector"/> that pass <paramref name="filter"/>, nearest first.</summary>
    public List<(StoredRecord Record, float Distance)> Search(int vector, ReadOnlySpan<float> query, int k, RecordFilter? filter, int? efSearch, CancellationToken cancellationToken)
    {
        using var _ = _gate.Enter(this);
        VectorField field = Schema.Vectors[vector];
        if (query.Length != field.Dimensions)
        {
            throw new ArgumentException($"The query vector has {query.Length} values; vector property '{field.StorageName}' holds {field.Dimensions}.", nameof(query));
        }
        bool exact = field.Flat || (filter is not null && FewMatches(filter));
        var results = new List<(StoredRecord, float)>(k);
        if (exact)
        {
            SearchExactly(vector, field.Metric, query, k, filter, results, cancellationToken);
            return results;
        }
        Func<long, bool>? keyFilter = filter is null ? null : id => _records.TryGet(id, out StoredRecord? r) && filter.Matches(r!);
        int ef = Math.Max(efSearch ?? _settings.Hnsw.DefaultEfSearch, k);
        foreach (SearchHit hit in _graphs[vector].Search(query, k, ef, keyFilter, cancellationToken))
        {
            // A record deleted between the graph search and this lookup is dropped, never returned stale.
            if (_records.TryGet(hit.Key, out StoredRecord? record))
            {
                results.Add((record!, hit.Distance));
            }
        }
        return results;
    }

    /// <summary>
    /// Whether a filtered search should scan the matching records rather than walk the graph: true when the collection
    /// is no larger than the threshold, or when the filter, applied to <see cref="SampleSize"/> records at evenly spaced
    /// ids, estimates at most the threshold's number of matches. 0 never scans.
    /// </summary>
    private bool FewMatches(RecordFilter filter)
    {
        int threshold = _settings.ExactFilteredSearchThreshold;
        if (threshold <= 0)
        {
            return false;
        }
        int count = _records.Count;
        if (count <= threshold)
        {
            return true;
        }
        // Ids are dense: probe evenly spaced slots (deterministic for a given set of records) until SampleSize hits.
        int capacity = _records.Capacity;
        int step = Math.Max(1, capacity / (SampleSize * 2));
        int sampled = 0, matched = 0;
        for (int start = 0; start < step && sampled < SampleSize; start++)
        {
            for (int id = start; id < capacity && sampled < SampleSize; id += step)
            {
                if (_records.At(id) is StoredRecord record)
                {
                    sampled++;
                    matched += filter.Matches(record) ? 1 : 0;
                }
            }
        }
        return sampled == 0 || (double)matched / sampled * count <= threshold;
    }

    private void SearchExactly(int vector, DistanceMetric metric, ReadOnlySpan<float> query, int k, RecordFilter? filter, List<(StoredRecord, float)> results, CancellationToken cancellationToken)
    {
        // Max-heap on distance (the farthest kept on top), ties broken by id so results are deterministic.
        var heap = new PriorityQueue<StoredRecord, (float Distance, long Id)>(k + 1, Comparer<(float Distance, long Id)>.Create((a, b) =>
        {
            int c = b.Distance.CompareTo(a.Distance);
            return c != 0 ? c : b.Id.CompareTo(a.Id);
        }));
        float queryNorm = metric == DistanceMetric.Cosine ? TensorPrimitives.Norm(query) : 1f;
        StoredRecord?[] slots = _records.Slots;
        for (int i = 0; i < slots.Length; i++)
        {
            if ((i & 4095) == 4095)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
            StoredRecord? record = Volatile.Read(ref slots[i]);
            if (record?.Vectors[vector] is not float[] v || (filter is not null && !filter.Matches(record)))
            {
                continue;
            }
            float d = metric switch
            {
                DistanceMetric.SquaredL2 => SquaredL2(query, v),
                DistanceMetric.InnerProduct => 1f - TensorPrimitives.Dot(query, v),
                _ => CosineDistance(query, queryNorm, v),
            };
            heap.Enqueue(record, (d, record.Id));
            if (heap.Count > k)
            {
                heap.Dequeue();
            }
        }
        var ordered = new (StoredRecord, float)[heap.Count];
        for (int i = ordered.Length - 1; i >= 0; i--)
        {
            heap.TryDequeue(out StoredRecord? record, out var priority);
            ordered[i] = (record!, priority.Distance);
        }
        results.AddRange(ordered);
    }

    private static float SquaredL2(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        float d = TensorPrimitives.Distance(a, b);
        return d * d;
    }

    private static float CosineDistance(ReadOnlySpan<float> query, float queryNorm, ReadOnlySpan<float> v)
    {
        float norm = TensorPrimitives.Norm(v);
        return norm == 0 || queryNorm == 0 ? 1f : 1f - (TensorPrimitives.Dot(query, v) / (queryNorm * norm));
    }

    /// <summary>Saves the collection as a new version of its index directory (a no-op for an in-memory collection).</summary>
    public void Save()
    {
        using var _ = _gate.Enter(this);
        lock (_writeLock)
        {
            SaveCore();
        }
    }

    private void SaveIfDurable()
    {
        if (_settings.SaveOnEveryWrite)
        {
            SaveCore();
        }
    }

    private void SaveCore()
    {
        if (Directory is null)
        {
            return;
        }
        IndexDirectory.CommitNewVersion(Directory, folder =>
        {
            var records = _records.All().ToList();
            WriteRecords(Path.Combine(folder, RecordsFileName), records);
            var files = new List<string> { RecordsFileName };
            for (int v = 0; v < _graphs.Length; v++)
            {
                var vectors = records.Where(r => r.Vectors[v] is not null).Select(r => (r.Id, r.Vectors[v]!)).ToList();
                EmbeddingStore.Write(Path.Combine(folder, VectorFile(v)), Schema.Vectors[v].Dimensions, vectors);
                _graphs[v].Save(Path.Combine(folder, GraphFile(v)));
                files.Add(VectorFile(v));
                files.Add(GraphFile(v));
            }
            new CollectionManifest
            {
                Name = Name,
                KeyType = CollectionSchema.KeyTypeName(Schema.KeyType),
                Count = records.Count,
                NextId = _nextId,
                Data = Schema.Data.Select(d => new CollectionManifest.DataEntry(d.StorageName, DataValues.NameOf(d.Type)!)).ToList(),
                Vectors = Schema.Vectors.Select(v => new CollectionManifest.VectorEntry(v.StorageName, v.Dimensions, v.DistanceFunction, v.Flat)).ToList(),
                M = _settings.Hnsw.M,
                EfConstruction = _settings.Hnsw.EfConstruction,
                Files = files.ToDictionary(f => f, f => IndexManifest.Describe(Path.Combine(folder, f))),
            }.Write(folder);
        });
        Log.Saved(_logger, Name, _records.Count, Directory);
    }

    private void WriteRecords(string path, List<StoredRecord> records)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartArray();
            foreach (StoredRecord record in records)
            {
                writer.WriteStartObject();
                writer.WriteNumber("id", record.Id);
                writer.WritePropertyName("key");
                DataValues.Write(writer, record.Key);
                writer.WriteStartObject("data");
                for (int i = 0; i < Schema.Data.Count; i++)
                {
                    writer.WritePropertyName(Schema.Data[i].StorageName);
                    DataValues.Write(writer, record.Data[i]);
                }
                writer.WriteEndObject();
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
        }
        stream.Flush(flushToDisk: true);
    }

    private void ReadRecords(string path, CollectionManifest manifest, Dictionary<long, float[]>[] vectors)
    {
        using var stream = File.OpenRead(path);
        using var document = JsonDocument.Parse(stream, new JsonDocumentOptions { MaxDepth = 16 });
        int count = 0;
        foreach (JsonElement item in document.RootElement.EnumerateArray())
        {
            long id = item.GetProperty("id").GetInt64();
            object key = DataValues.Read(item.GetProperty("key"), Schema.KeyType, path)
                ?? throw new InvalidDataException($"'{path}': record {id} has a null key.");
            JsonElement dataJson = item.GetProperty("data");
            var data = new object?[Schema.Data.Count];
            for (int i = 0; i < data.Length; i++)
            {
                data[i] = dataJson.TryGetProperty(Schema.Data[i].StorageName, out JsonElement value) ? DataValues.Read(value, Schema.Data[i].Type, path) : null;
            }
            var recordVectors = new float[]?[vectors.Length];
            for (int v = 0; v < vectors.Length; v++)
            {
                recordVectors[v] = vectors[v].GetValueOrDefault(id);
                if ((recordVectors[v] is null) == _graphs[v].Contains(id))
                {
                    throw new InvalidDataException($"'{path}': record {id} and the graph of vector property '{Schema.Vectors[v].StorageName}' disagree.");
                }
            }
            if (id < 0 || id >= manifest.NextId || id > int.MaxValue || _records.TryGet(id, out _) || !_ids.TryAdd(key, id))
            {
                throw new InvalidDataException($"'{path}': record id {id} or key '{key}' is out of range or repeated.");
            }
            _records.Set(new StoredRecord(id, key, data, recordVectors));
            count++;
        }
        if (count != manifest.Count)
        {
            throw new InvalidDataException($"'{path}' holds {count} records; the manifest says {manifest.Count}.");
        }
    }

    private static string GraphFile(int vector) => $"graph.{vector}.hnsw";

    private static string VectorFile(int vector) => $"vectors.{vector}.bin";

    public void Dispose()
    {
        if (!_gate.CloseAndWait())
        {
            return;
        }
        foreach (HnswIndex graph in _graphs)
        {
            graph.Dispose();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 20, Level = LogLevel.Debug, Message = "Collection '{Collection}' saved: {Count} records in '{Directory}'.")]
        public static partial void Saved(ILogger logger, string collection, int count, string directory);
    }
}

/// <summary>The settings a store hands to each of its collections.</summary>
internal sealed record HnswStoreSettings(HnswOptions Hnsw, bool SaveOnEveryWrite, int ExactFilteredSearchThreshold, int IndexingThreads);
