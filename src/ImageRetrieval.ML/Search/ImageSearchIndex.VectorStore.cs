using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json;
using ImageRetrieval.ML.Indexing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.VectorData;

namespace ImageRetrieval.ML.Search;

public sealed partial class ImageSearchIndex
{
    private ExternalRecords? _external;

    /// <summary>
    /// Creates an index whose records (key, path, label, metadata and embedding) live in a collection of any VectorData
    /// provider — ImageRetrieval's <c>HnswVectorStore</c>, or a distributed store's provider (Qdrant, PostgreSQL, Redis,
    /// Azure AI Search, ...) so that many application instances share one gallery. Images already in the collection are
    /// loaded (their paths and labels; the embeddings stay in the store).
    /// </summary>
    /// <param name="modelPath">The ONNX embedding model.</param>
    /// <param name="galleryRoot">The folder that item paths are relative to.</param>
    /// <param name="store">The vector store.</param>
    /// <param name="collectionName">The collection holding this gallery (created if missing).</param>
    /// <param name="keyType">The store's key type: <see cref="Guid"/> (the default; Qdrant, Weaviate, PostgreSQL), <see cref="string"/>
    /// (Redis, Azure AI Search, Pinecone), <see cref="long"/> or <see cref="ulong"/>. Keys are derived from the index's own keys.</param>
    /// <param name="options">Embedder and threading settings (the HNSW parameters do not apply: the store indexes).</param>
    /// <param name="logger">Receives warnings; none when null.</param>
    /// <param name="cancellationToken">Cancels creating and loading the collection.</param>
    /// <remarks>
    /// Differences from an index with built-in storage: <see cref="Save"/> is refused (the store persists every write);
    /// exact search is refused (the store owns the vectors); a <c>filter</c> on search is applied to an over-fetched
    /// result (4 × k), so a selective filter can return fewer than k results — filter in the store with VectorData's
    /// LINQ filters on <c>Label</c> and <c>Path</c> instead.
    /// </remarks>
    public static async Task<ImageSearchIndex> CreateAsync(string modelPath, string galleryRoot, VectorStore store, string collectionName,
        Type? keyType = null, ImageSearchIndexOptions? options = null, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentException.ThrowIfNullOrEmpty(collectionName);
        ImageSearchIndex index = Create(modelPath, galleryRoot, options, logger);
        try
        {
            var external = new ExternalRecords(store, collectionName, keyType ?? typeof(Guid), index.Dimension, index.Metric);
            index._external = external;
            await external.Collection.EnsureCollectionExistsAsync(cancellationToken).ConfigureAwait(false);
            await foreach (Dictionary<string, object?> record in external.Collection.GetAsync(_ => true, int.MaxValue, cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                IndexedImage item = external.ToItem(record);
                index._items[item.Key] = item;
                index._keysByPath[item.Path] = item.Key;
                index._nextKey = Math.Max(index._nextKey, item.Key + 1);
            }
            return index;
        }
        catch
        {
            index.Dispose();
            throw;
        }
    }

    /// <summary>The collection this index keeps its records in, or null for built-in storage.</summary>
    public string? VectorStoreCollectionName => _external?.Name;

    /// <summary>
    /// An index's records in a dynamic VectorData collection: <c>Key</c>, <c>Path</c> and <c>Label</c> (indexed, for
    /// filters), <c>Metadata</c> (JSON) and <c>Embedding</c>, with the distance function most providers support for the
    /// model's metric (cosine → CosineSimilarity, l2 → EuclideanDistance, ip → DotProductSimilarity) and the score turned
    /// back into the index's distance.
    /// </summary>
    private sealed class ExternalRecords : IDisposable
    {
        private readonly Type _keyType;
        private readonly DistanceMetric _metric;

        public ExternalRecords(VectorStore store, string name, Type keyType, int dimension, DistanceMetric metric)
        {
            if (keyType != typeof(Guid) && keyType != typeof(string) && keyType != typeof(long) && keyType != typeof(ulong))
            {
                throw new ArgumentException($"Key type {keyType.Name} is not supported; use Guid, string, long or ulong.", nameof(keyType));
            }
            _keyType = keyType;
            _metric = metric;
            Name = name;
            string function = metric switch
            {
                DistanceMetric.Cosine => DistanceFunction.CosineSimilarity,
                DistanceMetric.InnerProduct => DistanceFunction.DotProductSimilarity,
                _ => DistanceFunction.EuclideanDistance,
            };
            var definition = new VectorStoreCollectionDefinition
            {
                Properties =
                [
                    new VectorStoreKeyProperty("Key", keyType),
                    new VectorStoreDataProperty("Path", typeof(string)) { IsIndexed = true },
                    new VectorStoreDataProperty("Label", typeof(string)) { IsIndexed = true },
                    new VectorStoreDataProperty("Metadata", typeof(string)),
                    new VectorStoreVectorProperty("Embedding", typeof(ReadOnlyMemory<float>), dimension) { DistanceFunction = function },
                ],
            };
#pragma warning disable IL2026, IL3050 // Dynamic collections need no reflection over a record type; providers annotate the API as a whole.
            Collection = store.GetDynamicCollection(name, definition);
#pragma warning restore IL2026, IL3050
        }

        public string Name { get; }

        public VectorStoreCollection<object, Dictionary<string, object?>> Collection { get; }

        public void Upsert(IReadOnlyList<(IndexedImage Item, ReadOnlyMemory<float> Vector)> records)
        {
            if (records.Count == 0)
            {
                return;
            }
            var rows = records.Select(r => new Dictionary<string, object?>
            {
                ["Key"] = ToStoreKey(r.Item.Key),
                ["Path"] = r.Item.Path,
                ["Label"] = r.Item.Label,
                ["Metadata"] = r.Item.Metadata is null ? null : JsonSerializer.Serialize(r.Item.Metadata.ToDictionary(p => p.Key, p => p.Value), SearchJsonContext.Default.DictionaryStringString),
                ["Embedding"] = r.Vector,
            }).ToList();
            // Bulk adds run on a worker thread (AddFolderAsync); the provider's I/O completes there.
            Collection.UpsertAsync(rows).GetAwaiter().GetResult();
        }

        public void Delete(long key) => Collection.DeleteAsync(ToStoreKey(key)).GetAwaiter().GetResult();

        public IReadOnlyList<ImageSearchResult> Search(ReadOnlySpan<float> embedding, int k, Func<IndexedImage, bool>? filter, CancellationToken cancellationToken)
        {
            int fetch = filter is null ? k : checked(k * 4);
            var query = new ReadOnlyMemory<float>(embedding.ToArray());
            var results = new List<ImageSearchResult>(k);
            var hits = Collection.SearchAsync(query, fetch, cancellationToken: cancellationToken).ToBlockingEnumerable(cancellationToken);
            foreach (VectorSearchResult<Dictionary<string, object?>> hit in hits)
            {
                IndexedImage item = ToItem(hit.Record);
                if (filter is not null && !filter(item))
                {
                    continue;
                }
                results.Add(new ImageSearchResult(item.Key, item.Path, item.Label, ToDistance(hit.Score ?? double.NaN), item.Metadata));
                if (results.Count == k)
                {
                    break;
                }
            }
            return results;
        }

        public IndexedImage ToItem(Dictionary<string, object?> record)
        {
            long key = FromStoreKey(record["Key"] ?? throw new InvalidDataException($"Collection '{Name}' holds a record without a key."));
            string path = record.GetValueOrDefault("Path") as string ?? throw new InvalidDataException($"Collection '{Name}': record {key} has no path.");
            GalleryPaths.Validate(path, $"collection '{Name}'");
            IReadOnlyDictionary<string, string>? metadata = record.GetValueOrDefault("Metadata") is string json
                ? JsonSerializer.Deserialize(json, SearchJsonContext.Default.DictionaryStringString)
                : null;
            return new IndexedImage(key, path, record.GetValueOrDefault("Label") as string, metadata);
        }

        private float ToDistance(double score) => (float)(_metric switch
        {
            DistanceMetric.SquaredL2 => score * score,
            _ => 1 - score,
        });

        private object ToStoreKey(long key)
        {
            if (_keyType == typeof(Guid))
            {
                Span<byte> bytes = stackalloc byte[16];
                BinaryPrimitives.WriteInt64LittleEndian(bytes, key);
                return new Guid(bytes);
            }
            return _keyType == typeof(string) ? key.ToString(CultureInfo.InvariantCulture)
                : _keyType == typeof(ulong) ? (object)checked((ulong)key)
                : key;
        }

        private static long FromStoreKey(object key) => key switch
        {
            Guid g => BinaryPrimitives.ReadInt64LittleEndian(g.ToByteArray()),
            string s => long.Parse(s, CultureInfo.InvariantCulture),
            ulong u => checked((long)u),
            _ => Convert.ToInt64(key, CultureInfo.InvariantCulture),
        };

        public void Dispose() => Collection.Dispose();
    }
}
