using ImageRetrieval.ML.Indexing;
using static ImageRetrieval.ML.Tests.Indexing.VectorData;

namespace ImageRetrieval.ML.Tests.Indexing;

public class HnswIndexTests
{
    [Theory]
    [InlineData(DistanceMetric.SquaredL2, 0.95)]
    [InlineData(DistanceMetric.InnerProduct, 0.90)]
    [InlineData(DistanceMetric.Cosine, 0.95)]
    public void Recall_on_random_gaussian_data_is_above_bound(DistanceMetric metric, double bound)
    {
        const int dim = 24;
        float[] data = Gaussian(2000, dim, seed: 1);
        float[] queries = Gaussian(100, dim, seed: 2);
        using var index = Build(data, dim, metric);
        using var exact = Exact(data, dim, metric);
        double recall = Recall(index, exact, queries, dim, k: 10, ef: 100);
        Assert.True(recall >= bound, $"recall@10 = {recall:F3} < {bound} for {metric}");
    }

    [Fact]
    public void Recall_on_clustered_data_is_above_bound()
    {
        const int dim = 16;
        float[] data = Clustered(2000, dim, clusters: 25, seed: 3);
        float[] queries = Clustered(100, dim, clusters: 25, seed: 3 + 1000);
        using var index = Build(data, dim);
        using var exact = Exact(data, dim);
        double recall = Recall(index, exact, queries, dim, k: 10, ef: 64);
        Assert.True(recall >= 0.95, $"recall@10 = {recall:F3}");
    }

    [Fact]
    public void Parallel_build_reaches_the_same_recall_bound()
    {
        const int dim = 16;
        float[] data = Gaussian(2000, dim, seed: 5);
        float[] queries = Gaussian(100, dim, seed: 6);
        using var index = Build(data, dim, threads: 4);
        using var exact = Exact(data, dim);
        Assert.Equal(2000, index.Count);
        double recall = Recall(index, exact, queries, dim, k: 10, ef: 100);
        Assert.True(recall >= 0.95, $"recall@10 = {recall:F3}");
    }

    [Fact]
    public void Results_are_sorted_distinct_and_k_is_honoured_including_k_above_count()
    {
        const int dim = 8;
        float[] data = Gaussian(50, dim, seed: 7);
        using var index = Build(data, dim);
        float[] q = Gaussian(1, dim, seed: 8);
        foreach (int k in new[] { 1, 5, 50, 51, 500 })
        {
            SearchHit[] hits = index.Search(q, k, efSearch: 10);
            Assert.Equal(Math.Min(k, 50), hits.Length);
            Assert.Equal(hits.Length, hits.Select(h => h.Key).Distinct().Count());
            for (int i = 1; i < hits.Length; i++)
            {
                Assert.True(hits[i - 1].Distance <= hits[i].Distance);
            }
        }
        // k > Count with ef >= n finds everything on a small graph.
        Assert.Equal(Enumerable.Range(0, 50).Select(i => (long)i).ToHashSet(), index.Search(q, 100).Select(h => h.Key).ToHashSet());
    }

