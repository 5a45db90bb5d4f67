using CsCheck;
using ImageRetrieval.ML.Indexing;
using static ImageRetrieval.ML.Tests.Indexing.VectorData;

namespace ImageRetrieval.ML.Tests.Indexing;

public class IndexPropertyTests
{
    private static double TrueSquaredL2(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = a[i] - b[i];
            s += d * d;
        }
        return s;
    }

    [Fact]
    public unsafe void Distance_kernels_match_a_scalar_reference_for_every_length()
    {
        Gen.Int[1, 300].SelectMany(n => Gen.Select(Gen.Float[-100, 100].Array[n], Gen.Float[-100, 100].Array[n])).Sample(t =>
        {
            var (a, b) = t;
            double dot = 0;
            for (int i = 0; i < a.Length; i++)
            {
                dot += (double)a[i] * b[i];
            }
            double l2 = TrueSquaredL2(a, b);
            fixed (float* pa = a, pb = b)
            {
                Assert.Equal(l2, VectorDistance.SquaredL2(pa, pb, a.Length), 1e-3 * Math.Max(1, l2));
                Assert.Equal(dot, VectorDistance.Dot(pa, pb, a.Length), 1e-3 * Math.Max(1, Math.Abs(dot)) + 1e-2);
            }
        }, iter: 300);
    }

    [Fact]
    public void Hnsw_results_are_sorted_distinct_live_exact_distances_and_k_bounded()
    {
        Gen.Select(Gen.Int[1, 80], Gen.Int[1, 8], Gen.Int[1, 20], Gen.Int[0, 1000], Gen.Int[0, 40]).Sample(t =>
        {
            var (n, dim, k, seed, removals) = t;
            float[] data = Gaussian(n, dim, seed);
            using HnswIndex index = Build(data, dim, m: 4, efConstruction: 20, seed: seed);
            var random = new Random(seed);
            var removed = new HashSet<long>();
            for (int i = 0; i < Math.Min(removals, n - 1); i++)
            {
                long key = random.Next(n);
                if (removed.Add(key))
                {
                    Assert.True(index.Remove(key));
                }
            }
            Assert.Equal(n - removed.Count, index.Count);
            float[] q = Gaussian(1, dim, seed + 1);
            SearchHit[] hits = index.Search(q, k, efSearch: n + k);
            Assert.Equal(Math.Min(k, index.Count), hits.Length);
            Assert.Equal(hits.Length, hits.Select(h => h.Key).Distinct().Count());
            for (int i = 0; i < hits.Length; i++)
            {
                Assert.DoesNotContain(hits[i].Key, removed);
                Assert.True(index.Contains(hits[i].Key));
                Assert.Equal(TrueSquaredL2(q, Row(data, dim, (int)hits[i].Key)), hits[i].Distance, 1e-3);
                Assert.True(i == 0 || hits[i - 1].Distance <= hits[i].Distance);
            }
        }, iter: 150);
    }

    [Fact]
    public void Brute_force_matches_a_naive_sort_and_batch_search_matches_single_search()
    {
        Gen.Select(Gen.Int[1, 120], Gen.Int[1, 10], Gen.Int[1, 15], Gen.Int[0, 1000]).Sample(t =>
        {
            var (n, dim, k, seed) = t;
            float[] data = Gaussian(n, dim, seed);
            using BruteForceIndex exact = Exact(data, dim);
            float[] queries = Gaussian(3, dim, seed + 7);
            SearchHit[][] batch = exact.SearchBatch(queries, k, maxDegreeOfParallelism: 2);
            for (int qi = 0; qi < 3; qi++)
            {
                float[] q = Row(queries, dim, qi).ToArray();
                double[] expected = Enumerable.Range(0, n).Select(i => TrueSquaredL2(q, Row(data, dim, i))).Order().Take(k).ToArray();
                SearchHit[] hits = exact.Search(q, k);
                Assert.Equal(expected.Length, hits.Length);
                for (int i = 0; i < hits.Length; i++)
                {
                    Assert.Equal(expected[i], hits[i].Distance, 1e-3);
                    Assert.Equal(hits[i].Distance, batch[qi][i].Distance);
                }
            }
        }, iter: 100);
    }
}

public class BruteForceIndexTests
{
    [Fact]
    public void Add_update_remove_filter_and_parallel_scan()
    {
        const int dim = 64;
        float[] data = Gaussian(20_000, dim, seed: 41); // 1.28 M floats: above the parallel threshold
        using var parallel = new BruteForceIndex(dim, maxDegreeOfParallelism: 2);
        using var serial = new BruteForceIndex(dim, maxDegreeOfParallelism: 1);
        parallel.AddRange(Items(data, dim));
        serial.AddRange(Items(data, dim));
        float[] q = Gaussian(1, dim, seed: 42);
        Assert.Equal(serial.Search(q, 10), parallel.Search(q, 10));
        Assert.All(parallel.Search(q, 10, filter: k => k % 5 == 0), h => Assert.Equal(0, h.Key % 5));

        long nearest = parallel.Search(q, 1)[0].Key;
        Assert.True(parallel.Remove(nearest));
        Assert.False(parallel.Contains(nearest));
        Assert.DoesNotContain(parallel.Search(q, 10), h => h.Key == nearest);
        parallel.Add(nearest, q);
        Assert.Equal(new SearchHit(nearest, 0), parallel.Search(q, 1)[0]);
        parallel.Add(nearest, Row(data, dim, 0));
        Assert.Equal(20_000, parallel.Count);
    }

    [Fact]
    public void Cosine_normalises_vectors_and_queries()
    {
        using var index = new BruteForceIndex(2, DistanceMetric.Cosine);
        index.Add(1, [10, 0]);
        index.Add(2, [0, 3]);
        SearchHit[] hits = index.Search(new float[] { 5, 0.1f }, 2);
        Assert.Equal(1, hits[0].Key);
        Assert.True(hits[0].Distance < 0.01f);
        Assert.Equal(1, hits[1].Distance, 0.05);
    }
}
