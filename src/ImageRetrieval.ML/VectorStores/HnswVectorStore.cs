using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using ImageRetrieval.ML.Search;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.VectorData;

namespace ImageRetrieval.ML.VectorStores;

/// <summary>
/// A VectorData store whose collections are ImageRetrieval HNSW indexes, kept in memory or, with
/// <see cref="HnswVectorStoreOptions.Directory"/>, in one crash-safe index directory per collection
/// (<c>DIR/&lt;collection&gt;/CURRENT</c> and immutable version folders).
/// </summary>
/// <remarks>
/// Use one store per directory in a process (register it as a singleton); collections obtained from it with the same
/// name share their records. <see cref="Dispose"/> waits for operations in flight and closes every collection (a
/// persistent store has already saved every acknowledged write unless <see cref="HnswVectorStoreOptions.SaveOnEveryWrite"/>
/// is off, in which case call <see cref="SaveAllAsync"/> first).
/// </remarks>
public sealed partial class HnswVectorStore : VectorStore
{
    /// <summary>The name this provider reports in <see cref="VectorStoreMetadata.VectorStoreSystemName"/>.</summary>
    public const string SystemName = "imageretrieval-hnsw";

    private readonly Dictionary<string, CollectionStorage> _open = new(StringComparer.Ordinal);
    private readonly Lock _sync = new();
    private readonly VectorStoreMetadata _metadata;
    private readonly HnswStoreSettings _settings;
    private readonly ILogger _logger;
    private bool _disposed;

    /// <summary>Creates a store; with a directory, existing collections there are opened on first use.</summary>
    public HnswVectorStore(HnswVectorStoreOptions? options = null)
    {
        Options = options ?? new HnswVectorStoreOptions();
        ArgumentOutOfRangeException.ThrowIfNegative(Options.ExactFilteredSearchThreshold, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(Options.IndexingThreads, 1, nameof(options));
        ArgumentNullException.ThrowIfNull(Options.Hnsw, nameof(options));
        if (Options.Directory is not null)
        {
            System.IO.Directory.CreateDirectory(Options.Directory);
        }
        _settings = new HnswStoreSettings(Options.Hnsw, Options.SaveOnEveryWrite, Options.ExactFilteredSearchThreshold, Options.IndexingThreads);
        _logger = Options.LoggerFactory?.CreateLogger<HnswVectorStore>() ?? NullLogger<HnswVectorStore>.Instance;
        _metadata = new VectorStoreMetadata { VectorStoreSystemName = SystemName, VectorStoreName = Options.Directory };
    }

    /// <summary>The options the store was created with.</summary>
    public HnswVectorStoreOptions Options { get; }

    /// <inheritdoc />
    [RequiresUnreferencedCode("The HNSW provider maps records by reflection over the record type and is not trim-safe.")]
    [RequiresDynamicCode("The HNSW provider maps records by reflection over the record type and is not AOT-safe.")]
    public override VectorStoreCollection<TKey, TRecord> GetCollection<TKey, TRecord>(string name, VectorStoreCollectionDefinition? definition = null) =>
        new HnswCollection<TKey, TRecord>(this, name, HnswCollection<TKey, TRecord>.BuildModel(
            definition is null ? null : new HnswCollectionOptions { Definition = definition }, Options.EmbeddingGenerator));

    /// <inheritdoc />
    /// <remarks>Dynamic records need no reflection over a record type: unlike <see cref="GetCollection{TKey, TRecord}"/>, this is
    /// trim- and AOT-safe (checked by the trim and AOT analyzers the package builds with).</remarks>
    public override VectorStoreCollection<object, Dictionary<string, object?>> GetDynamicCollection(string name, VectorStoreCollectionDefinition definition) =>
        new HnswDynamicCollection(this, name, definition);

    /// <inheritdoc />
    public override async IAsyncEnumerable<string> ListCollectionNamesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        lock (_sync)
        {
            names.UnionWith(_open.Keys);
        }
        if (Options.Directory is not null)
        {
            foreach (string dir in System.IO.Directory.EnumerateDirectories(Options.Directory))
            {
                if (File.Exists(Path.Combine(dir, IndexDirectory.CurrentFileName)))
                {
                    names.Add(Path.GetFileName(dir));
                }
            }
        }
        foreach (string name in names)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return name;
        }
        await Task.CompletedTask.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override Task<bool> CollectionExistsAsync(string name, CancellationToken cancellationToken = default)
    {
        ValidateName(name);
        return Task.FromResult(CollectionExists(name));
    }

