using Candidate = ImageRetrieval.ML.Indexing.HnswIndex.Candidate;

namespace ImageRetrieval.ML.Indexing;

/// <summary>
/// Per-thread scratch space of a search or insert, reused so that a search allocates nothing: the visited set
/// (a version-stamped array, reset in O(1) by bumping the stamp), both heaps and small buffers.
/// </summary>
internal sealed class SearchContext
{
    [ThreadStatic]
    private static SearchContext? t_cached;

    // Every context ever created (weakly), so that slot reclamation and Dispose can see which searches are in flight.
    private static readonly Lock s_registryLock = new();
    private static WeakReference<SearchContext>[] s_registry = [];
    private static long s_epoch = 1;

    private ushort _stamp;

    /// <summary>The global epoch when the search running on this context started; 0 while idle.</summary>
    private long _activeEpoch;

    /// <summary>The index the running search reads; null while idle.</summary>
    private HnswIndex? _activeIndex;

    private SearchContext()
    {
        lock (s_registryLock)
        {
            WeakReference<SearchContext>[] old = s_registry;
            var next = new List<WeakReference<SearchContext>>(old.Length + 1);
            foreach (WeakReference<SearchContext> w in old)
            {
                if (w.TryGetTarget(out _))
                {
                    next.Add(w);
                }
            }
            next.Add(new WeakReference<SearchContext>(this));
            Volatile.Write(ref s_registry, next.ToArray());
        }
    }

    /// <summary>Visit stamps, 2 bytes per node (as hnswlib: 2 MB for a million nodes, so it stays in cache longer); cleared every 65,535 searches.</summary>
    public ushort[] Visited = [];
    /// <summary>Node ids at or above this are ignored (not yet covered by the visited array / chunk snapshot).</summary>
    public int Limit;
    public int[] Links = [];
    /// <summary>The prepared query (float32, or the int8 stored form), pinned while a search runs.</summary>
    public byte[] Query = [];
    /// <summary>One vector of float scratch (cosine normalisation before encoding).</summary>
    public float[] Scratch = [];
    public readonly CandidateHeap Candidates = new();
    public readonly CandidateHeap Results = new();
    public Candidate[] Sorted = new Candidate[64];
    public Candidate[] Selected = [];
    public Candidate[] Selected2 = [];
    public Candidate[] Merge = [];
    /// <summary>A list's previous and next contents while a writer replaces it (layer-0 in-degree bookkeeping).</summary>
    public int[] OldLinks = [];
    public int[] Links2 = [];
    /// <summary>Compaction's walk through removed nodes.</summary>
    public int[] Queue = [];

    /// <summary>Takes this thread's context (a nested call, e.g. from a filter, gets a fresh one).</summary>
    public static SearchContext Rent()
    {
        SearchContext? c = t_cached;
        if (c is not null)
        {
            t_cached = null;
            return c;
        }
        return new SearchContext();
    }

    public static void Return(SearchContext context) => t_cached = context;

    /// <summary>
    /// Announces a search on <paramref name="index"/>: until <see cref="ExitSearch"/>, slots retired after this point
    /// are not reused and the index is not freed. The full fence orders the announcement before every read of the graph
    /// (the reclaimer orders its graph writes before reading announcements), so either the reclaimer sees this search
    /// or this search sees the graph without the retired slots.
    /// </summary>
    public void EnterSearch(HnswIndex index)
    {
        _activeIndex = index;
        Volatile.Write(ref _activeEpoch, Volatile.Read(ref s_epoch));
        Interlocked.MemoryBarrier();
    }

    public void ExitSearch()
    {
        Volatile.Write(ref _activeEpoch, 0);
        Volatile.Write(ref _activeIndex, null);
    }

    /// <summary>Starts a new epoch and returns it: searches announced before this call hold older epochs.</summary>
    public static long AdvanceEpoch() => Interlocked.Increment(ref s_epoch);

    /// <summary>Whether every search that started before <paramref name="epoch"/> has finished.</summary>
    public static bool AllSearchesStartedBefore(long epoch)
    {
        foreach (WeakReference<SearchContext> w in Volatile.Read(ref s_registry))
        {
            if (w.TryGetTarget(out SearchContext? c))
            {
                long active = Volatile.Read(ref c._activeEpoch);
                if (active != 0 && active < epoch)
                {
                    return false;
                }
            }
        }
        return true;
    }

