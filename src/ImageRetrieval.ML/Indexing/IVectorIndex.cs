namespace ImageRetrieval.ML.Indexing;

/// <summary>
/// A k-nearest-neighbour index over float32 vectors identified by caller-chosen <see cref="long"/>
/// keys. <see cref="HnswIndex"/> is approximate and fast; <see cref="BruteForceIndex"/> is exact.
/// </summary>
public interface IVectorIndex : IDisposable
{
    /// <summary>Values per vector.</summary>
    int Dimension { get; }

    /// <summary>The distance used to rank results.</summary>
    DistanceMetric Metric { get; }

    /// <summary>Number of live (added and not removed) keys.</summary>
    int Count { get; }

    /// <summary>Whether <paramref name="key"/> is live in the index.</summary>
    /// <param name="key">The key given to <see cref="Add"/>.</param>
    bool Contains(long key);

    /// <summary>Adds a vector under <paramref name="key"/>; adding an existing key replaces its vector (an update).</summary>
    /// <param name="key">Caller's key, returned by searches.</param>
    /// <param name="vector">Exactly <see cref="Dimension"/> finite values; copied.</param>
    /// <exception cref="ArgumentException">The vector has the wrong length, or holds NaN or an infinity.</exception>
    void Add(long key, ReadOnlySpan<float> vector);

    /// <summary>Adds many vectors, in parallel when <paramref name="maxDegreeOfParallelism"/> &gt; 1.</summary>
    /// <param name="items">Keys and vectors (each <see cref="Dimension"/> values).</param>
    /// <param name="maxDegreeOfParallelism">Threads to use; 1 is sequential (and, for HNSW, deterministic). −1 uses every core.</param>
    /// <param name="progress">Receives the number of items added so far, now and then.</param>
    /// <param name="cancellationToken">Stops adding (items already added stay).</param>
    void AddRange(IReadOnlyList<(long Key, ReadOnlyMemory<float> Vector)> items, int maxDegreeOfParallelism = 1,
                  IProgress<int>? progress = null, CancellationToken cancellationToken = default);

    /// <summary>Removes <paramref name="key"/>; it is never returned by a search that starts after this returns.</summary>
    /// <param name="key">The key to remove.</param>
    /// <returns>Whether the key was present.</returns>
    bool Remove(long key);

    /// <summary>The <paramref name="k"/> nearest live keys to <paramref name="query"/>, nearest first (fewer if the index holds fewer).</summary>
    /// <param name="query"><see cref="Dimension"/> values.</param>
    /// <param name="k">Results wanted (≥ 1).</param>
    /// <param name="efSearch">Search breadth (HNSW: the beam width, raised to at least <paramref name="k"/>; ignored by exact indexes). Null uses the index default.</param>
    /// <param name="filter">Only keys for which this returns true are returned (called from the searching thread).</param>
    /// <param name="cancellationToken">Aborts a long search with <see cref="OperationCanceledException"/>.</param>
    SearchHit[] Search(ReadOnlySpan<float> query, int k, int? efSearch = null, Func<long, bool>? filter = null,
                       CancellationToken cancellationToken = default);

    /// <summary>Allocation-free search: fills <paramref name="destination"/> (its length is k) nearest first.</summary>
    /// <param name="query"><see cref="Dimension"/> values.</param>
    /// <param name="destination">Receives up to <c>destination.Length</c> hits.</param>
    /// <param name="efSearch">Search breadth; see <see cref="Search(ReadOnlySpan{float}, int, int?, Func{long, bool}?, CancellationToken)"/>.</param>
    /// <param name="filter">Only keys for which this returns true are returned.</param>
    /// <param name="cancellationToken">Aborts a long search.</param>
    /// <returns>The number of hits written.</returns>
    int Search(ReadOnlySpan<float> query, Span<SearchHit> destination, int? efSearch = null, Func<long, bool>? filter = null,
               CancellationToken cancellationToken = default);
}
