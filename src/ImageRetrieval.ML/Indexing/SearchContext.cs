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

    private uint _stamp;

    public uint[] Visited = [];
    /// <summary>Node ids at or above this are ignored (not yet covered by the visited array / chunk snapshot).</summary>
    public int Limit;
    public int[] Links = [];
    public float[] Query = [];
    public readonly CandidateHeap Candidates = new();
    public readonly CandidateHeap Results = new();
    public Candidate[] Sorted = new Candidate[64];
    public Candidate[] Selected = [];
    public Candidate[] Selected2 = [];
    public Candidate[] Merge = [];

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

    public void Prepare(int maxM0, int dim, int capacity)
    {
        if (Visited.Length < capacity)
        {
            // Grow geometrically so that a growing index reallocates rarely.
            Visited = new uint[Math.Max(capacity, Math.Min(Array.MaxLength, Visited.Length * 2))];
            _stamp = 0;
        }
        Limit = capacity;
        if (Links.Length < maxM0)
        {
            Links = new int[maxM0];
            Selected = new Candidate[maxM0];
            Selected2 = new Candidate[maxM0];
            Merge = new Candidate[maxM0 * (maxM0 + 2)];
        }
        if (Query.Length < dim)
        {
            Query = new float[dim];
        }
    }

    public uint NextStamp()
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
        Candidate[] items = _items;
        Candidate top = items[0];
        Candidate last = items[--_count];
        int n = _count;
        int i = 0;
        while (true)
        {
            int child = (2 * i) + 1;
            if (child >= n)
            {
                break;
            }
            if (child + 1 < n && items[child + 1].Dist > items[child].Dist)
            {
                child++;
            }
            if (items[child].Dist <= last.Dist)
            {
                break;
            }
            items[i] = items[child];
            i = child;
        }
        items[i] = last;
        return top;
    }
}