    /// <summary>Whether a search on <paramref name="index"/> is in flight on any thread.</summary>
    public static bool AnySearchOn(HnswIndex index)
    {
        foreach (WeakReference<SearchContext> w in Volatile.Read(ref s_registry))
        {
            if (w.TryGetTarget(out SearchContext? c) && ReferenceEquals(Volatile.Read(ref c._activeIndex), index))
            {
                return true;
            }
        }
        return false;
    }

    public void Prepare(int maxM0, int dim, int queryBytes, int capacity)
    {
        if (Visited.Length < capacity)
        {
            // Grow geometrically so that a growing index reallocates rarely.
            Visited = new ushort[Math.Max(capacity, Math.Min(Array.MaxLength, Visited.Length * 2))];
            _stamp = 0;
        }
        Limit = capacity;
        if (Links.Length < maxM0)
        {
            Links = new int[maxM0];
            Selected = new Candidate[maxM0];
            Selected2 = new Candidate[maxM0];
            Merge = new Candidate[maxM0 * (maxM0 + 2)];
            OldLinks = new int[maxM0 + 1];
            Links2 = new int[maxM0 + 1];
            Queue = new int[8 * maxM0];
        }
        if (Query.Length < queryBytes)
        {
            Query = new byte[queryBytes];
        }
        if (Scratch.Length < dim)
        {
            Scratch = new float[dim];
        }
    }

    public ushort NextStamp()
    {
        if (++_stamp == 0)
        {
            Array.Clear(Visited);
            _stamp = 1;
        }
        return _stamp;
    }

    /// <summary>Empties the result heap into <see cref="Sorted"/>, nearest first.</summary>
    public int DrainResultsAscending()
    {
        int n = Results.Count;
        if (Sorted.Length < n)
        {
            Sorted = new Candidate[Math.Max(n, Sorted.Length * 2)];
        }
        for (int i = n - 1; i >= 0; i--)
        {
            Sorted[i] = Results.Pop();
        }
        return n;
    }
}

/// <summary>Binary max-heap of (distance, id) on distance over a reusable array (push −d for a min-heap).</summary>
internal sealed class CandidateHeap
{
    private Candidate[] _items = new Candidate[256];
    private int _count;

    public int Count => _count;

    public Candidate Top => _items[0];

    public void Clear() => _count = 0;

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public void Push(float dist, int id)
    {
        if (_count == _items.Length)
        {
            Array.Resize(ref _items, _count * 2);
        }
        Candidate[] items = _items;
        int i = _count++;
        while (i > 0)
        {
            int parent = (i - 1) >> 1;
            if (items[parent].Dist >= dist)
            {
                break;
            }
            items[i] = items[parent];
            i = parent;
        }
        items[i] = new Candidate(dist, id);
    }

    public Candidate Pop()
    {
        Candidate top = _items[0];
        Candidate last = _items[--_count];
        if (_count > 0)
        {
            SiftDown(last);
        }
        return top;
    }

    /// <summary>Pop followed by Push in one sift (the result heap when it is full and a nearer node arrives).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public void ReplaceTop(float dist, int id) => SiftDown(new Candidate(dist, id));

    /// <summary>Places <paramref name="item"/> from the root down: the hole at the root moves to the larger child while that child is larger.</summary>
    private void SiftDown(Candidate item)
    {
        int n = _count;
        ref Candidate items = ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(_items);
        int i = 0;
        while (true)
        {
            int child = (2 * i) + 1;
            if (child >= n)
            {
                break;
            }
            ref Candidate c = ref System.Runtime.CompilerServices.Unsafe.Add(ref items, child);
            if (child + 1 < n && System.Runtime.CompilerServices.Unsafe.Add(ref items, child + 1).Dist > c.Dist)
            {
                child++;
                c = ref System.Runtime.CompilerServices.Unsafe.Add(ref items, child);
            }
            if (c.Dist <= item.Dist)
            {
                break;
            }
            System.Runtime.CompilerServices.Unsafe.Add(ref items, i) = c;
            i = child;
        }
        System.Runtime.CompilerServices.Unsafe.Add(ref items, i) = item;
    }
}
