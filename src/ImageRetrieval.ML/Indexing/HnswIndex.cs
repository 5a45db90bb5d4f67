using System.Collections.Concurrent;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace ImageRetrieval.ML.Indexing;

/// <summary>
/// Hierarchical Navigable Small World graph (Malkov &amp; Yashunin, 2016/2018) in pure C#: approximate
/// k-nearest-neighbour search over float32 vectors.
/// </summary>
/// <remarks>
/// <para>Layout: nodes live in fixed-size chunks that never move once allocated (capacity grows by adding
/// chunks, so searchers never see a reallocation). Per chunk, vectors are one contiguous 64-byte-aligned
/// native block (stride = dimension) and layer-0 links another (stride = 1 + 2·M ints: count, ids);
/// upper layers are one small array per node that has them.</para>
/// <para>Thread safety: every member may be called concurrently, including searches while other threads add
/// or remove. Writers take per-node spin locks (one at a time, so no deadlock) and a global lock only while
/// the entry point is raised; readers take no lock and copy neighbour lists under a per-node sequence number
/// (a seqlock), retrying if a writer was active. See docs/hnsw.md.</para>
/// <para>Removal marks a tombstone: the node is never returned but keeps routing searches. <see cref="Compact"/>
/// reconnects the neighbours of removed nodes and recycles their slots.</para>
/// </remarks>
public sealed unsafe partial class HnswIndex : IVectorIndex
{
    // Node states (Chunk.Flags).
    internal const int Live = 0;
    internal const int Deleted = 1;
    internal const int Free = 2;
    internal const int Building = 3;

    internal const int MaxLevelCap = 31;

    private readonly int _dim;
    private readonly int _m;
    private readonly int _maxM0;
    private readonly int _efConstruction;
    private readonly int _defaultEf;
    private readonly int _seed;
    private readonly double _levelMultiplier;
    private readonly DistanceMetric _metric;
    private readonly delegate*<float*, float*, int, float> _distance;
    private readonly int _chunkShift;
    private readonly int _chunkMask;
    private readonly int _stride0;
    private readonly int _strideUpper;

    private Chunk[] _chunks = [];
    private int _slotCount;
    private int _liveCount;
    private int _deletedCount;
    private long _upperInts;
    private long _entry = -1; // (maxLevel << 32) | entryId, or -1 when empty.

    private readonly object _allocLock = new();
    private readonly object _entryLock = new();
    private readonly Random _levelRandom;
    private readonly ConcurrentDictionary<long, int> _ids = new();
    private readonly Stack<int> _freeSlots = new();
    private readonly ReaderWriterLockSlim _structureLock = new(LockRecursionPolicy.NoRecursion);
    private readonly MappedFile? _mapped;
    private bool _disposed;

    /// <summary>Creates an empty index.</summary>
    /// <param name="dimension">Values per vector (1..65536).</param>
    /// <param name="metric">Distance used to rank results.</param>
    /// <param name="options">Construction parameters; null uses the defaults (M = 16, efConstruction = 200).</param>
    public HnswIndex(int dimension, DistanceMetric metric = DistanceMetric.SquaredL2, HnswOptions? options = null)
        : this(dimension, metric, options ?? new HnswOptions(), mapped: null)
    {
        if (options?.InitialCapacity > 0)
        {
            lock (_allocLock)
            {
                EnsureCapacity(options.InitialCapacity - 1);
            }
        }
    }

