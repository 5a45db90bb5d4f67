using System.Collections.Concurrent;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ImageRetrieval.ML.Indexing;

/// <summary>
/// Hierarchical Navigable Small World graph (Malkov &amp; Yashunin, 2016/2018) in pure C#: approximate
/// k-nearest-neighbour search over float32 vectors, stored as float32, float16 or int8 (<see cref="HnswOptions.VectorType"/>).
/// </summary>
/// <remarks>
/// <para>Layout: nodes live in fixed-size chunks that never move once allocated (capacity grows by adding
/// chunks, so searchers never see a reallocation). Per chunk, vectors are one contiguous 64-byte-aligned
/// native block in their stored form (stride = <see cref="BytesPerVector"/>) and layer-0 links another (stride = 1 + 2·M ints: count, ids);
/// upper layers are one small array per node that has them.</para>
/// <para>Thread safety: every member may be called concurrently, including searches while other threads add,
/// remove or compact. Writers take per-node spin locks (one at a time, so no deadlock) and a global lock only while
/// the entry point is raised; readers take no lock and copy neighbour lists under a per-node sequence number
/// (a seqlock), retrying if a writer was active. Slots freed by compaction are reused only after every search that
/// could still stand on them has finished (epoch-based reclamation). See docs/hnsw.md.</para>
/// <para>Removal marks a tombstone: the node is never returned but keeps routing searches. <see cref="Compact"/>
/// reconnects the neighbours of removed nodes and recycles their slots; it runs by itself once tombstones exceed
/// <see cref="HnswOptions.CompactionThreshold"/> of the graph.</para>
/// <para>Connectivity: every node on layer 0 has a parent whose list links to it, and pruning never drops a
/// parent's link to its child, so every node stays reachable from the entry point (a tree of such links spans the
/// graph); exact duplicate vectors fill at most a quarter of a neighbour list, so a crowd of copies of one image
/// cannot wall a region of the graph off from the rest.</para>
/// </remarks>
public sealed unsafe partial class HnswIndex : IVectorIndex
{
    // Node states (Chunk.Flags).
    internal const int Live = 0;
    internal const int Deleted = 1;
    internal const int Free = 2;
    internal const int Building = 3;
    internal const int Retired = 4;

    internal const int MaxLevelCap = 31;

    // Automatic compaction waits for at least this many tombstones (tiny indexes would otherwise compact per removal).
    private const int MinTombstonesToCompact = 8;

    // Pruning factor when compaction re-selects a list (1 = the HNSW heuristic).
    private const float RepairAlpha = 1.2f;

    private readonly int _dim;
    private readonly int _m;
    private readonly int _maxM0;
    private readonly int _efConstruction;
    private readonly int _defaultEf;
    private readonly int _seed;
    private readonly double _levelMultiplier;
    private readonly double _compactionThreshold;
    private readonly DistanceMetric _metric;
    private readonly VectorType _vectorType;
    private readonly int _vectorBytes;    // bytes per stored vector (stride of the vector block)
    private readonly int _queryBytes;     // bytes of a prepared query
    // Distance between two stored vectors (inserts, neighbour selection, compaction) …
    private readonly delegate*<byte*, byte*, int, float> _distance;
    // … and between a prepared query (float32) and a stored vector (searches): asymmetric for float16 and int8.
    private readonly delegate*<byte*, byte*, int, float> _queryDistance;
    private readonly int _chunkShift;
    private readonly int _chunkMask;
    private readonly int _stride0;
    private readonly int _strideUpper;

    private Chunk[] _chunks = [];
    private int _slotCount;
    private int _liveCount;
    private int _deletedCount;
    private int _retiredCount;
    private long _upperInts;
    private long _entry = -1; // (maxLevel << 32) | entryId, or -1 when empty.
    private bool _everRemoved;
    // Cache lines of a vector prefetched before its distance is computed: the whole vector, up to 2 KB. Measured on the
    // search loop (docs/benchmarks.md, issue 20): at 128-d float32 whole vectors (8 lines) beat 2 and 4 lines, and at 512-d
    // float32 whole vectors (32 lines) beat 4, 8 and 16; larger vectors (not measured) get their first 32 lines.
    private const int MaxPrefetchLines = 32;
    private readonly int _prefetchLines; // the stored vector's cache lines, at most MaxPrefetchLines

    private readonly object _allocLock = new();
    private readonly object _entryLock = new();
    private readonly Random _levelRandom;
    private readonly ConcurrentDictionary<long, int> _ids = new();
    private readonly Stack<int> _freeSlots = new();
    // Slots compacted away, with the epoch after which no search can reach them (under _allocLock).
    private readonly Queue<(long Epoch, int[] Slots)> _limbo = new();
    private readonly ReaderWriterLockSlim _structureLock = new(LockRecursionPolicy.NoRecursion);
    private readonly MappedFile? _mapped;
    private volatile bool _disposed;

    /// <summary>Creates an empty index.</summary>
    /// <param name="dimension">Values per vector (1..65536).</param>
    /// <param name="metric">Distance used to rank results.</param>
    /// <param name="options">Construction parameters; null uses the defaults (<see cref="HnswOptions.Defaults"/>).</param>
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
        if (!(options.CompactionThreshold >= 0 && options.CompactionThreshold < 1))
        {
            throw new ArgumentOutOfRangeException("options.CompactionThreshold", options.CompactionThreshold, "Use 0 (off) or a share between 0 and 1.");
        }
        if (!Enum.IsDefined(metric))
        {
            throw new ArgumentOutOfRangeException(nameof(metric), metric, "Unknown distance metric.");
        }
        if (!Enum.IsDefined(options.VectorType))
        {
            throw new ArgumentOutOfRangeException("options.VectorType", options.VectorType, "Unknown vector type.");
        }
        _dim = dimension;
        _metric = metric;
        _vectorType = options.VectorType;
        _vectorBytes = QuantizedDistance.StoredBytes(_vectorType, dimension);
        if (_vectorType == VectorType.Float32)
        {
            _distance = _queryDistance = VectorDistance.ForBytes(metric);
            _queryBytes = _vectorBytes;
        }
        else
        {
            _distance = QuantizedDistance.Kernel(_vectorType, metric, query: false, QuantizedDistance.Best);
            _queryDistance = QuantizedDistance.Kernel(_vectorType, metric, query: true, QuantizedDistance.Best);
            _queryBytes = dimension * sizeof(float); // queries stay float32 (asymmetric kernels)
        }
        _m = options.M;
        _maxM0 = 2 * options.M;
        _efConstruction = Math.Max(options.EfConstruction, options.M);
        _defaultEf = options.DefaultEfSearch;
        _seed = options.Seed;
        _compactionThreshold = options.CompactionThreshold;
        _levelMultiplier = 1.0 / Math.Log(options.M);
        _levelRandom = new Random(options.Seed);
        _stride0 = 1 + _maxM0;
        _strideUpper = 1 + _m;
        // Chunks of about 4 MB of vectors, between 256 and 65,536 nodes.
        _prefetchLines = Math.Min(MaxPrefetchLines, (_vectorBytes + 63) >> 6);
        _chunkShift = Math.Clamp(BitOperations.Log2((uint)Math.Max(1, (4 << 20) / _vectorBytes)), 8, 16);
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

    /// <summary>How vectors are stored (<see cref="HnswOptions.VectorType"/>).</summary>
    public VectorType VectorType => _vectorType;

    /// <summary>Bytes one stored vector takes: 4·dim for float32, 2·dim for float16, dim + 4 for int8 (rounded up to a multiple of 4).</summary>
    public int BytesPerVector => _vectorBytes;

    /// <inheritdoc/>
    public int Count => Volatile.Read(ref _liveCount);

    /// <summary>Removed nodes still held as tombstones (routing only) until the next compaction.</summary>
    public int DeletedCount => Volatile.Read(ref _deletedCount);

    /// <summary>Node slots in use: live, tombstoned, and compacted-away slots waiting to be reused.</summary>
    public int SlotCount => Volatile.Read(ref _slotCount);

    /// <summary>Whether this index was opened memory-mapped and read-only (<see cref="OpenMapped"/>).</summary>
    public bool IsReadOnly => _mapped is not null;

