using ImageRetrieval.ML.Indexing;

namespace ImageRetrieval.ML.Tests.Indexing;

/// <summary>Seeded synthetic vectors and exact answers for the index tests.</summary>
internal static class VectorData
{
    public static float[] Gaussian(int count, int dim, int seed)
    {
        var random = new Random(seed);
        var v = new float[count * dim];
        for (int i = 0; i < v.Length; i++)
        {
            v[i] = (float)Normal(random);
        }
        return v;
    }

    public static float[] Clustered(int count, int dim, int clusters, int seed, float spread = 0.15f)
    {
        var random = new Random(seed);
        float[] centres = Gaussian(clusters, dim, seed + 1);
        var v = new float[count * dim];
        for (int i = 0; i < count; i++)
        {
            int c = random.Next(clusters);
            for (int j = 0; j < dim; j++)
            {
                v[(i * dim) + j] = centres[(c * dim) + j] + (spread * (float)Normal(random));
            }
        }
        return v;
    }

    public static ReadOnlySpan<float> Row(float[] data, int dim, int i) => data.AsSpan(i * dim, dim);

    public static (long Key, ReadOnlyMemory<float> Vector)[] Items(float[] data, int dim, long firstKey = 0) =>
        Enumerable.Range(0, data.Length / dim).Select(i => (firstKey + i, (ReadOnlyMemory<float>)data.AsMemory(i * dim, dim))).ToArray();

    public static HnswIndex Build(float[] data, int dim, DistanceMetric metric = DistanceMetric.SquaredL2, int m = 16, int efConstruction = 100,
                                  int seed = 42, int threads = 1, double compactionThreshold = HnswOptions.Defaults.CompactionThreshold)
    {
        var index = new HnswIndex(dim, metric, new HnswOptions { M = m, EfConstruction = efConstruction, Seed = seed, CompactionThreshold = compactionThreshold });
        index.AddRange(Items(data, dim), threads);
        return index;
    }

    public static BruteForceIndex Exact(float[] data, int dim, DistanceMetric metric = DistanceMetric.SquaredL2)
    {
        var index = new BruteForceIndex(dim, metric, maxDegreeOfParallelism: 1);
        index.AddRange(Items(data, dim));
        return index;
    }

    /// <summary>Mean recall@k of <paramref name="approx"/> against <paramref name="exact"/> over the queries.</summary>
    public static double Recall(IVectorIndex approx, IVectorIndex exact, float[] queries, int dim, int k, int ef, Func<long, bool>? filter = null)
    {
        int nq = queries.Length / dim;
        long found = 0, wanted = 0;
        for (int i = 0; i < nq; i++)
        {
            var truth = exact.Search(Row(queries, dim, i), k, filter: filter).Select(h => h.Key).ToHashSet();
            var got = approx.Search(Row(queries, dim, i), k, ef, filter);
            found += got.Count(h => truth.Contains(h.Key));
            wanted += truth.Count;
        }
        return wanted == 0 ? 1 : (double)found / wanted;
    }

    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