    /// <inheritdoc />
    public override Task EnsureCollectionDeletedAsync(string name, CancellationToken cancellationToken = default)
    {
        ValidateName(name);
        DeleteCollection(name);
        return Task.CompletedTask;
    }

    /// <summary>Saves every open collection now (needed only when <see cref="HnswVectorStoreOptions.SaveOnEveryWrite"/> is off).</summary>
    public Task SaveAllAsync(CancellationToken cancellationToken = default)
    {
        List<CollectionStorage> open;
        lock (_sync)
        {
            open = [.. _open.Values];
        }
        foreach (CollectionStorage storage in open)
        {
            cancellationToken.ThrowIfCancellationRequested();
            storage.Save();
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public override object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(VectorStoreMetadata) ? _metadata
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            List<CollectionStorage> open;
            lock (_sync)
            {
                _disposed = true;
                open = [.. _open.Values];
                _open.Clear();
            }
            foreach (CollectionStorage storage in open)
            {
                storage.Dispose();
            }
        }
        base.Dispose(disposing);
    }

    /// <exception cref="ArgumentException">The name cannot be a folder name.</exception>
    internal static void ValidateName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Length > 128 || !CollectionName().IsMatch(name) || name is "." or "..")
        {
            throw new ArgumentException($"Collection name '{name}' is not valid: use 1-128 letters, digits, '-', '_' or '.', not starting with '.'.", nameof(name));
        }
    }

    [GeneratedRegex("^[A-Za-z0-9_-][A-Za-z0-9_.-]*\\z", RegexOptions.CultureInvariant)]
    private static partial Regex CollectionName();

    private string? FolderOf(string name) => Options.Directory is null ? null : Path.Combine(Options.Directory, name);

    internal bool CollectionExists(string name)
    {
        lock (_sync)
        {
            return _open.ContainsKey(name) || (FolderOf(name) is string folder && File.Exists(Path.Combine(folder, IndexDirectory.CurrentFileName)));
        }
    }

    /// <summary>The open collection, opened from disk if it exists there; null if it does not exist.</summary>
    internal CollectionStorage? TryGetStorage(string name, CollectionSchema schema)
    {
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_open.TryGetValue(name, out CollectionStorage? storage))
            {
                CheckSameSchema(storage, schema);
                return storage;
            }
            if (FolderOf(name) is string folder && File.Exists(Path.Combine(folder, IndexDirectory.CurrentFileName)))
            {
                storage = CollectionStorage.Open(name, schema, folder, _settings, _logger);
                _open[name] = storage;
                Log.Opened(_logger, name, storage.Count, folder);
                return storage;
            }
            return null;
        }
    }

    /// <summary>The open collection of that name, if any (for the benchmarks).</summary>
    internal CollectionStorage? OpenCollection(string name)
    {
        lock (_sync)
        {
            return _open.GetValueOrDefault(name);
        }
    }

    internal CollectionStorage GetOrCreateStorage(string name, CollectionSchema schema)
    {
        lock (_sync)
        {
            if (TryGetStorage(name, schema) is CollectionStorage existing)
            {
                return existing;
            }
            var storage = CollectionStorage.Create(name, schema, FolderOf(name), _settings, _logger);
            _open[name] = storage;
            return storage;
        }
    }

    internal void DeleteCollection(string name)
    {
        CollectionStorage? storage;
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _open.Remove(name, out storage);
            storage?.Dispose();
            if (FolderOf(name) is string folder && System.IO.Directory.Exists(folder))
            {
                // CURRENT first: a crash part-way leaves a folder that is no longer a collection, never half of one.
                File.Delete(Path.Combine(folder, IndexDirectory.CurrentFileName));
                System.IO.Directory.Delete(folder, recursive: true);
            }
        }
    }

    private static void CheckSameSchema(CollectionStorage storage, CollectionSchema schema)
    {
        if (!storage.Schema.KeyType.Equals(schema.KeyType) || !storage.Schema.Data.SequenceEqual(schema.Data) || !storage.Schema.Vectors.SequenceEqual(schema.Vectors))
        {
            throw new InvalidOperationException(
                $"Collection '{storage.Name}' is open with another record shape (key {storage.Schema.KeyType.Name}, {storage.Schema.Data.Count} data and {storage.Schema.Vectors.Count} vector properties); " +
                "every collection object of one name must describe the same record.");
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 21, Level = LogLevel.Information, Message = "Opened collection '{Collection}': {Count} records from '{Directory}'.")]
        public static partial void Opened(ILogger logger, string collection, int count, string directory);
    }
}