    /// <summary>Bytes held by the index: allocated chunks (vectors, layer-0 links, per-node fields), upper layers and the key map (an estimate for the map).</summary>
    public long MemoryBytes
    {
        get
        {
            long perNode = (long)_vectorBytes + (long)_stride0 * sizeof(int) + sizeof(long) + 5 * sizeof(int) + IntPtr.Size;
            long chunks = (long)Volatile.Read(ref _chunks).Length << _chunkShift;
            return chunks * perNode + Interlocked.Read(ref _upperInts) * sizeof(int) + (long)Count * 48;
        }
    }

    /// <summary>Bytes of the payload proper: vectors plus links (layer 0 and upper layers) of every slot in use.</summary>
    public long PayloadBytes =>
        ((long)SlotCount * (_vectorBytes + (_stride0 * sizeof(int)))) + (Interlocked.Read(ref _upperInts) * sizeof(int));

    /// <inheritdoc/>
    public bool Contains(long key) => _ids.ContainsKey(key);

    /// <summary>
    /// Copies the vector stored under <paramref name="key"/> (unit length for <see cref="DistanceMetric.Cosine"/>; decoded
    /// from float16 / int8 when the index stores those) into <paramref name="destination"/>.
    /// </summary>
    /// <returns>Whether the key is live.</returns>
    internal bool TryGetVector(long key, Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_ids.TryGetValue(key, out int id))
        {
            return false;
        }
        Chunk[] chunks = Volatile.Read(ref _chunks);
        Decode(VectorPtr(chunks, id), destination[.._dim]);
        return true;
    }

    private void Decode(byte* stored, Span<float> destination)
    {
        switch (_vectorType)
        {
            case VectorType.Float16:
                QuantizedDistance.DecodeHalf(stored, destination);
                break;
            case VectorType.Int8:
                QuantizedDistance.DecodeInt8(stored, destination);
                break;
            default:
                new ReadOnlySpan<float>(stored, _dim).CopyTo(destination);
                break;
        }
    }

    /// <summary>Writes <paramref name="vector"/> (normalised first for cosine) in the stored form at <paramref name="destination"/>.</summary>
    private void Encode(ReadOnlySpan<float> vector, byte* destination, Span<float> scratch)
    {
        if (_metric == DistanceMetric.Cosine)
        {
            vector.CopyTo(scratch);
            VectorDistance.Normalize(scratch[.._dim]);
            vector = scratch[.._dim];
        }
        switch (_vectorType)
        {
            case VectorType.Float16:
                QuantizedDistance.EncodeHalf(vector, destination);
                break;
            case VectorType.Int8:
                QuantizedDistance.EncodeInt8(vector, destination);
                break;
            default:
                vector.CopyTo(new Span<float>(destination, _dim));
                break;
        }
    }

    // ------------------------------------------------------------------ insertion

    /// <inheritdoc/>
    public void Add(long key, ReadOnlySpan<float> vector)
    {
        ThrowIfReadOnly();
        ValidateVector(vector, key, nameof(vector));
        if (AddValidated(key, vector))
        {
            CompactIfNeeded();
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
            ValidateVector(item.Vector.Span, item.Key, nameof(items));
        }
        int done = 0;
        int replaced = 0;
        int step = Math.Max(1, items.Count / 100);
        try
        {
            if (maxDegreeOfParallelism == 1)
            {
                for (int i = 0; i < items.Count; i++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    if (AddValidated(items[i].Key, items[i].Vector.Span))
                    {
                        replaced++;
                    }
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
                    if (AddValidated(items[i].Key, items[i].Vector.Span))
                    {
                        Interlocked.Increment(ref replaced);
                    }
                    int d = Interlocked.Increment(ref done);
                    if (d % step == 0)
                    {
                        progress?.Report(d);
                    }
                });
            }
        }
        finally
        {
            if (replaced > 0)
            {
                CompactIfNeeded();
            }
        }
        progress?.Report(done);
    }

    private void ValidateVector(ReadOnlySpan<float> vector, long key, string parameter)
    {
        if (vector.Length != _dim)
        {
            throw new ArgumentException($"Key {key}: the vector has {vector.Length} values; the index holds {_dim}-d vectors.", parameter);
        }
        int bad = IndexOfNonFinite(vector);
        if (bad >= 0)
        {
            throw new ArgumentException($"Key {key}: value {bad} of the vector is {vector[bad]}; vectors must be finite.", parameter);
        }
        if (_vectorType == VectorType.Float16 && _metric != DistanceMetric.Cosine)
        {
            for (int i = 0; i < vector.Length; i++)
            {
                if (Math.Abs(vector[i]) > QuantizedDistance.HalfMax)
                {
                    throw new ArgumentException($"Key {key}: value {i} of the vector is {vector[i]}, beyond float16's ±{QuantizedDistance.HalfMax}; store float32 or scale the vectors.", parameter);
                }
            }
        }
    }

    private static int IndexOfNonFinite(ReadOnlySpan<float> values)
    {
        // x − x is 0 for finite x and NaN for ±∞ and NaN: a vector pass first, the scalar loop only to name the culprit.
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref float start = ref MemoryMarshal.GetReference(values);
            Vector256<float> acc = Vector256<float>.Zero;
            for (; i + 8 <= values.Length; i += 8)
            {
                Vector256<float> v = Vector256.LoadUnsafe(ref start, (nuint)i);
                acc += v - v;
            }
            if (acc == Vector256<float>.Zero)
            {
                for (; i < values.Length; i++)
                {
                    if (!float.IsFinite(values[i]))
                    {
                        return i;
                    }
                }
                return -1;
            }
            i = 0;
        }
        for (; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>Inserts under the structure lock; returns whether an existing node of the key was replaced (tombstoned).</summary>
    private bool AddValidated(long key, ReadOnlySpan<float> vector)
    {
        SchedulePoint.EnterRead(_structureLock);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return Insert(key, vector);
        }
        finally
        {
            _structureLock.ExitReadLock();
        }
    }

    private bool Insert(long key, ReadOnlySpan<float> vector)
    {
        SearchContext ctx = SearchContext.Rent();
        try
        {
            int id, level;
            bool replaced = false;
            SchedulePoint.Enter(_allocLock);
            try
            {
                if (_ids.TryGetValue(key, out int old))
                {
                    Tombstone(old);
                    replaced = true;
                }
                id = TakeSlot();
                level = Math.Min(MaxLevelCap, (int)(-Math.Log(1.0 - _levelRandom.NextDouble()) * _levelMultiplier));
                Chunk c = _chunks[id >> _chunkShift];
                int local = id & _chunkMask;
                Volatile.Write(ref c.Flags[local], Building);
                c.Keys[local] = key;
                _ids[key] = id;
                _liveCount++;
            }
            finally
            {
                Monitor.Exit(_allocLock);
            }

            SchedulePoint.Here();
            ctx.Prepare(_maxM0, _dim, _queryBytes, 0);
            InitNode(id, level, vector, ctx.Scratch);
            Link(ctx, id, level);

            Chunk chunk = _chunks[id >> _chunkShift];
            // Fails (and the node stays a tombstone) if a Remove of this key came while it was being linked.
            Interlocked.CompareExchange(ref chunk.Flags[id & _chunkMask], Live, Building);
            return replaced;
        }
        finally
        {
            SearchContext.Return(ctx);
        }
    }

    /// <summary>Caller holds <see cref="_allocLock"/>. A recycled slot whose grace period is over, else a new one.</summary>
    private int TakeSlot()
    {
        if (_freeSlots.Count == 0)
        {
            ReclaimRetiredSlots();
        }
        if (_freeSlots.Count > 0)
        {
            return _freeSlots.Pop();
        }
        int id = _slotCount;
        EnsureCapacity(id);
        Volatile.Write(ref _slotCount, id + 1);
        return id;
    }

    /// <summary>Caller holds <see cref="_allocLock"/>. Moves compacted-away slots that no search can still stand on to the free list.</summary>
    private void ReclaimRetiredSlots()
    {
        while (_limbo.Count > 0 && SearchContext.AllSearchesStartedBefore(_limbo.Peek().Epoch))
        {
            int[] slots = _limbo.Dequeue().Slots;
            Chunk[] chunks = _chunks;
            for (int i = slots.Length - 1; i >= 0; i--)
            {
                int id = slots[i];
                Volatile.Write(ref chunks[id >> _chunkShift].Flags[id & _chunkMask], Free);
                _freeSlots.Push(id);
            }
            _retiredCount -= slots.Length;
        }
    }

    private void InitNode(int id, int level, ReadOnlySpan<float> vector, Span<float> scratch)
    {
        Chunk c = _chunks[id >> _chunkShift];
        int local = id & _chunkMask;
        // Nothing can reach this slot yet: it is new, or recycled after every search that could stand on it ended.
        Encode(vector, c.Vectors + (long)local * _vectorBytes, scratch);
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
        Volatile.Write(ref c.Parent[local], -1);
    }

    private void Link(SearchContext ctx, int id, int level)
    {
        long entry = Volatile.Read(ref _entry);
        if (entry == -1)
        {
            SchedulePoint.Enter(_entryLock);
            try
            {
                entry = Volatile.Read(ref _entry);
                if (entry == -1)
                {
                    Volatile.Write(ref _entry, Pack(level, id));
                    return;
                }
            }
            finally
            {
                Monitor.Exit(_entryLock);
            }
        }
        bool holdsEntryLock = false;
        try
        {
            if (level > (int)(entry >> 32))
            {
                SchedulePoint.Enter(_entryLock);
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
            byte* q = VectorPtr(chunks, id);
            ctx.Prepare(_maxM0, _dim, _queryBytes, CapacityOf(chunks));
            float curDist = _distance(q, VectorPtr(chunks, cur), _dim);
            for (int l = maxLevel; l > level; l--)
            {
                (cur, curDist) = GreedyStep(ctx, chunks, q, cur, curDist, l, _distance);
            }
            for (int l = Math.Min(level, maxLevel); l >= 0; l--)
            {
                SchedulePoint.Here();
                SearchLayer(ctx, chunks, q, cur, curDist, l, _efConstruction, id, null, CancellationToken.None, construction: true,
                            _distance, root: l == 0 ? (int)entry : -1);
                int found = ctx.DrainResultsAscending();
                if (found == 0)
                {
                    continue;
                }
                Span<Candidate> nearest = ctx.Sorted.AsSpan(0, found);
                OrderTies(nearest, id);
                cur = nearest[0].Id;
                curDist = nearest[0].Dist;
                int selected = SelectByHeuristic(chunks, id, nearest, _m, ctx.Selected);
                Connect(ctx, chunks, id, l, ctx.Selected.AsSpan(0, selected));
            }
            if (holdsEntryLock)
            {
                // The new entry becomes the root of the parent tree, with the old root below it (if its list, all tree
                // links already, cannot take the old root, it does not become the entry point: a lower entry is only slower).
                if (AdoptUnder(ctx, chunks, (int)entry, id))
                {
                    Volatile.Write(ref chunks[id >> _chunkShift].Parent[id & _chunkMask], -1);
                    Volatile.Write(ref _entry, Pack(level, id));
                }
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

    /// <summary>
    /// Algorithm 4 (simple form, as hnswlib): walking candidates nearest first, keep one unless it is nearer to an already
    /// kept neighbour than to the base point. Exact copies of the base point are never "nearer to a kept neighbour" than to
    /// the base, so without a cap a crowd of copies would fill the list and cut the base off from everything else: at most
    /// a quarter of the list (at least 2) goes to copies.
    /// </summary>
    private int SelectByHeuristic(Chunk[] chunks, int baseId, ReadOnlySpan<Candidate> ascending, int max, Candidate[] selected, float alpha = 1f)
    {
        if (ascending.Length <= max)
        {
            ascending.CopyTo(selected);
            return ascending.Length;
        }
        byte* b = VectorPtr(chunks, baseId);
        int duplicateCap = Math.Max(2, max / 4);
        int count = 0, duplicates = 0;
        foreach (Candidate c in ascending)
        {
            if (count >= max)
            {
                break;
            }
            byte* v = VectorPtr(chunks, c.Id);
            if (SameVector(v, b))
            {
                if (duplicates < duplicateCap)
                {
                    selected[count++] = c;
                    duplicates++;
                }
                continue;
            }
            bool good = true;
            for (int j = 0; j < count; j++)
            {
                if (alpha * _distance(v, VectorPtr(chunks, selected[j].Id), _dim) < c.Dist)
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool SameVector(byte* a, byte* b) =>
        new ReadOnlySpan<byte>(a, _vectorBytes).SequenceEqual(new ReadOnlySpan<byte>(b, _vectorBytes));

    /// <summary>Sorts candidates by distance, equal distances in a pseudo-random order that depends on the base node (deterministic).</summary>
    private static void OrderTies(Span<Candidate> ascending, int baseId)
    {
        for (int i = 1; i < ascending.Length; i++)
        {
            if (ascending[i].Dist == ascending[i - 1].Dist)
            {
                ascending.Sort(new CandidateOrder(baseId));
                return;
            }
        }
    }

    /// <summary>Distance, then a per-base hash of the id: exact copies (equal distances) are linked in a scattered order, not oldest first.</summary>
    private readonly struct CandidateOrder(int baseId) : IComparer<Candidate>
    {
        public int Compare(Candidate x, Candidate y)
        {
            int c = x.Dist.CompareTo(y.Dist);
            return c != 0 ? c : TieKey(x.Id).CompareTo(TieKey(y.Id));
        }

        // A bijection of the id for a fixed base, so distinct ids never tie.
        private uint TieKey(int id) => BitOperations.RotateLeft(((uint)id * 0x9E3779B1u) ^ (uint)baseId, 13) * 0x85EBCA6Bu;
    }

    /// <summary>
    /// Writes the new node's links at <paramref name="level"/> and adds it to each chosen neighbour's list (pruning a full
    /// list with the heuristic). One node lock at a time. On layer 0, if no neighbour kept the new node, one is made to.
    /// </summary>
    private void Connect(SearchContext ctx, Chunk[] chunks, int id, int level, ReadOnlySpan<Candidate> selected)
    {
        int max = level == 0 ? _maxM0 : _m;
        // The new node's own list: other inserts may already have linked to it at this level; merge.
        {
            Chunk c = chunks[id >> _chunkShift];
            int local = id & _chunkMask;
            SchedulePoint.Here();
            LockNode(c, local);
            Span<int> list = ListSpan(c, local, level);
            int existing = list[0];
            Span<Candidate> merged = ctx.Merge.AsSpan(0, existing + selected.Length);
            selected.CopyTo(merged);
            int n = selected.Length;
            byte* v = VectorPtr(chunks, id);
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
                merged.Sort(new CandidateOrder(id));
                n = SelectByHeuristic(chunks, id, merged, max, ctx.Selected2);
                merged = ctx.Selected2.AsSpan(0, n);
            }
            CommitList(ctx, chunks, id, level, merged);
            UnlockNode(c, local);
        }

        AddReverseLinks(ctx, chunks, id, level, selected);

        if (level == 0)
        {
            FindParent(ctx, chunks, id, selected);
        }
    }

    /// <summary>Adds <paramref name="id"/> to the list of each of <paramref name="selected"/> at <paramref name="level"/>, pruning full lists with the heuristic. One node lock at a time.</summary>
    private void AddReverseLinks(SearchContext ctx, Chunk[] chunks, int id, int level, ReadOnlySpan<Candidate> selected)
    {
        int max = level == 0 ? _maxM0 : _m;
        foreach (Candidate s in selected)
        {
            Chunk c = chunks[s.Id >> _chunkShift];
            int local = s.Id & _chunkMask;
            if (level > 0 && (Volatile.Read(ref c.Upper[local])?.Length ?? 0) < level * _strideUpper)
            {
                continue;
            }
            SchedulePoint.Here();
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
                byte* v = VectorPtr(chunks, s.Id);
                Span<Candidate> cands = ctx.Merge.AsSpan(0, n + 1);
                for (int j = 0; j < n; j++)
                {
                    cands[j] = new Candidate(_distance(v, VectorPtr(chunks, list[1 + j]), _dim), list[1 + j]);
                }
                cands[n] = new Candidate(s.Dist, id);
                cands.Sort(new CandidateOrder(s.Id));
                int kept = SelectByHeuristic(chunks, s.Id, cands, max, ctx.Selected2);
                CommitList(ctx, chunks, s.Id, level, ctx.Selected2.AsSpan(0, kept));
            }
            UnlockNode(c, local);
        }
    }

    /// <summary>
    /// Caller holds the node lock of <paramref name="owner"/>. Replaces its list at <paramref name="level"/> with
    /// <paramref name="chosen"/> (at most the layer's maximum). On layer 0 the links to the owner's children in the parent
    /// tree are kept whatever the choice: each takes the place of the farthest chosen entry that is not a child.
    /// </summary>
    private void CommitList(SearchContext ctx, Chunk[] chunks, int owner, int level, ReadOnlySpan<Candidate> chosen)
    {
        Chunk c = chunks[owner >> _chunkShift];
        int local = owner & _chunkMask;
        Span<int> list = ListSpan(c, local, level);
        int n = chosen.Length;
        Span<int> next = ctx.Links2;
        for (int j = 0; j < n; j++)
        {
            next[j] = chosen[j].Id;
        }
        if (level == 0)
        {
            int oldCount = list[0];
            for (int j = 0; j < oldCount; j++)
            {
                int child = list[1 + j];
                if (!IsTreeLink(chunks, owner, child) || next[..n].Contains(child))
                {
                    continue;
                }
                if (n < _maxM0)
                {
                    next[n++] = child;
                    continue;
                }
                for (int t = n - 1; t >= 0; t--)
                {
                    if (!IsTreeLink(chunks, owner, next[t]))
                    {
                        next[t] = child;
                        break;
                    }
                }
            }
        }
        BeginWrite(c, local);
        for (int j = 0; j < n; j++)
        {
            list[1 + j] = next[j];
        }
        list[0] = n;
        EndWrite(c, local);
    }

    /// <summary>
    /// Layer 0: gives <paramref name="id"/> a parent, the nearest of <paramref name="neighbours"/> that still links to it;
    /// if every one pruned it away, the first node found (walking out from them) that can take it links to it instead.
    /// </summary>
    private void FindParent(SearchContext ctx, Chunk[] chunks, int id, ReadOnlySpan<Candidate> neighbours)
    {
        foreach (Candidate s in neighbours)
        {
            Chunk c = chunks[s.Id >> _chunkShift];
            int local = s.Id & _chunkMask;
            SchedulePoint.Here();
            LockNode(c, local);
            Span<int> list = ListSpan(c, local, 0);
            bool links = list.Slice(1, list[0]).Contains(id);
            if (links)
            {
                Volatile.Write(ref chunks[id >> _chunkShift].Parent[id & _chunkMask], s.Id);
            }
            UnlockNode(c, local);
            if (links)
            {
                return;
            }
        }
        // Walk out from the neighbours (all reachable: a search from the entry point found them) to the nearest list
        // with room or with an entry that is not somebody's tree link.
        var seen = new HashSet<int> { id };
        var queue = new Queue<int>();
        foreach (Candidate s in neighbours)
        {
            if (seen.Add(s.Id))
            {
                queue.Enqueue(s.Id);
            }
        }
        Span<int> buf = stackalloc int[_maxM0];
        while (queue.Count > 0)
        {
            int p = queue.Dequeue();
            if (FlagOf(chunks, p) is Free or Retired)
            {
                continue;
            }
            if (AdoptUnder(ctx, chunks, id, p))
            {
                return;
            }
            int n = ReadLinks(chunks, p, 0, buf);
            for (int j = 0; j < n; j++)
            {
                if (seen.Add(buf[j]))
                {
                    queue.Enqueue(buf[j]);
                }
            }
        }
    }

    /// <summary>
    /// Makes <paramref name="parent"/> link to <paramref name="child"/> on layer 0 and records it as the child's parent:
    /// in a free place, else in place of the farthest entry that is not the parent's own tree link. False if the list is
    /// all tree links.
    /// </summary>
    private bool AdoptUnder(SearchContext ctx, Chunk[] chunks, int child, int parent)
    {
        Chunk c = chunks[parent >> _chunkShift];
        int local = parent & _chunkMask;
        SchedulePoint.Here();
        LockNode(c, local);
        try
        {
            Span<int> list = ListSpan(c, local, 0);
            int n = list[0];
            int at = list.Slice(1, n).IndexOf(child);
            if (at < 0 && n < _maxM0)
            {
                at = n;
            }
            if (at < 0)
            {
                byte* v = VectorPtr(chunks, parent);
                float farthest = float.NegativeInfinity;
                for (int j = 0; j < n; j++)
                {
                    int other = list[1 + j];
                    if (IsTreeLink(chunks, parent, other))
                    {
                        continue;
                    }
                    float d = FlagOf(chunks, other) == Deleted ? float.PositiveInfinity : _distance(v, VectorPtr(chunks, other), _dim);
                    if (d > farthest)
                    {
                        farthest = d;
                        at = j;
                    }
                }
                if (at < 0)
                {
                    return false;
                }
            }
            if (at >= n || list[1 + at] != child)
            {
                BeginWrite(c, local);
                list[1 + at] = child;
                if (at == n)
                {
                    list[0] = n + 1;
                }
                EndWrite(c, local);
            }
            Volatile.Write(ref chunks[child >> _chunkShift].Parent[child & _chunkMask], parent);
            return true;
        }
        finally
        {
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
        SchedulePoint.Enter(_allocLock);
        try
        {
            if (!_ids.TryGetValue(key, out int id))
            {
                return false;
            }
            Tombstone(id);
        }
        finally
        {
            Monitor.Exit(_allocLock);
        }
        CompactIfNeeded();
        return true;
    }

    /// <summary>Caller holds <see cref="_allocLock"/>.</summary>
    private void Tombstone(int id)
    {
        Chunk c = _chunks[id >> _chunkShift];
        int local = id & _chunkMask;
        _ids.TryRemove(c.Keys[local], out _);
        Volatile.Write(ref _everRemoved, true);
        Interlocked.Exchange(ref c.Flags[local], Deleted);
        _liveCount--;
        _deletedCount++;
        SchedulePoint.Here();
    }

    private bool CompactionDue()
    {
        int deleted = DeletedCount;
        return _compactionThreshold > 0 && deleted >= MinTombstonesToCompact && deleted > _compactionThreshold * (Count + deleted);
    }

    private void CompactIfNeeded()
    {
        if (CompactionDue())
        {
            CompactCore(onlyIfDue: true);
        }
    }

    /// <summary>
    /// Reconnects around every removed node and recycles their slots: each node that links to a removed one replaces it
    /// with that node's neighbours (walking on through removed ones), re-pruned with the heuristic; the entry point moves
    /// off a removed node; live nodes the repair left unreachable from the entry point are linked in again. The slots are
    /// reused once every search that might stand on them has finished. Costs one pass over all nodes plus about
    /// (lists with a removed neighbour) × 2M × M distance evaluations. Blocks inserts (not searches or removals) while it
    /// runs; runs by itself when tombstones pass <see cref="HnswOptions.CompactionThreshold"/>.
    /// </summary>
    /// <returns>The number of slots recycled.</returns>
    public int Compact() => CompactCore(onlyIfDue: false);

    private int CompactCore(bool onlyIfDue)
    {
        ThrowIfReadOnly();
        SchedulePoint.EnterWrite(_structureLock);
        SearchContext ctx = SearchContext.Rent();
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (onlyIfDue && !CompactionDue())
            {
                return 0;
            }
            Chunk[] chunks = _chunks;
            int slots = _slotCount;
            // The tombstones to retire are those present now; Remove does not take the structure lock, so nodes removed
            // while this runs stay tombstones until the next compaction. Retired nodes are never returned (like
            // tombstones), never linked again and never protected as tree links; their own lists stay intact until the
            // slot is reused, so a search that stands on one keeps routing.
            var retiring = new List<int>();
            var doomed = new bool[slots];
            SchedulePoint.Enter(_allocLock);
            try
            {
                for (int id = 0; id < slots; id++)
                {
                    if (FlagOf(chunks, id) == Deleted)
                    {
                        retiring.Add(id);
                        doomed[id] = true;
                        Volatile.Write(ref chunks[id >> _chunkShift].Flags[id & _chunkMask], Retired);
                    }
                }
                _deletedCount -= retiring.Count;
                _retiredCount += retiring.Count;
            }
            finally
            {
                Monitor.Exit(_allocLock);
            }
            if (retiring.Count == 0)
            {
                return 0;
            }
            ctx.Prepare(_maxM0, _dim, _queryBytes, CapacityOf(chunks));

            // 1. Repair every list (of live nodes and of other tombstones) that links to a retiring node.
            for (int id = 0; id < slots; id++)
            {
                if (doomed[id] || FlagOf(chunks, id) is Free or Retired)
                {
                    continue;
                }
                SchedulePoint.Here();
                Chunk c = chunks[id >> _chunkShift];
                int local = id & _chunkMask;
                for (int level = 0; level <= c.Levels[local]; level++)
                {
                    RepairList(ctx, chunks, doomed, id, level);
                }
            }

            // 2. Entry point: off a retiring node, onto the live node with the highest level (or a newer tombstone).
            long entry = Volatile.Read(ref _entry);
            if (entry != -1 && doomed[(int)entry])
            {
                int best = -1, bestLevel = -1;
                bool bestLive = false;
                for (int id = 0; id < slots; id++)
                {
                    int flag = FlagOf(chunks, id);
                    if (doomed[id] || flag is Free or Retired)
                    {
                        continue;
                    }
                    bool live = flag == Live;
                    int lvl = chunks[id >> _chunkShift].Levels[id & _chunkMask];
                    if ((live && !bestLive) || (live == bestLive && lvl > bestLevel))
                    {
                        best = id;
                        bestLevel = lvl;
                        bestLive = live;
                    }
                }
                Volatile.Write(ref _entry, best < 0 ? -1 : Pack(bestLevel, best));
            }

            // 3. The parent tree is rebuilt from the entry point; live nodes the repair left without a path are linked in again.
            RepairUnreachable(ctx, chunks, slots);

            // 4. No list links to the retired slots and the entry point is elsewhere: searches that start from now on cannot
            //    reach them. They are reused once the searches that started before this epoch have finished.
            long epoch = SearchContext.AdvanceEpoch();
            SchedulePoint.Enter(_allocLock);
            try
            {
                _limbo.Enqueue((epoch, retiring.ToArray()));
            }
            finally
            {
                Monitor.Exit(_allocLock);
            }
            return retiring.Count;
        }
        finally
        {
            SearchContext.Return(ctx);
            _structureLock.ExitWriteLock();
        }
    }

    /// <summary>
    /// Compaction, one list: if it links to retiring nodes, its candidates are its other neighbours plus the nodes reached
    /// through the retiring ones (walking on through retiring nodes, up to a budget), re-selected with the heuristic.
    /// </summary>
    private void RepairList(SearchContext ctx, Chunk[] chunks, bool[] doomed, int id, int level)
    {
        Chunk c = chunks[id >> _chunkShift];
        int local = id & _chunkMask;
        Span<int> list = ListSpan(c, local, level);
        int n = list[0];
        bool any = false;
        for (int j = 0; j < n && !any; j++)
        {
            any = doomed[list[1 + j]];
        }
        if (!any)
        {
            return;
        }
        int max = level == 0 ? _maxM0 : _m;
        byte* v = VectorPtr(chunks, id);
        Candidate[] cands = ctx.Merge;
        int count = 0;
        ushort stamp = ctx.NextStamp();
        ushort[] seen = ctx.Visited;
        seen[id] = stamp;
        Span<int> queue = ctx.Queue;
        int head = 0, tail = 0;
        for (int j = 0; j < n; j++)
        {
            int other = list[1 + j];
            if (seen[other] == stamp)
            {
                continue;
            }
            seen[other] = stamp;
            if (doomed[other])
            {
                if (tail < queue.Length)
                {
                    queue[tail++] = other;
                }
            }
            else if (FlagOf(chunks, other) is not (Free or Retired))
            {
                AddCandidate(cands, ref count, other, v, chunks);
            }
        }
        // Walk through retiring nodes breadth-first until enough candidates (or the budget) are found.
        while (head < tail && count < cands.Length && count < 2 * max)
        {
            int r = queue[head++];
            Chunk rc = chunks[r >> _chunkShift];
            int rl = r & _chunkMask;
            if (rc.Levels[rl] < level)
            {
                continue;
            }
            Span<int> rlist = ListSpan(rc, rl, level);
            for (int t = 0; t < rlist[0]; t++)
            {
                int hop = rlist[1 + t];
                if ((uint)hop >= (uint)doomed.Length || seen[hop] == stamp)
                {
                    continue;
                }
                seen[hop] = stamp;
                if (doomed[hop])
                {
                    if (tail < queue.Length)
                    {
                        queue[tail++] = hop;
                    }
                }
                else if (FlagOf(chunks, hop) is not (Free or Retired))
                {
                    AddCandidate(cands, ref count, hop, v, chunks);
                }
            }
        }
        Span<Candidate> span = cands.AsSpan(0, count);
        span.Sort(new CandidateOrder(id));
        // Robust pruning (FreshDiskANN's α = 1.2): a candidate is dropped only if a kept neighbour is clearly nearer to it,
        // which keeps some longer links where removals left holes.
        int kept = SelectByHeuristic(chunks, id, span, max, ctx.Selected2, RepairAlpha);
        // The links this node gained are made two-way, as an insert makes them: removals cost the gained neighbours in-links too.
        int gained = 0;
        Candidate[] fresh = ctx.Selected;
        LockNode(c, local);
        Span<int> current = ListSpan(c, local, level);
        for (int j = 0; j < kept; j++)
        {
            if (!current.Slice(1, current[0]).Contains(ctx.Selected2[j].Id))
            {
                fresh[gained++] = ctx.Selected2[j];
            }
        }
        CommitList(ctx, chunks, id, level, ctx.Selected2.AsSpan(0, kept));
        UnlockNode(c, local);
        AddReverseLinks(ctx, chunks, id, level, fresh.AsSpan(0, gained));
    }

    private void AddCandidate(Candidate[] cands, ref int count, int id, byte* v, Chunk[] chunks)
    {
        if (count < cands.Length)
        {
            cands[count++] = new Candidate(_distance(v, VectorPtr(chunks, id), _dim), id);
        }
    }

    /// <summary>
    /// Caller holds the structure write lock (or owns the index). Rebuilds the parent tree by a breadth-first walk from
    /// the entry point and links live nodes it does not reach in again (a few rounds).
    /// </summary>
    private void RepairUnreachable(SearchContext ctx, Chunk[] chunks, int slots)
    {
        for (int round = 0; round < 4; round++)
        {
            List<int> lost = UnreachableLiveNodes(ctx, chunks, slots, rebuildTree: true);
            if (lost.Count == 0)
            {
                return;
            }
            // Reached by the walk: the root, and every node with a parent.
            var reached = new bool[slots];
            long entry = Volatile.Read(ref _entry);
            for (int id = 0; id < slots; id++)
            {
                reached[id] = id == (int)entry || ParentOf(chunks, id) >= 0;
            }
            foreach (int id in lost)
            {
                Relink(ctx, chunks, id, reached);
            }
        }
    }

    /// <summary>
    /// Breadth-first walk on layer 0 from the entry point (through tombstones); the live nodes it does not reach. With
    /// <paramref name="rebuildTree"/> (no other writer running), every node's parent becomes the node the walk reached it from.
    /// </summary>
    private List<int> UnreachableLiveNodes(SearchContext ctx, Chunk[] chunks, int slots, bool rebuildTree = false)
    {
        if (rebuildTree)
        {
            for (int id = 0; id < slots; id++)
            {
                chunks[id >> _chunkShift].Parent[id & _chunkMask] = -1;
            }
        }
        var lost = new List<int>();
        long entry = Volatile.Read(ref _entry);
        ushort stamp = ctx.NextStamp();
        ushort[] seen = ctx.Visited;
        if (entry != -1)
        {
            var queue = new Queue<int>();
            queue.Enqueue((int)entry);
            seen[(int)entry] = stamp;
            Span<int> buf = ctx.Links;
            while (queue.Count > 0)
            {
                int id = queue.Dequeue();
                int n = ReadLinks(chunks, id, 0, buf);
                for (int j = 0; j < n; j++)
                {
                    int next = buf[j];
                    if ((uint)next < (uint)slots && seen[next] != stamp && FlagOf(chunks, next) is not (Free or Retired))
                    {
                        seen[next] = stamp;
                        queue.Enqueue(next);
                        if (rebuildTree)
                        {
                            chunks[next >> _chunkShift].Parent[next & _chunkMask] = id;
                        }
                    }
                }
            }
        }
        for (int id = 0; id < slots; id++)
        {
            if (seen[id] != stamp && FlagOf(chunks, id) == Live)
            {
                lost.Add(id);
            }
        }
        return lost;
    }

    /// <summary>
    /// Caller holds the structure write lock. Searches for an existing node's neighbours on layer 0 and links it both ways,
    /// as an insert would, then hangs it in the parent tree below a node that <paramref name="reached"/> says the entry
    /// point reaches (the nearest found, else the first with room walking out from the entry point): the descent through
    /// upper layers can land in the very island the node is in.
    /// </summary>
    private void Relink(SearchContext ctx, Chunk[] chunks, int id, bool[] reached)
    {
        long entry = Volatile.Read(ref _entry);
        if (entry == -1 || (int)entry == id)
        {
            return;
        }
        byte* q = VectorPtr(chunks, id);
        int cur = (int)entry;
        float curDist = _distance(q, VectorPtr(chunks, cur), _dim);
        for (int l = (int)(entry >> 32); l > 0; l--)
        {
            (cur, curDist) = GreedyStep(ctx, chunks, q, cur, curDist, l, _distance);
        }
        SearchLayer(ctx, chunks, q, cur, curDist, 0, _efConstruction, id, null, CancellationToken.None, construction: true, _distance, root: (int)entry);
        int found = ctx.DrainResultsAscending();
        Span<Candidate> nearest = ctx.Sorted.AsSpan(0, found);
        OrderTies(nearest, id);
        int[] nearestIds = new int[found];
        for (int j = 0; j < found; j++)
        {
            nearestIds[j] = nearest[j].Id;
        }
        if (found > 0)
        {
            int selected = SelectByHeuristic(chunks, id, nearest, _m, ctx.Selected);
            Connect(ctx, chunks, id, 0, ctx.Selected.AsSpan(0, selected));
        }
        int parent = ParentOf(chunks, id);
        if (parent >= 0 && reached[parent])
        {
            reached[id] = true;
            return;
        }
        foreach (int p in nearestIds)
        {
            if (reached[p] && FlagOf(chunks, p) is not (Free or Retired) && AdoptUnder(ctx, chunks, id, p))
            {
                reached[id] = true;
                return;
            }
        }
        var queue = new Queue<int>();
        var seen = new HashSet<int> { (int)entry };
        queue.Enqueue((int)entry);
        Span<int> buf = stackalloc int[_maxM0];
        while (queue.Count > 0)
        {
            int p = queue.Dequeue();
            if (p != id && AdoptUnder(ctx, chunks, id, p))
            {
                reached[id] = true;
                return;
            }
            int n = ReadLinks(chunks, p, 0, buf);
            for (int j = 0; j < n; j++)
            {
                if (reached[buf[j]] && seen.Add(buf[j]))
                {
                    queue.Enqueue(buf[j]);
                }
            }
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
                      CancellationToken cancellationToken = default) =>
        SearchCore(query, destination, efSearch, filter, cancellationToken, originals: null, rerank: 0);

    /// <summary>
    /// Searches on the stored vectors (float16 / int8 distances are approximate), then re-ranks the best
    /// <paramref name="rerank"/> candidates by their exact float32 distance to the query, computed from the caller's
    /// original vectors; the hits carry those exact distances. Candidates for which <paramref name="originals"/> returns an
    /// empty span keep their approximate distance. Allocation-free like the span overload of Search.
    /// </summary>
    /// <param name="query"><see cref="Dimension"/> values.</param>
    /// <param name="destination">Receives up to <c>destination.Length</c> (= k) hits, nearest first.</param>
    /// <param name="originals">Returns the original vector of a key (<see cref="Dimension"/> values), or an empty span. Called on the searching thread.</param>
    /// <param name="efSearch">Beam width (null: the index default), raised to at least k.</param>
    /// <param name="rerank">How many of the best candidates to re-rank (null: all ef of them); at least k.</param>
    /// <param name="filter">Only keys for which this returns true are returned.</param>
    /// <param name="cancellationToken">Aborts a long search.</param>
    /// <returns>The number of hits written.</returns>
    public int SearchAndRerank(ReadOnlySpan<float> query, Span<SearchHit> destination, OriginalVectorLookup originals, int? efSearch = null,
                               int? rerank = null, Func<long, bool>? filter = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(originals);
        if (rerank is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(rerank), rerank, "rerank must be at least 1.");
        }
        return SearchCore(query, destination, efSearch, filter, cancellationToken, originals, rerank ?? int.MaxValue);
    }

    private int SearchCore(ReadOnlySpan<float> query, Span<SearchHit> destination, int? efSearch, Func<long, bool>? filter,
                           CancellationToken cancellationToken, OriginalVectorLookup? originals, int rerank)
    {
        ValidateQuery(query);
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
        SearchContext ctx = SearchContext.Rent();
        ctx.EnterSearch(this);
        try
        {
            // After the announcement: Dispose waits for this search, and retired slots stay untouched until it ends.
            ObjectDisposedException.ThrowIf(_disposed, this);
            long entry = Volatile.Read(ref _entry);
            if (entry == -1)
            {
                return 0;
            }
            Chunk[] chunks = Volatile.Read(ref _chunks);
            ctx.Prepare(_maxM0, _dim, _queryBytes, CapacityOf(chunks));
            fixed (byte* q = ctx.Query)
            {
                PrepareQuery(query, q);
                int cur = (int)entry;
                float curDist = _queryDistance(q, VectorPtr(chunks, cur), _dim);
                for (int l = (int)(entry >> 32); l > 0; l--)
                {
                    (cur, curDist) = GreedyStep(ctx, chunks, q, cur, curDist, l, _queryDistance);
                }
                SearchLayer(ctx, chunks, q, cur, curDist, 0, ef, -1, filter, cancellationToken, construction: false, _queryDistance, root: (int)entry);
            }
            int found = ctx.DrainResultsAscending();
            if (originals is not null)
            {
                found = Rerank(ctx, chunks, query, found, Math.Max(k, rerank), originals);
            }
            int n = Math.Min(found, k);
            SchedulePoint.Here();
            for (int i = 0; i < n; i++)
            {
                Candidate c = ctx.Sorted[i];
                destination[i] = new SearchHit(chunks[c.Id >> _chunkShift].Keys[c.Id & _chunkMask], c.Dist);
            }
            return n;
        }
        finally
        {
            ctx.ExitSearch();
            SearchContext.Return(ctx);
        }
    }

    /// <summary>Replaces the distances of the best <paramref name="count"/> sorted candidates by exact ones and re-sorts them; returns how many remain.</summary>
    private int Rerank(SearchContext ctx, Chunk[] chunks, ReadOnlySpan<float> query, int found, int count, OriginalVectorLookup originals)
    {
        int n = Math.Min(found, count);
        Span<float> q = ctx.Scratch.AsSpan(0, _dim);
        query.CopyTo(q);
        if (_metric == DistanceMetric.Cosine)
        {
            VectorDistance.Normalize(q);
        }
        Span<Candidate> best = ctx.Sorted.AsSpan(0, n);
        fixed (float* pq = q)
        {
            for (int i = 0; i < n; i++)
            {
                Candidate c = best[i];
                ReadOnlySpan<float> original = originals(chunks[c.Id >> _chunkShift].Keys[c.Id & _chunkMask]);
                if (original.Length == 0)
                {
                    continue;
                }
                if (original.Length != _dim)
                {
                    throw new ArgumentException($"The original vector has {original.Length} values; the index holds {_dim}-d vectors.", nameof(originals));
                }
                fixed (float* po = original)
                {
                    float d = _metric switch
                    {
                        DistanceMetric.SquaredL2 => VectorDistance.SquaredL2(pq, po, _dim),
                        DistanceMetric.InnerProduct => 1f - VectorDistance.Dot(pq, po, _dim),
                        _ => CosineDistance(pq, po, _dim),
                    };
                    best[i] = new Candidate(d, c.Id);
                }
            }
        }
        best.Sort(static (a, b) => a.Dist.CompareTo(b.Dist));
        return n;
    }

    private static float CosineDistance(float* unitQuery, float* v, int dim)
    {
        float norm = MathF.Sqrt(VectorDistance.Dot(v, v, dim));
        return norm > 0 ? 1f - (VectorDistance.Dot(unitQuery, v, dim) / norm) : 1f;
    }

    /// <summary>The query in the form <see cref="_queryDistance"/> takes: float32, normalised for cosine.</summary>
    private void PrepareQuery(ReadOnlySpan<float> query, byte* destination)
    {
        var q = new Span<float>(destination, _dim);
        query.CopyTo(q);
        if (_metric == DistanceMetric.Cosine)
        {
            VectorDistance.Normalize(q);
        }
    }

    private void ValidateQuery(ReadOnlySpan<float> query)
    {
        if (query.Length != _dim)
        {
            throw new ArgumentException($"Query has {query.Length} values; the index holds {_dim}-d vectors.", nameof(query));
        }
        int bad = IndexOfNonFinite(query);
        if (bad >= 0)
        {
            throw new ArgumentException($"Value {bad} of the query is {query[bad]}; queries must be finite.", nameof(query));
        }
    }

    /// <summary>Greedy descent on one upper layer: move to the nearest neighbour until none is nearer.</summary>
    private (int, float) GreedyStep(SearchContext ctx, Chunk[] chunks, byte* q, int cur, float curDist, int level,
                                    delegate*<byte*, byte*, int, float> distance)
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
                if (Sse.IsSupported && (uint)buf[j] < (uint)limit)
                {
                    PrefetchVector(chunks, buf[j]);
                }
            }
            for (int j = 0; j < n; j++)
            {
                int cand = buf[j];
                if ((uint)cand >= (uint)limit)
                {
                    continue;
                }
                float d = distance(q, VectorPtr(chunks, cand), _dim);
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
    /// filter; everything during construction) enter the result heap of size <paramref name="ef"/>. On layer 0 the
    /// entry point (<paramref name="root"/>, the root of the parent tree) is a second starting point: it costs one
    /// distance and is only expanded while the results are not full, which makes every live node findable when
    /// <paramref name="ef"/> is at least the number of acceptable nodes (a small index, a selective filter).
    /// </summary>
    private void SearchLayer(SearchContext ctx, Chunk[] chunks, byte* q, int entry, float entryDist, int level, int ef,
                             int exclude, Func<long, bool>? filter, CancellationToken token, bool construction,
                             delegate*<byte*, byte*, int, float> distance, int root = -1)
    {
        // The float32 kernels are inlined into their own copies of the loop; every other kernel is called through the pointer.
        if (_vectorType == VectorType.Float32 && _metric == DistanceMetric.SquaredL2)
        {
            SearchLayer<Float32L2>(ctx, chunks, q, entry, entryDist, level, ef, exclude, filter, token, construction, distance, root);
        }
        else if (_vectorType == VectorType.Float32)
        {
            SearchLayer<Float32Dot>(ctx, chunks, q, entry, entryDist, level, ef, exclude, filter, token, construction, distance, root);
        }
        else if (!construction) // searches use _queryDistance
        {
            // Searches on compressed vectors: the asymmetric kernels inlined too (inserts compare stored with stored through the pointer).
            bool l2 = _metric == DistanceMetric.SquaredL2;
            if (_vectorType == VectorType.Int8)
            {
                if (l2)
                {
                    SearchLayer<Int8L2>(ctx, chunks, q, entry, entryDist, level, ef, exclude, filter, token, construction, distance, root);
                }
                else
                {
                    SearchLayer<Int8Dot>(ctx, chunks, q, entry, entryDist, level, ef, exclude, filter, token, construction, distance, root);
                }
            }
            else if (l2)
            {
                SearchLayer<HalfL2>(ctx, chunks, q, entry, entryDist, level, ef, exclude, filter, token, construction, distance, root);
            }
            else
            {
                SearchLayer<HalfDot>(ctx, chunks, q, entry, entryDist, level, ef, exclude, filter, token, construction, distance, root);
            }
        }
        else
        {
            SearchLayer<ByPointer>(ctx, chunks, q, entry, entryDist, level, ef, exclude, filter, token, construction, distance, root);
        }
    }

    private readonly struct Int8L2 : IKernel
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Distance(delegate*<byte*, byte*, int, float> pointer, byte* a, byte* b, int dim) =>
            QuantizedDistance.QueryInline(VectorType.Int8, l2: true, a, b, dim);
    }

    private readonly struct Int8Dot : IKernel
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Distance(delegate*<byte*, byte*, int, float> pointer, byte* a, byte* b, int dim) =>
            QuantizedDistance.QueryInline(VectorType.Int8, l2: false, a, b, dim);
    }

    private readonly struct HalfL2 : IKernel
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Distance(delegate*<byte*, byte*, int, float> pointer, byte* a, byte* b, int dim) =>
            QuantizedDistance.QueryInline(VectorType.Float16, l2: true, a, b, dim);
    }

    private readonly struct HalfDot : IKernel
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Distance(delegate*<byte*, byte*, int, float> pointer, byte* a, byte* b, int dim) =>
            QuantizedDistance.QueryInline(VectorType.Float16, l2: false, a, b, dim);
    }

    /// <summary>A distance kernel the JIT can inline into <see cref="SearchLayer{TKernel}"/> (or the pointer call).</summary>
    private interface IKernel
    {
        static abstract float Distance(delegate*<byte*, byte*, int, float> pointer, byte* a, byte* b, int dim);
    }

    private readonly struct Float32L2 : IKernel
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Distance(delegate*<byte*, byte*, int, float> pointer, byte* a, byte* b, int dim) =>
            VectorDistance.SquaredL2Inline((float*)a, (float*)b, dim);
    }

    private readonly struct Float32Dot : IKernel
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Distance(delegate*<byte*, byte*, int, float> pointer, byte* a, byte* b, int dim) =>
            1f - VectorDistance.DotInline((float*)a, (float*)b, dim);
    }

    private readonly struct ByPointer : IKernel
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Distance(delegate*<byte*, byte*, int, float> pointer, byte* a, byte* b, int dim) => pointer(a, b, dim);
    }

    /// <summary>
    /// The loop of <see cref="SearchLayer"/>. Per expanded node it copies the neighbour list (seqlock), keeps the unvisited
    /// neighbours while prefetching their vectors (all of them in flight at once, instead of one at a time), then computes
    /// their distances; the next candidate's list is prefetched before it is popped. Array accesses whose indices the
    /// capacity check already bounds go through references without bounds checks.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void SearchLayer<TKernel>(SearchContext ctx, Chunk[] chunks, byte* q, int entry, float entryDist, int level, int ef,
                                      int exclude, Func<long, bool>? filter, CancellationToken token, bool construction,
                                      delegate*<byte*, byte*, int, float> distance, int root)
        where TKernel : struct, IKernel
    {
        ushort[] visitedArray = ctx.Visited;
        ushort stamp = ctx.NextStamp();
        int limit = ctx.Limit; // ≤ visitedArray.Length and ≤ chunks.Length << shift
        ref ushort visited = ref MemoryMarshal.GetArrayDataReference(visitedArray);
        ref Chunk chunk0 = ref MemoryMarshal.GetArrayDataReference(chunks);
        Span<int> buf = ctx.Links;
        CandidateHeap candidates = ctx.Candidates; // max-heap on −distance: nearest on top
        CandidateHeap results = ctx.Results;       // max-heap on distance: farthest on top
        candidates.Clear();
        results.Clear();
        if (exclude >= 0)
        {
            visitedArray[exclude] = stamp;
        }
        visitedArray[entry] = stamp;
        candidates.Push(-entryDist, entry);
        float bound = float.MaxValue;
        // The excluded node (one being relinked, which a descent can land on) routes but is never a result.
        if (entry != exclude && (construction || Acceptable(chunks, entry, filter)))
        {
            results.Push(entryDist, entry);
            bound = entryDist;
        }
        if (root >= 0 && (uint)root < (uint)limit && visitedArray[root] != stamp)
        {
            visitedArray[root] = stamp;
            float rootDist = TKernel.Distance(distance, q, VectorPtr(chunks, root), _dim);
            candidates.Push(-rootDist, root);
            if (construction || Acceptable(chunks, root, filter))
            {
                results.Push(rootDist, root);
                bound = results.Top.Dist;
            }
        }
        int shift = _chunkShift, mask = _chunkMask, dim = _dim;
        long stride = _vectorBytes;
        int lines = _prefetchLines;
        bool prefetch = Sse.IsSupported;
        // Until the first removal every reachable node is live or being inserted (its key and vector written before any
        // list links to it), so without a filter the state check can be skipped.
        bool acceptAll = construction || (filter is null && !Volatile.Read(ref _everRemoved));
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
            // Pass 1: unvisited neighbours, marked and their vectors prefetched.
            int fresh = 0;
            for (int j = 0; j < n; j++)
            {
                int next = buf[j];
                if ((uint)next >= (uint)limit)
                {
                    continue;
                }
                ref ushort seen = ref Unsafe.Add(ref visited, next);
                if (seen == stamp)
                {
                    continue;
                }
                seen = stamp;
                buf[fresh++] = next;
                if (prefetch)
                {
                    byte* v = Unsafe.Add(ref chunk0, next >> shift).Vectors + ((next & mask) * stride);
                    for (int line = 0; line < lines; line++)
                    {
                        Sse.Prefetch0(v + (line << 6));
                    }
                }
            }
            // Pass 2: distances.
            for (int j = 0; j < fresh; j++)
            {
                int next = buf[j];
                Chunk c = Unsafe.Add(ref chunk0, next >> shift);
                float d = TKernel.Distance(distance, q, c.Vectors + ((next & mask) * stride), dim);
                if (results.Count < ef || d < bound)
                {
                    candidates.Push(-d, next);
                    if (acceptAll || Acceptable(chunks, next, filter))
                    {
                        if (results.Count < ef)
                        {
                            results.Push(d, next);
                        }
                        else
                        {
                            results.ReplaceTop(d, next); // full: the farthest leaves, the new one enters (d < bound)
                        }
                        bound = results.Top.Dist;
                    }
                }
            }
            if (prefetch && candidates.Count > 0)
            {
                int nextId = candidates.Top.Id;
                if (level == 0 && (uint)nextId < (uint)limit)
                {
                    Sse.Prefetch0(Unsafe.Add(ref chunk0, nextId >> shift).Links0 + ((long)(nextId & mask) * _stride0));
                }
            }
        }
    }

    /// <summary>Prefetches a node's whole stored vector (up to <see cref="MaxPrefetchLines"/> cache lines).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void PrefetchVector(Chunk[] chunks, int id)
    {
        byte* v = VectorPtr(chunks, id);
        for (int line = 0; line < _prefetchLines; line++)
        {
            Sse.Prefetch0(v + (line << 6));
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
    private byte* VectorPtr(Chunk[] chunks, int id) => chunks[id >> _chunkShift].Vectors + (long)(id & _chunkMask) * _vectorBytes;

    private int FlagOf(Chunk[] chunks, int id) => Volatile.Read(ref chunks[id >> _chunkShift].Flags[id & _chunkMask]);

    /// <summary>Whether <paramref name="owner"/>'s layer-0 link to <paramref name="child"/> is the child's tree link (kept by every prune).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool IsTreeLink(Chunk[] chunks, int owner, int child) =>
        ParentOf(chunks, child) == owner && FlagOf(chunks, child) is not (Free or Retired);

    /// <summary>The node whose layer-0 list holds this node's tree link (−1 for the root and for unreachable nodes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int ParentOf(Chunk[] chunks, int id) => Volatile.Read(ref chunks[id >> _chunkShift].Parent[id & _chunkMask]);

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
        SchedulePoint.Here();
        while (true)
        {
            int v1 = Volatile.Read(ref version);
            if ((v1 & 1) == 0)
            {
                int n;
                if (upper is null)
                {
                    n = (int)Math.Min((uint)list[0], (uint)max);
                    CopyLinks(list + 1, buf, n);
                }
                else
                {
                    int offset = (level - 1) * _strideUpper;
                    n = (int)Math.Min((uint)upper[offset], (uint)max);
                    upper.AsSpan(offset + 1, n).CopyTo(buf);
                }
                // The copy's loads must complete before the version is read again. x86 keeps loads in order (TSO) and the
                // JIT does not move loads past a volatile read, so only weaker memory models need the fence.
                if (!X86Base.IsSupported)
                {
                    Interlocked.MemoryBarrier();
                }
                if (Volatile.Read(ref version) == v1)
                {
                    return n;
                }
            }
            SchedulePoint.Spin(ref spin);
        }
    }

    /// <summary>Copies <paramref name="n"/> link ids with vector moves (no call into memmove for a list of ≤ 2M ints).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyLinks(int* source, Span<int> destination, int n)
    {
        ref int dst = ref MemoryMarshal.GetReference(destination[..n]);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 8 <= n; i += 8)
            {
                Vector256.LoadUnsafe(ref Unsafe.AsRef<int>(source + i)).StoreUnsafe(ref Unsafe.Add(ref dst, i));
            }
        }
        for (; i < n; i++)
        {
            Unsafe.Add(ref dst, i) = source[i];
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
            SchedulePoint.Spin(ref spin);
        }
    }

    private static void UnlockNode(Chunk c, int local) => Volatile.Write(ref c.Locks[local], 0);

    /// <summary>Writer side of the seqlock (caller holds the node lock): version becomes odd, with a full fence before the data stores.</summary>
    private static void BeginWrite(Chunk c, int local)
    {
        Interlocked.Increment(ref c.Versions[local]);
        SchedulePoint.Here();
    }

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
            grown[i] = Chunk.Allocate(1 << _chunkShift, _vectorBytes, _stride0);
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

    /// <summary>
    /// Frees the native vector and link blocks (or unmaps the file). Searches and writes already running finish first;
    /// calls that start afterwards throw <see cref="ObjectDisposedException"/>.
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        Interlocked.MemoryBarrier();
        var spin = default(SpinWait);
        while (SearchContext.AnySearchOn(this))
        {
            SchedulePoint.Spin(ref spin);
        }
        // Writers check for disposal after taking the structure lock: once this lock is ours, none is left inside.
        SchedulePoint.EnterWrite(_structureLock);
        _structureLock.ExitWriteLock();
        foreach (Chunk c in _chunks)
        {
            c.Dispose();
        }
        _mapped?.Dispose();
        GC.SuppressFinalize(this);
    }

    // ------------------------------------------------------------------ types

    /// <summary>Supplies the caller's original float32 vector of a key for <see cref="SearchAndRerank"/>, or an empty span when it has none.</summary>
    /// <param name="key">A key returned by the index.</param>
    public delegate ReadOnlySpan<float> OriginalVectorLookup(long key);

    [StructLayout(LayoutKind.Sequential)]
    internal readonly record struct Candidate(float Dist, int Id);

    /// <summary>One fixed-size block of nodes. Vectors and layer-0 links are native, 64-byte aligned; never moved.</summary>
    internal sealed class Chunk : IDisposable
    {
        public byte* Vectors;
        public int* Links0;
        public long[] Keys = [];
        public int[] Levels = [];
        public int[] Flags = [];
        public int[] Versions = [];
        public int[] Locks = [];
        public int[] Parent = [];
        public int[]?[] Upper = [];
        private void* _owned0;
        private void* _owned1;

        public static Chunk Allocate(int size, int vectorBytes, int stride0)
        {
            var c = new Chunk();
            c._owned0 = NativeMemory.AlignedAlloc((nuint)((long)size * vectorBytes), 64);
            c._owned1 = NativeMemory.AlignedAlloc((nuint)((long)size * stride0 * sizeof(int)), 64);
            c.Vectors = (byte*)c._owned0;
            c.Links0 = (int*)c._owned1;
            new Span<int>(c.Links0, size * stride0).Clear();
            c.InitManaged(size);
            return c;
        }

        /// <summary>A chunk whose vectors and links live in a memory-mapped file (not owned).</summary>
        public static Chunk Mapped(byte* vectors, int* links0, int size)
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
            Parent = new int[size];
            Parent.AsSpan().Fill(-1);
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