    [Fact]
    public void Empty_index_and_argument_checks()
    {
        using var index = new HnswIndex(4);
        Assert.Empty(index.Search(new float[4], 3));
        Assert.Equal(0, index.Count);
        Assert.Throws<ArgumentException>(() => index.Add(1, new float[3]));
        Assert.Throws<ArgumentException>(() => index.Search(new float[5], 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => index.Search(new float[4], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HnswIndex(4, options: new HnswOptions { M = 1 }));
        index.Add(7, [1, 2, 3, 4]);
        SearchHit hit = Assert.Single(index.Search(new float[] { 1, 2, 3, 4 }, 5));
        Assert.Equal(new SearchHit(7, 0), hit);
        Assert.True(index.Contains(7));
        Assert.False(index.Contains(8));
    }

    [Fact]
    public void Filter_is_respected()
    {
        const int dim = 16;
        float[] data = Gaussian(2000, dim, seed: 9);
        float[] queries = Gaussian(50, dim, seed: 10);
        using var index = Build(data, dim);
        using var exact = Exact(data, dim);
        static bool Even(long key) => key % 2 == 0;
        for (int i = 0; i < 50; i++)
        {
            Assert.All(index.Search(Row(queries, dim, i), 10, 50, Even), h => Assert.True(Even(h.Key)));
        }
        double recall = Recall(index, exact, queries, dim, 10, 64, Even);
        Assert.True(recall >= 0.95, $"filtered recall@10 = {recall:F3}");
        // A filter that admits only three keys still finds them (the search keeps going until ef acceptable hits or exhaustion).
        var few = new HashSet<long> { 3, 1001, 1999 };
        Assert.Equal(few, index.Search(Row(queries, dim, 0), 10, 10, few.Contains).Select(h => h.Key).ToHashSet());
    }

    [Fact]
    public void Removed_keys_are_never_returned_before_or_after_compaction_and_slots_are_reused()
    {
        const int dim = 16;
        float[] data = Gaussian(2000, dim, seed: 11);
        float[] queries = Gaussian(100, dim, seed: 12);
        using var index = Build(data, dim, compactionThreshold: 0); // compaction by hand here
        var removed = new HashSet<long>();
        var random = new Random(13);
        while (removed.Count < 600)
        {
            long key = random.Next(2000);
            if (removed.Add(key))
            {
                Assert.True(index.Remove(key));
            }
        }
        Assert.False(index.Remove(removed.First()));
        Assert.Equal(1400, index.Count);
        Assert.Equal(600, index.DeletedCount);
        Assert.DoesNotContain(index.Search(Row(data, dim, (int)removed.First()), 1), h => h.Key == removed.First());

        using var exact = Exact(data, dim);
        foreach (long key in removed)
        {
            exact.Remove(key);
        }
        void Check(double bound)
        {
            for (int i = 0; i < 100; i++)
            {
                Assert.All(index.Search(Row(queries, dim, i), 20, 40), h => Assert.DoesNotContain(h.Key, removed));
            }
            double recall = Recall(index, exact, queries, dim, 10, 64);
            Assert.True(recall >= bound, $"recall@10 after removals = {recall:F3}");
        }
        Check(0.93);

        Assert.Equal(600, index.Compact());
        Assert.Equal(0, index.DeletedCount);
        Check(0.93);

        // New keys reuse the recycled slots.
        int slots = index.SlotCount;
        float[] extra = Gaussian(300, dim, seed: 14);
        index.AddRange(Items(extra, dim, firstKey: 10_000));
        exact.AddRange(Items(extra, dim, firstKey: 10_000));
        Assert.Equal(slots, index.SlotCount);
        Assert.Equal(1700, index.Count);
        Check(0.93);
    }

    [Fact]
    public void Re_adding_a_key_updates_its_vector()
    {
        const int dim = 8;
        float[] data = Gaussian(500, dim, seed: 15);
        using var index = Build(data, dim);
        float[] moved = Enumerable.Repeat(10f, dim).ToArray();
        index.Add(42, moved);
        Assert.Equal(500, index.Count);
        SearchHit top = index.Search(moved, 1)[0];
        Assert.Equal(new SearchHit(42, 0), top);
        // The old position no longer yields key 42 at distance 0.
        Assert.DoesNotContain(index.Search(Row(data, dim, 42), 5), h => h.Key == 42 && h.Distance == 0);
    }

    [Fact]
    public void Single_threaded_builds_are_deterministic()
    {
        const int dim = 12;
        float[] data = Gaussian(1500, dim, seed: 16);
        using var a = Build(data, dim, seed: 7);
        using var b = Build(data, dim, seed: 7);
        var sa = new MemoryStream();
        var sb = new MemoryStream();
        a.Save(sa);
        b.Save(sb);
        Assert.Equal(sa.ToArray(), sb.ToArray());
        float[] q = Gaussian(20, dim, seed: 17);
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(a.Search(Row(q, dim, i), 10, 20), b.Search(Row(q, dim, i), 10, 20));
        }
    }

    [Fact]
    public void Search_honours_cancellation()
    {
        const int dim = 8;
        float[] data = Gaussian(3000, dim, seed: 18);
        using var index = Build(data, dim, efConstruction: 40);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.Throws<OperationCanceledException>(() => index.Search(new float[dim], 10, 1000, cancellationToken: cts.Token));
        // The per-thread context is still usable afterwards.
        Assert.Equal(10, index.Search(new float[dim], 10).Length);
    }

    [Fact]
    public void Allocation_free_search_overload_writes_into_the_destination()
    {
        const int dim = 8;
        float[] data = Gaussian(300, dim, seed: 19);
        using var index = Build(data, dim);
        Span<SearchHit> hits = stackalloc SearchHit[10];
        index.Search(Row(data, dim, 0), hits, 32); // warm
        for (int i = 0; i < 100; i++)
        {
            index.Search(Row(data, dim, i), hits, 32); // and past tier-up (the JIT's own allocations count on this thread)
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        int n = 0;
        for (int i = 0; i < 100; i++)
        {
            n = index.Search(Row(data, dim, i), hits, 32);
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(10, n);
        Assert.Equal(0, allocated);
    }
}