    private HnswIndex(int dimension, DistanceMetric metric, HnswOptions options, MappedFile? mapped)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(dimension, 1 << 16);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.M, 2, "options.M");
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.M, 256, "options.M");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.EfConstruction, 1, "options.EfConstruction");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.DefaultEfSearch, 1, "options.DefaultEfSearch");
        ArgumentOutOfRangeException.ThrowIfNegative(options.InitialCapacity, "options.InitialCapacity");
        _dim = dimension;
        _metric = metric;
        _distance = VectorDistance.For(metric);
        _m = options.M;
        _maxM0 = 2 * options.M;
        _efConstruction = Math.Max(options.EfConstruction, options.M);
        _defaultEf = options.DefaultEfSearch;
        _seed = options.Seed;
        _levelMultiplier = 1.0 / Math.Log(options.M);
        _levelRandom = new Random(options.Seed);
        _stride0 = 1 + _maxM0;
        _strideUpper = 1 + _m;
        // Chunks of about 4 MB of vectors, between 256 and 65,536 nodes.
        _chunkShift = Math.Clamp(BitOperations.Log2((uint)Math.Max(1, (4 << 20) / (dimension * sizeof(float)))), 8, 16);
        _chunkMask = (1 << _chunkShift) - 1;
        _mapped = mapped;
    }

    /// <inheritdoc/>
    public int Dimension => _dim;

    /// <inheritdoc/>
    public DistanceMetric Metric => _metric;

    /// <summary>Links per node on the upper layers (layer 0 keeps twice as many).</summary>
    public int M => _m;

    /// <summary>Beam width used while inserting.</summary>
    public int EfConstruction => _efConstruction;

    /// <inheritdoc/>
    public int Count => Volatile.Read(ref _liveCount);

    /// <summary>Removed nodes still held as tombstones (routing only) until <see cref="Compact"/>.</summary>
    public int DeletedCount => Volatile.Read(ref _deletedCount);

    /// <summary>Node slots in use: live, tombstoned and recycled-but-free.</summary>
    public int SlotCount => Volatile.Read(ref _slotCount);

    /// <summary>Whether this index was opened memory-mapped and read-only (<see cref="OpenMapped"/>).</summary>
    public bool IsReadOnly => _mapped is not null;

    /// <summary>Bytes held by the index: allocated chunks (vectors, layer-0 links, per-node fields), upper layers and the key map (an estimate for the map).</summary>
    public long MemoryBytes
    {
        get
        {
            long perNode = (long)_dim * sizeof(float) + (long)_stride0 * sizeof(int) + sizeof(long) + 4 * sizeof(int) + IntPtr.Size;
            long chunks = (long)Volatile.Read(ref _chunks).Length << _chunkShift;
            return chunks * perNode + Interlocked.Read(ref _upperInts) * sizeof(int) + (long)Count * 48;
        }
    }

    /// <summary>Bytes of the payload proper: vectors plus links (layer 0 and upper layers) of every slot in use.</summary>
    public long PayloadBytes =>
        ((long)SlotCount * ((_dim * sizeof(float)) + (_stride0 * sizeof(int)))) + (Interlocked.Read(ref _upperInts) * sizeof(int));

    /// <inheritdoc/>
    public bool Contains(long key) => _ids.ContainsKey(key);

    // ------------------------------------------------------------------ insertion

    /// <inheritdoc/>
    public void Add(long key, ReadOnlySpan<float> vector)
    {
        ThrowIfReadOnly();
        if (vector.Length != _dim)
        {
            throw new ArgumentException($"Vector has {vector.Length} values; the index holds {_dim}-d vectors.", nameof(vector));
        }
        _structureLock.EnterReadLock();
        try
        {
            Insert(key, vector);
        }
        finally
        {
            _structureLock.ExitReadLock();
        }
    }

    /// <inheritdoc/>
    public void AddRange(IReadOnlyList<(long Key, ReadOnlyMemory<float> Vector)> items, int maxDegreeOfParallelism = 1,
                         IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        ThrowIfReadOnly();
        if (maxDegreeOfParallelism == 0 || maxDegreeOfParallelism < -1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxDegreeOfParallelism), maxDegreeOfParallelism, "Use −1 (all cores) or a positive thread count.");
        }
        foreach (var item in items)
        {
            if (item.Vector.Length != _dim)
            {
                throw new ArgumentException($"Key {item.Key}: vector has {item.Vector.Length} values; the index holds {_dim}-d vectors.", nameof(items));
            }
        }
        int done = 0;
        int step = Math.Max(1, items.Count / 100);
        if (maxDegreeOfParallelism == 1)
        {
            for (int i = 0; i < items.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                Add(items[i].Key, items[i].Vector.Span);
                if (++done % step == 0)
                {
                    progress?.Report(done);
                }
            }
        }
        else
        {
            var options = new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism, CancellationToken = cancellationToken };
            Parallel.For(0, items.Count, options, i =>
            {
                Add(items[i].Key, items[i].Vector.Span);
                int d = Interlocked.Increment(ref done);
                if (d % step == 0)
                {
                    progress?.Report(d);
                }
            });
        }
        progress?.Report(done);
    }

    private void Insert(long key, ReadOnlySpan<float> vector)
    {
        SearchContext ctx = SearchContext.Rent();
        try
        {
            int id, level;
            lock (_allocLock)
            {
                if (_ids.TryGetValue(key, out int old))
                {
                    Tombstone(old);
                }
                if (_freeSlots.Count > 0)
                {
                    id = _freeSlots.Pop();
                }
                else
                {
                    id = _slotCount;
                    EnsureCapacity(id);
                    Volatile.Write(ref _slotCount, id + 1);
                }
                level = Math.Min(MaxLevelCap, (int)(-Math.Log(1.0 - _levelRandom.NextDouble()) * _levelMultiplier));
                Chunk c = _chunks[id >> _chunkShift];
                int local = id & _chunkMask;
                Volatile.Write(ref c.Flags[local], Building);
                c.Keys[local] = key;
                _ids[key] = id;
                _liveCount++;
            }

            InitNode(id, level, vector);
            Link(ctx, id, level);

            Chunk chunk = _chunks[id >> _chunkShift];
            Interlocked.CompareExchange(ref chunk.Flags[id & _chunkMask], Live, Building);
        }
        finally
        {
            SearchContext.Return(ctx);
        }
    }

    private void InitNode(int id, int level, ReadOnlySpan<float> vector)
    {
        Chunk c = _chunks[id >> _chunkShift];
        int local = id & _chunkMask;
        var dest = new Span<float>(c.Vectors + (long)local * _dim, _dim);
        vector.CopyTo(dest);
        if (_metric == DistanceMetric.Cosine)
        {
            VectorDistance.Normalize(dest);
        }
        int[]? oldUpper = c.Upper[local];
        if (oldUpper is not null)
        {
            Interlocked.Add(ref _upperInts, -oldUpper.Length);
        }
        int[]? upper = level > 0 ? new int[level * _strideUpper] : null;
        if (upper is not null)
        {
            Interlocked.Add(ref _upperInts, upper.Length);
        }
        LockNode(c, local);
        BeginWrite(c, local);
        c.Links0[(long)local * _stride0] = 0;
        c.Levels[local] = level;
        Volatile.Write(ref c.Upper[local], upper);
        EndWrite(c, local);
        UnlockNode(c, local);
    }

    private void Link(SearchContext ctx, int id, int level)
    {
        long entry = Volatile.Read(ref _entry);
        if (entry == -1)
        {
            lock (_entryLock)
            {
                entry = Volatile.Read(ref _entry);
                if (entry == -1)
                {
                    Volatile.Write(ref _entry, Pack(level, id));
                    return;
                }
            }
        }
        bool holdsEntryLock = false;
        try
        {
            if (level > (int)(entry >> 32))
            {
                Monitor.Enter(_entryLock);
                holdsEntryLock = true;
                entry = Volatile.Read(ref _entry);
                if (level <= (int)(entry >> 32))
                {
                    Monitor.Exit(_entryLock);
                    holdsEntryLock = false;
                }
            }
            int maxLevel = (int)(entry >> 32);
            int cur = (int)entry;
            Chunk[] chunks = Volatile.Read(ref _chunks);
            float* q = VectorPtr(chunks, id);
            ctx.Prepare(_maxM0, _dim, CapacityOf(chunks));
            float curDist = _distance(q, VectorPtr(chunks, cur), _dim);
            for (int l = maxLevel; l > level; l--)
            {
                (cur, curDist) = GreedyStep(ctx, chunks, q, cur, curDist, l);
            }
            for (int l = Math.Min(level, maxLevel); l >= 0; l--)
            {
                SearchLayer(ctx, chunks, q, cur, curDist, l, _efConstruction, id, null, CancellationToken.None, construction: true);
                int found = ctx.DrainResultsAscending();
                if (found == 0)
                {
                    continue;
                }
                cur = ctx.Sorted[0].Id;
                curDist = ctx.Sorted[0].Dist;
                int selected = SelectByHeuristic(chunks, ctx.Sorted.AsSpan(0, found), _m, ctx.Selected);
                Connect(ctx, chunks, id, l, ctx.Selected.AsSpan(0, selected));
            }
            if (holdsEntryLock)
            {
                Volatile.Write(ref _entry, Pack(level, id));
            }
        }
        finally
        {
            if (holdsEntryLock)
            {
                Monitor.Exit(_entryLock);
            }
        }
    }

    /// <summary>Algorithm 4 (simple form, as hnswlib): walking candidates nearest first, keep one unless it is nearer to an already kept neighbour than to the base point.</summary>
    private int SelectByHeuristic(Chunk[] chunks, ReadOnlySpan<Candidate> ascending, int max, Candidate[] selected)
    {
        int count = 0;
        if (ascending.Length <= max)
        {
            ascending.CopyTo(selected);
            return ascending.Length;
        }
        foreach (Candidate c in ascending)
        {
            if (count >= max)
            {
                break;
            }
            float* v = VectorPtr(chunks, c.Id);
            bool good = true;
            for (int j = 0; j < count; j++)
            {
                if (_distance(v, VectorPtr(chunks, selected[j].Id), _dim) < c.Dist)
                {
                    good = false;
                    break;
                }
            }
            if (good)
            {
                selected[count++] = c;
            }
        }
        return count;
    }

    /// <summary>Writes the new node's links at <paramref name="level"/> and adds it to each chosen neighbour's list (pruning a full list with the heuristic). One node lock at a time.</summary>
    private void Connect(SearchContext ctx, Chunk[] chunks, int id, int level, ReadOnlySpan<Candidate> selected)
    {
        int max = level == 0 ? _maxM0 : _m;
        // The new node's own list: other inserts may already have linked to it at this level; merge.
        {
            Chunk c = chunks[id >> _chunkShift];
            int local = id & _chunkMask;
            LockNode(c, local);
            Span<int> list = ListSpan(c, local, level);
            int existing = list[0];
            Span<Candidate> merged = ctx.Merge.AsSpan(0, existing + selected.Length);
            selected.CopyTo(merged);
            int n = selected.Length;
            float* v = VectorPtr(chunks, id);
            for (int j = 0; j < existing; j++)
            {
                int other = list[1 + j];
                if (!ContainsId(merged[..n], other))
                {
                    merged[n++] = new Candidate(_distance(v, VectorPtr(chunks, other), _dim), other);
                }
            }
            merged = merged[..n];
            if (n > max)
            {
                merged.Sort(static (a, b) => a.Dist.CompareTo(b.Dist));
                n = SelectByHeuristic(chunks, merged, max, ctx.Selected2);
                merged = ctx.Selected2.AsSpan(0, n);
            }
            BeginWrite(c, local);
            for (int j = 0; j < n; j++)
            {
                list[1 + j] = merged[j].Id;
            }
            list[0] = n;
            EndWrite(c, local);
            UnlockNode(c, local);
        }

        foreach (Candidate s in selected)
        {
            Chunk c = chunks[s.Id >> _chunkShift];
            int local = s.Id & _chunkMask;
            if (level > 0 && (Volatile.Read(ref c.Upper[local])?.Length ?? 0) < level * _strideUpper)
            {
                continue;
            }
            LockNode(c, local);
            Span<int> list = ListSpan(c, local, level);
            int n = list[0];
            if (list.Slice(1, n).Contains(id))
            {
                UnlockNode(c, local);
                continue;
            }
            if (n < max)
            {
                BeginWrite(c, local);
                list[1 + n] = id;
                list[0] = n + 1;
                EndWrite(c, local);
            }
            else
            {
                float* v = VectorPtr(chunks, s.Id);
                Span<Candidate> cands = ctx.Merge.AsSpan(0, n + 1);
                for (int j = 0; j < n; j++)
                {
                    cands[j] = new Candidate(_distance(v, VectorPtr(chunks, list[1 + j]), _dim), list[1 + j]);
                }
                cands[n] = new Candidate(s.Dist, id);
                cands.Sort(static (a, b) => a.Dist.CompareTo(b.Dist));
                int kept = SelectByHeuristic(chunks, cands, max, ctx.Selected2);
                BeginWrite(c, local);
                for (int j = 0; j < kept; j++)
                {
                    list[1 + j] = ctx.Selected2[j].Id;
                }
                list[0] = kept;
                EndWrite(c, local);
            }
            UnlockNode(c, local);
        }
    }

    private static bool ContainsId(ReadOnlySpan<Candidate> span, int id)
    {
        foreach (Candidate c in span)
        {
            if (c.Id == id)
            {
                return true;
            }
        }
        return false;
    }

    // ------------------------------------------------------------------ removal

    /// <inheritdoc/>
    public bool Remove(long key)
    {
        ThrowIfReadOnly();
        lock (_allocLock)
        {
            if (!_ids.TryGetValue(key, out int id))
            {
                return false;
            }
            Tombstone(id);
            return true;
        }
    }

    /// <summary>Caller holds <see cref="_allocLock"/>.</summary>
    private void Tombstone(int id)
    {
        Chunk c = _chunks[id >> _chunkShift];
        int local = id & _chunkMask;
        _ids.TryRemove(c.Keys[local], out _);
        Interlocked.Exchange(ref c.Flags[local], Deleted);
        _liveCount--;
        _deletedCount++;
    }

    /// <summary>
    /// Reconnects around every removed node and recycles their slots: each live node that links to a removed one
    /// replaces it with that node's live neighbours, re-pruned with the heuristic; the entry point moves off a removed
    /// node. Costs about (nodes with a removed neighbour) × 2M × M distance evaluations. Blocks writers, not searchers.
    /// </summary>
    /// <returns>The number of slots recycled.</returns>
    public int Compact()
    {
        ThrowIfReadOnly();
        _structureLock.EnterWriteLock();
        SearchContext ctx = SearchContext.Rent();
        try
        {
            Chunk[] chunks = _chunks;
            int slots = _slotCount;
            if (_deletedCount == 0)
            {
                return 0;
            }
            ctx.Prepare(_maxM0, _dim, CapacityOf(chunks));
            Span<int> neighbours = stackalloc int[_maxM0];
            for (int id = 0; id < slots; id++)
            {
                Chunk c = chunks[id >> _chunkShift];
                int local = id & _chunkMask;
                if (c.Flags[local] != Live)
                {
                    continue;
                }
                int levels = c.Levels[local];
                float* v = VectorPtr(chunks, id);
                for (int level = 0; level <= levels; level++)
                {
                    int max = level == 0 ? _maxM0 : _m;
                    Span<int> list = ListSpan(c, local, level);
                    int n = list[0];
                    bool any = false;
                    for (int j = 0; j < n && !any; j++)
                    {
                        any = FlagOf(chunks, list[1 + j]) != Live;
                    }
                    if (!any)
                    {
                        continue;
                    }
                    // Candidates: live neighbours, plus the live neighbours of removed neighbours (one hop).
                    int count = 0;
                    Candidate[] cands = ctx.Merge;
                    for (int j = 0; j < n; j++)
                    {
                        int other = list[1 + j];
                        if (FlagOf(chunks, other) == Live)
                        {
                            AddCandidate(cands, ref count, other, v, chunks);
                            continue;
                        }
                        Chunk oc = chunks[other >> _chunkShift];
                        int oLocal = other & _chunkMask;
                        if (oc.Levels[oLocal] < level)
                        {
                            continue;
                        }
                        Span<int> olist = ListSpan(oc, oLocal, level);
                        for (int t = 0; t < olist[0]; t++)
                        {
                            int hop = olist[1 + t];
                            if (hop != id && FlagOf(chunks, hop) == Live)
                            {
                                AddCandidate(cands, ref count, hop, v, chunks);
                            }
                        }
                    }
                    Span<Candidate> span = cands.AsSpan(0, count);
                    span.Sort(static (a, b) => a.Dist.CompareTo(b.Dist));
                    int kept = SelectByHeuristic(chunks, span, max, ctx.Selected2);
                    LockNode(c, local);
                    BeginWrite(c, local);
                    for (int j = 0; j < kept; j++)
                    {
                        list[1 + j] = ctx.Selected2[j].Id;
                    }
                    list[0] = kept;
                    EndWrite(c, local);
                    UnlockNode(c, local);
                }
            }

            // Entry point: the live node with the highest level.
            long entry = _entry;
            if (entry != -1 && FlagOf(chunks, (int)entry) != Live)
            {
                int best = -1, bestLevel = -1;
                for (int id = 0; id < slots; id++)
                {
                    Chunk c = chunks[id >> _chunkShift];
                    int local = id & _chunkMask;
                    if (c.Flags[local] == Live && c.Levels[local] > bestLevel)
                    {
                        best = id;
                        bestLevel = c.Levels[local];
                    }
                }
                Volatile.Write(ref _entry, best < 0 ? -1 : Pack(bestLevel, best));
            }

            int recycled = 0;
            lock (_allocLock)
            {
                for (int id = slots - 1; id >= 0; id--)
                {
                    Chunk c = chunks[id >> _chunkShift];
                    int local = id & _chunkMask;
                    if (c.Flags[local] == Deleted)
                    {
                        // Searchers already standing on it still read a valid (now empty) list.
                        LockNode(c, local);
                        BeginWrite(c, local);
                        c.Links0[(long)local * _stride0] = 0;
                        int[]? upper = c.Upper[local];
                        if (upper is not null)
                        {
                            for (int l = 0; l < c.Levels[local]; l++)
                            {
                                upper[l * _strideUpper] = 0;
                            }
                        }
                        EndWrite(c, local);
                        UnlockNode(c, local);
                        c.Flags[local] = Free;
                        _freeSlots.Push(id);
                        recycled++;
                    }
                }
                _deletedCount = 0;
            }
            return recycled;
        }
        finally
        {
            SearchContext.Return(ctx);
            _structureLock.ExitWriteLock();
        }
    }

    private void AddCandidate(Candidate[] cands, ref int count, int id, float* v, Chunk[] chunks)
    {
        for (int i = 0; i < count; i++)
        {
            if (cands[i].Id == id)
            {
                return;
            }
        }
        if (count < cands.Length)
        {
            cands[count++] = new Candidate(_distance(v, VectorPtr(chunks, id), _dim), id);
        }
    }

    // ------------------------------------------------------------------ search

    /// <inheritdoc/>
    public SearchHit[] Search(ReadOnlySpan<float> query, int k, int? efSearch = null, Func<long, bool>? filter = null,
                              CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        int capacity = Math.Min(k, Math.Max(Count, 0));
        if (capacity == 0)
        {
            ValidateQuery(query);
            return [];
        }
        var results = new SearchHit[k];
        int n = Search(query, results, efSearch, filter, cancellationToken);
        return n == k ? results : results[..n];
    }

    /// <inheritdoc/>
    public int Search(ReadOnlySpan<float> query, Span<SearchHit> destination, int? efSearch = null, Func<long, bool>? filter = null,
                      CancellationToken cancellationToken = default)
    {
        ValidateQuery(query);
        ObjectDisposedException.ThrowIf(_disposed, this);
        int k = destination.Length;
        if (k == 0)
        {
            return 0;
        }
        int ef = Math.Max(efSearch ?? _defaultEf, k);
        if (efSearch is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(efSearch), efSearch, "efSearch must be at least 1.");
        }
        long entry = Volatile.Read(ref _entry);
        if (entry == -1)
        {
            return 0;
        }
        SearchContext ctx = SearchContext.Rent();
        try
        {
            Chunk[] chunks = Volatile.Read(ref _chunks);
            ctx.Prepare(_maxM0, _dim, CapacityOf(chunks));
            float[] qbuf = ctx.Query;
            query.CopyTo(qbuf);
            if (_metric == DistanceMetric.Cosine)
            {
                VectorDistance.Normalize(qbuf.AsSpan(0, _dim));
            }
            fixed (float* q = qbuf)
            {
                int cur = (int)entry;
                float curDist = _distance(q, VectorPtr(chunks, cur), _dim);
                for (int l = (int)(entry >> 32); l > 0; l--)
                {
                    (cur, curDist) = GreedyStep(ctx, chunks, q, cur, curDist, l);
                }
                SearchLayer(ctx, chunks, q, cur, curDist, 0, ef, -1, filter, cancellationToken, construction: false);
            }
            int found = ctx.DrainResultsAscending();
            int n = Math.Min(found, k);
            for (int i = 0; i < n; i++)
            {
                Candidate c = ctx.Sorted[i];
                destination[i] = new SearchHit(chunks[c.Id >> _chunkShift].Keys[c.Id & _chunkMask], c.Dist);
            }
            return n;
        }
        finally
        {
            SearchContext.Return(ctx);
        }
    }

    private void ValidateQuery(ReadOnlySpan<float> query)
    {
        if (query.Length != _dim)
        {
            throw new ArgumentException($"Query has {query.Length} values; the index holds {_dim}-d vectors.", nameof(query));
        }
    }

    /// <summary>Greedy descent on one upper layer: move to the nearest neighbour until none is nearer.</summary>
    private (int, float) GreedyStep(SearchContext ctx, Chunk[] chunks, float* q, int cur, float curDist, int level)
    {
        int limit = ctx.Limit;
        Span<int> buf = ctx.Links;
        bool changed = true;
        while (changed)
        {
            changed = false;
            int n = ReadLinks(chunks, cur, level, buf);
            for (int j = 0; j < n; j++)
            {
                int cand = buf[j];
                if ((uint)cand >= (uint)limit)
                {
                    continue;
                }
                float d = _distance(q, VectorPtr(chunks, cand), _dim);
                if (d < curDist)
                {
                    curDist = d;
                    cur = cand;
                    changed = true;
                }
            }
        }
        return (cur, curDist);
    }

    /// <summary>
    /// Beam search on one layer (Algorithm 2). Every reached node routes; only acceptable nodes (live, passing the
    /// filter; everything during construction) enter the result heap of size <paramref name="ef"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void SearchLayer(SearchContext ctx, Chunk[] chunks, float* q, int entry, float entryDist, int level, int ef,
                             int exclude, Func<long, bool>? filter, CancellationToken token, bool construction)
    {
        uint[] visited = ctx.Visited;
        uint stamp = ctx.NextStamp();
        int limit = ctx.Limit;
        Span<int> buf = ctx.Links;
        CandidateHeap candidates = ctx.Candidates; // max-heap on −distance: nearest on top
        CandidateHeap results = ctx.Results;       // max-heap on distance: farthest on top
        candidates.Clear();
        results.Clear();
        if (exclude >= 0)
        {
            visited[exclude] = stamp;
        }
        visited[entry] = stamp;
        candidates.Push(-entryDist, entry);
        float bound = float.MaxValue;
        if (construction || Acceptable(chunks, entry, filter))
        {
            results.Push(entryDist, entry);
            bound = entryDist;
        }
        int shift = _chunkShift, mask = _chunkMask, dim = _dim;
        int steps = 0;
        while (candidates.Count > 0)
        {
            Candidate top = candidates.Top;
            if (-top.Dist > bound && results.Count >= ef)
            {
                break;
            }
            candidates.Pop();
            if ((++steps & 63) == 0)
            {
                token.ThrowIfCancellationRequested();
            }
            int n = ReadLinks(chunks, top.Id, level, buf);
            for (int j = 0; j < n; j++)
            {
                int next = buf[j];
                if ((uint)next >= (uint)limit || visited[next] == stamp)
                {
                    continue;
                }
                visited[next] = stamp;
                if (Sse.IsSupported && j + 1 < n && (uint)buf[j + 1] < (uint)limit)
                {
                    int p = buf[j + 1];
                    Sse.Prefetch0(chunks[p >> shift].Vectors + (long)(p & mask) * dim);
                }
                float d = _distance(q, chunks[next >> shift].Vectors + (long)(next & mask) * dim, dim);
                if (results.Count < ef || d < bound)
                {
                    candidates.Push(-d, next);
                    if (construction || Acceptable(chunks, next, filter))
                    {
                        results.Push(d, next);
                        if (results.Count > ef)
                        {
                            results.Pop();
                        }
                        bound = results.Top.Dist;
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Acceptable(Chunk[] chunks, int id, Func<long, bool>? filter)
    {
        Chunk c = chunks[id >> _chunkShift];
        int local = id & _chunkMask;
        // Flags before key: a slot being recycled holds Free/Building until its new key is written.
        if (Volatile.Read(ref c.Flags[local]) != Live)
        {
            return false;
        }
        return filter is null || filter(c.Keys[local]);
    }

    // ------------------------------------------------------------------ layout helpers

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private float* VectorPtr(Chunk[] chunks, int id) => chunks[id >> _chunkShift].Vectors + (long)(id & _chunkMask) * _dim;

    private int FlagOf(Chunk[] chunks, int id) => Volatile.Read(ref chunks[id >> _chunkShift].Flags[id & _chunkMask]);

    private int CapacityOf(Chunk[] chunks) => chunks.Length << _chunkShift;

    private static long Pack(int level, int id) => ((long)level << 32) | (uint)id;

    /// <summary>The raw list [count, ids…] of a node at a level (writers, under the node lock).</summary>
    private Span<int> ListSpan(Chunk c, int local, int level) => level == 0
        ? new Span<int>(c.Links0 + (long)local * _stride0, _stride0)
        : c.Upper[local].AsSpan((level - 1) * _strideUpper, _strideUpper);

    /// <summary>Reader side of the seqlock: copies a consistent snapshot of a neighbour list into <paramref name="buf"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int ReadLinks(Chunk[] chunks, int id, int level, Span<int> buf)
    {
        Chunk c = chunks[id >> _chunkShift];
        int local = id & _chunkMask;
        ref int version = ref c.Versions[local];
        int max;
        int* list;
        int[]? upper = null;
        if (level == 0)
        {
            list = c.Links0 + (long)local * _stride0;
            max = _maxM0;
        }
        else
        {
            upper = Volatile.Read(ref c.Upper[local]);
            if (upper is null || upper.Length < level * _strideUpper)
            {
                return 0;
            }
            list = null;
            max = _m;
        }
        var spin = default(SpinWait);
        while (true)
        {
            int v1 = Volatile.Read(ref version);
            if ((v1 & 1) == 0)
            {
                int n;
                if (upper is null)
                {
                    n = (int)Math.Min((uint)list[0], (uint)max);
                    new ReadOnlySpan<int>(list + 1, n).CopyTo(buf);
                }
                else
                {
                    int offset = (level - 1) * _strideUpper;
                    n = (int)Math.Min((uint)upper[offset], (uint)max);
                    upper.AsSpan(offset + 1, n).CopyTo(buf);
                }
                Interlocked.MemoryBarrier();
                if (Volatile.Read(ref version) == v1)
                {
                    return n;
                }
            }
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    private static void LockNode(Chunk c, int local)
    {
        ref int l = ref c.Locks[local];
        if (Interlocked.CompareExchange(ref l, 1, 0) == 0)
        {
            return;
        }
        var spin = default(SpinWait);
        while (Volatile.Read(ref l) != 0 || Interlocked.CompareExchange(ref l, 1, 0) != 0)
        {
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    private static void UnlockNode(Chunk c, int local) => Volatile.Write(ref c.Locks[local], 0);

    /// <summary>Writer side of the seqlock (caller holds the node lock): version becomes odd, with a full fence before the data stores.</summary>
    private static void BeginWrite(Chunk c, int local) => Interlocked.Increment(ref c.Versions[local]);

    private static void EndWrite(Chunk c, int local) => Volatile.Write(ref c.Versions[local], c.Versions[local] + 1);

    /// <summary>Caller holds <see cref="_allocLock"/>. Adds chunks (never moves existing ones) so that <paramref name="id"/> fits, then publishes the new directory.</summary>
    private void EnsureCapacity(int id)
    {
        Chunk[] chunks = _chunks;
        int needed = (id >> _chunkShift) + 1;
        if (needed <= chunks.Length)
        {
            return;
        }
        var grown = new Chunk[needed];
        chunks.CopyTo(grown, 0);
        for (int i = chunks.Length; i < needed; i++)
        {
            grown[i] = Chunk.Allocate(1 << _chunkShift, _dim, _stride0);
        }
        Volatile.Write(ref _chunks, grown);
    }

    private void ThrowIfReadOnly()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_mapped is not null)
        {
            throw new NotSupportedException("This index was opened memory-mapped and is read-only; Load it to modify it.");
        }
    }

    /// <summary>Frees the native vector and link blocks (or unmaps the file). Do not call while other threads use the index.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        foreach (Chunk c in _chunks)
        {
            c.Dispose();
        }
        _mapped?.Dispose();
        _structureLock.Dispose();
        GC.SuppressFinalize(this);
    }

    // ------------------------------------------------------------------ types

    [StructLayout(LayoutKind.Sequential)]
    internal readonly record struct Candidate(float Dist, int Id);

    /// <summary>One fixed-size block of nodes. Vectors and layer-0 links are native, 64-byte aligned; never moved.</summary>
    internal sealed class Chunk : IDisposable
    {
        public float* Vectors;
        public int* Links0;
        public long[] Keys = [];
        public int[] Levels = [];
        public int[] Flags = [];
        public int[] Versions = [];
        public int[] Locks = [];
        public int[]?[] Upper = [];
        private void* _owned0;
        private void* _owned1;

        public static Chunk Allocate(int size, int dim, int stride0)
        {
            var c = new Chunk();
            c._owned0 = NativeMemory.AlignedAlloc((nuint)((long)size * dim * sizeof(float)), 64);
            c._owned1 = NativeMemory.AlignedAlloc((nuint)((long)size * stride0 * sizeof(int)), 64);
            c.Vectors = (float*)c._owned0;
            c.Links0 = (int*)c._owned1;
            new Span<int>(c.Links0, size * stride0).Clear();
            c.InitManaged(size);
            return c;
        }

        /// <summary>A chunk whose vectors and links live in a memory-mapped file (not owned).</summary>
        public static Chunk Mapped(float* vectors, int* links0, int size)
        {
            var c = new Chunk { Vectors = vectors, Links0 = links0 };
            c.InitManaged(size);
            return c;
        }

        private void InitManaged(int size)
        {
            Keys = new long[size];
            Levels = new int[size];
            Flags = new int[size];
            Flags.AsSpan().Fill(Free);
            Versions = new int[size];
            Locks = new int[size];
            Upper = new int[]?[size];
        }

        public void Dispose()
        {
            if (_owned0 is not null)
            {
                NativeMemory.AlignedFree(_owned0);
                _owned0 = null;
            }
            if (_owned1 is not null)
            {
                NativeMemory.AlignedFree(_owned1);
                _owned1 = null;
            }
            Vectors = null;
            Links0 = null;
            GC.SuppressFinalize(this);
        }

        ~Chunk()
        {
            Dispose();
        }
    }
}
