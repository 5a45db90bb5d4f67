namespace ImageRetrieval.ML.Indexing;

/// <summary>
/// Exact k-nearest-neighbour search by scanning every vector (SIMD kernels, several threads for large galleries).
/// For small galleries and for ground truth. Thread safe: searches share a reader lock, writers take it exclusively.
/// </summary>
public sealed unsafe class BruteForceIndex : IVectorIndex
{
    private const int ParallelThreshold = 1 << 20; // floats scanned per query before threads pay off

    private readonly int _dim;
    private readonly DistanceMetric _metric;
    private readonly delegate*<float*, float*, int, float> _distance;
    private readonly int _maxDegreeOfParallelism;
    private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);
    private readonly Dictionary<long, int> _slots = new();
    private float[] _vectors;
    private long[] _keys;
    private int _count;
    private bool _disposed;

    /// <summary>Creates an empty exact index.</summary>
    /// <param name="dimension">Values per vector.</param>
    /// <param name="metric">Distance used to rank results.</param>
    /// <param name="maxDegreeOfParallelism">Threads per large search; −1 uses every core.</param>
    public BruteForceIndex(int dimension, DistanceMetric metric = DistanceMetric.SquaredL2, int maxDegreeOfParallelism = -1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(dimension, 1 << 16);
        if (maxDegreeOfParallelism == 0 || maxDegreeOfParallelism < -1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxDegreeOfParallelism), maxDegreeOfParallelism, "Use −1 (all cores) or a positive thread count.");
        }
        _dim = dimension;
        _metric = metric;
        _distance = VectorDistance.For(metric);
        _maxDegreeOfParallelism = maxDegreeOfParallelism == -1 ? Environment.ProcessorCount : maxDegreeOfParallelism;
        _vectors = new float[16 * dimension];
        _keys = new long[16];
    }

    /// <inheritdoc/>
    public int Dimension => _dim;

    /// <inheritdoc/>
    public DistanceMetric Metric => _metric;

    /// <inheritdoc/>
    public int Count => Volatile.Read(ref _count);

    /// <inheritdoc/>
    public bool Contains(long key)
    {
        _lock.EnterReadLock();
        try
        {
            return _slots.ContainsKey(key);
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    /// <inheritdoc/>
    public void Add(long key, ReadOnlySpan<float> vector)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (vector.Length != _dim)
        {
            throw new ArgumentException($"Vector has {vector.Length} values; the index holds {_dim}-d vectors.", nameof(vector));
        }
        for (int i = 0; i < vector.Length; i++)
        {
            if (!float.IsFinite(vector[i]))
            {
                throw new ArgumentException($"Key {key}: value {i} of the vector is {vector[i]}; vectors must be finite.", nameof(vector));
            }
        }
        _lock.EnterWriteLock();
        try
        {
            if (!_slots.TryGetValue(key, out int slot))
            {
                slot = _count;
                if (slot == _keys.Length)
                {
                    int grown = checked(slot * 2);
                    Array.Resize(ref _keys, grown);
                    Array.Resize(ref _vectors, checked(grown * _dim));
                }
                _keys[slot] = key;
                _slots[key] = slot;
                _count = slot + 1;
            }
            Span<float> dest = _vectors.AsSpan(slot * _dim, _dim);
            vector.CopyTo(dest);
            if (_metric == DistanceMetric.Cosine)
            {
                VectorDistance.Normalize(dest);
            }
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    /// <inheritdoc/>
    public void AddRange(IReadOnlyList<(long Key, ReadOnlyMemory<float> Vector)> items, int maxDegreeOfParallelism = 1,
                         IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        for (int i = 0; i < items.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Add(items[i].Key, items[i].Vector.Span);
        }
        progress?.Report(items.Count);
    }

    /// <inheritdoc/>
    public bool Remove(long key)
    {
        _lock.EnterWriteLock();
        try
        {
            if (!_slots.Remove(key, out int slot))
            {
                return false;
            }
            int last = _count - 1;
            if (slot != last)
            {
                _keys[slot] = _keys[last];
                _slots[_keys[slot]] = slot;
                _vectors.AsSpan(last * _dim, _dim).CopyTo(_vectors.AsSpan(slot * _dim, _dim));
            }
            _count = last;
            return true;
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    /// <inheritdoc/>
    public SearchHit[] Search(ReadOnlySpan<float> query, int k, int? efSearch = null, Func<long, bool>? filter = null,
                              CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        var results = new SearchHit[Math.Min(k, Math.Max(1, Count))];
        int n = Search(query, results, efSearch, filter, cancellationToken);
        return n == results.Length ? results : results[..n];
    }

    /// <inheritdoc/>
    public int Search(ReadOnlySpan<float> query, Span<SearchHit> destination, int? efSearch = null, Func<long, bool>? filter = null,
                      CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (query.Length != _dim)
        {
            throw new ArgumentException($"Query has {query.Length} values; the index holds {_dim}-d vectors.", nameof(query));
        }
        int k = destination.Length;
        if (k == 0)
        {
            return 0;
        }
        float[] q = query.ToArray();
        if (_metric == DistanceMetric.Cosine)
        {
            VectorDistance.Normalize(q);
        }
        _lock.EnterReadLock();
        try
        {
            int count = _count;
            int parts = (long)count * _dim < ParallelThreshold ? 1 : Math.Min(_maxDegreeOfParallelism, count);
            var partial = new TopK[parts];
            if (parts == 1)
            {
                partial[0] = Scan(q, 0, count, k, filter, cancellationToken);
            }
            else
            {
                Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts, CancellationToken = cancellationToken }, p =>
                {
                    int from = (int)((long)count * p / parts), to = (int)((long)count * (p + 1) / parts);
                    partial[p] = Scan(q, from, to, k, filter, cancellationToken);
                });
            }
            var merged = new TopK(k);
            foreach (TopK t in partial)
            {
                for (int i = 0; i < t.Count; i++)
                {
                    merged.Offer(t.Distances[i], t.Slots[i]);
                }
            }
            for (int i = 0; i < merged.Count; i++)
            {
                destination[i] = new SearchHit(_keys[merged.Slots[i]], merged.Distances[i]);
            }
            return merged.Count;
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    /// <summary>
    /// Exact k nearest neighbours of many queries at once (ground truth): queries in blocks against tiles of the
    /// gallery so both stay in cache, blocks spread over <paramref name="maxDegreeOfParallelism"/> threads.
    /// </summary>
    /// <param name="queries">Row-major queries, a whole number of <see cref="Dimension"/>-d vectors.</param>
    /// <param name="k">Neighbours per query.</param>
    /// <param name="maxDegreeOfParallelism">Threads; −1 uses every core.</param>
    /// <param name="cancellationToken">Stops the computation.</param>
    /// <returns>Per query, up to k hits nearest first.</returns>
    public SearchHit[][] SearchBatch(ReadOnlyMemory<float> queries, int k, int maxDegreeOfParallelism = -1, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        if (queries.Length % _dim != 0)
        {
            throw new ArgumentException($"{queries.Length} values are not a whole number of {_dim}-d queries.", nameof(queries));
        }
        int nq = queries.Length / _dim;
        float[] q = queries.ToArray();
        if (_metric == DistanceMetric.Cosine)
        {
            for (int i = 0; i < nq; i++)
            {
                VectorDistance.Normalize(q.AsSpan(i * _dim, _dim));
            }
        }
        const int QueryBlock = 32;
        int tile = Math.Max(16, (256 << 10) / (_dim * sizeof(float)));
        var results = new SearchHit[nq][];
        _lock.EnterReadLock();
        try
        {
            int count = _count;
            int blocks = (nq + QueryBlock - 1) / QueryBlock;
            var options = new ParallelOptions
            {
                MaxDegreeOfParallelism = maxDegreeOfParallelism == -1 ? Environment.ProcessorCount : maxDegreeOfParallelism,
                CancellationToken = cancellationToken,
            };
            Parallel.For(0, blocks, options, b =>
            {
                int first = b * QueryBlock, last = Math.Min(nq, first + QueryBlock);
                var tops = new TopK[last - first];
                for (int i = 0; i < tops.Length; i++)
                {
                    tops[i] = new TopK(k);
                }
                fixed (float* qp = q)
                fixed (float* vp = _vectors)
                {
                    for (int t0 = 0; t0 < count; t0 += tile)
                    {
                        int t1 = Math.Min(count, t0 + tile);
                        for (int i = first; i < last; i++)
                        {
                            float* qi = qp + ((long)i * _dim);
                            TopK top = tops[i - first];
                            for (int s = t0; s < t1; s++)
                            {
                                float d = _distance(qi, vp + ((long)s * _dim), _dim);
                                if (d < top.Worst)
                                {
                                    top.Offer(d, s);
                                }
                            }
                        }
                    }
                }
                for (int i = first; i < last; i++)
                {
                    TopK top = tops[i - first];
                    var hits = new SearchHit[top.Count];
                    for (int j = 0; j < hits.Length; j++)
                    {
                        hits[j] = new SearchHit(_keys[top.Slots[j]], top.Distances[j]);
                    }
                    results[i] = hits;
                }
            });
        }
        finally
        {
            _lock.ExitReadLock();
        }
        return results;
    }

    private TopK Scan(float[] query, int from, int to, int k, Func<long, bool>? filter, CancellationToken token)
    {
        var top = new TopK(k);
        fixed (float* q = query)
        fixed (float* v = _vectors)
        {
            for (int s = from; s < to; s++)
            {
                if ((s & 4095) == 0)
                {
                    token.ThrowIfCancellationRequested();
                }
                float d = _distance(q, v + ((long)s * _dim), _dim);
                if (d < top.Worst && (filter is null || filter(_keys[s])))
                {
                    top.Offer(d, s);
                }
            }
        }
        return top;
    }

    /// <summary>Releases the lock. Do not call while other threads use the index.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _lock.Dispose();
        }
    }

    /// <summary>The k smallest distances seen so far, kept sorted (insertion; k is small).</summary>
    private sealed class TopK(int k)
    {
        public readonly float[] Distances = new float[k];
        public readonly int[] Slots = new int[k];
        public int Count;

        public float Worst => Count < Distances.Length ? float.PositiveInfinity : Distances[Count - 1];

        public void Offer(float d, int slot)
        {
            if (!(d < Worst))
            {
                return;
            }
            int i = Count < Distances.Length ? Count++ : Count - 1;
            while (i > 0 && (Distances[i - 1] > d || (Distances[i - 1] == d && Slots[i - 1] > slot)))
            {
                Distances[i] = Distances[i - 1];
                Slots[i] = Slots[i - 1];
                i--;
            }
            Distances[i] = d;
            Slots[i] = slot;
        }
    }
}
