using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ImageRetrieval.ML.VectorStores;
using Microsoft.Extensions.VectorData;

namespace ImageRetrieval.Benchmarks.Indexing;

/// <summary>
/// Filtered vector search through the HNSW VectorData collection: recall@10 against exact filtered search, and queries/s,
/// at filter selectivities 100 % (no filter), 50, 20, 10, 5, 2, 1 and 0.1 %, for the three strategies the collection has —
/// the filter inside the graph traversal, an exact scan of the matching records, and the automatic choice between them.
/// <code>dotnet run -c Release --project bench/ImageRetrieval.Benchmarks -- filtered-search [--items 100000] [--dim 64]
///   [--clusters 1000] [--spread-percent 100] [--queries 1000] [--ef 64] [--repeats 3] [--seed 1] [--only graph|exact|auto]</code>
/// Items are clustered Gaussian vectors (as hnsw-churn); each carries <c>Bucket</c>, uniform in 0..999 and independent of its
/// vector, so <c>Bucket &lt; 500</c> keeps 50 % — the hard case for a graph walk (the filter does not follow the clusters).
/// One thread; queries/s is the median of the repeats. Prints one JSON line per (selectivity, strategy).
/// </summary>
internal static class FilteredSearch
{
    public const string Command = "filtered-search";

    public static async Task<int> Run(string[] args)
    {
        int Arg(string name, int fallback)
        {
            int i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
        }
        int items = Arg("--items", 100_000), dim = Arg("--dim", 64), clusters = Arg("--clusters", 1000), queryCount = Arg("--queries", 1000);
        int ef = Arg("--ef", 64), repeats = Arg("--repeats", 3), seed = Arg("--seed", 1);
        float spread = Arg("--spread-percent", 100) / 100f;
        int onlyAt = Array.IndexOf(args, "--only");
        string? only = onlyAt >= 0 && onlyAt + 1 < args.Length ? args[onlyAt + 1] : null;
        var random = new Random(seed);
        var generator = new ClusteredVectors(dim, clusters, seed, spread);
        var vectors = new float[items][];
        var buckets = new int[items];
        for (int i = 0; i < items; i++)
        {
            vectors[i] = generator.Next(random);
            buckets[i] = random.Next(1000);
        }
        float[][] queries = Enumerable.Range(0, queryCount).Select(_ => generator.Next(random)).ToArray();

        using var store = new HnswVectorStore(new HnswVectorStoreOptions
        {
            SaveOnEveryWrite = false,
            Hnsw = new() { Seed = seed, DefaultEfSearch = ef },
        });
        var definition = new VectorStoreCollectionDefinition
        {
            Properties =
            [
                new VectorStoreKeyProperty("Key", typeof(long)),
                new VectorStoreDataProperty("Bucket", typeof(int)) { IsIndexed = true },
                new VectorStoreVectorProperty("Vector", typeof(ReadOnlyMemory<float>), dim) { DistanceFunction = DistanceFunction.EuclideanSquaredDistance },
            ],
        };
        var collection = store.GetDynamicCollection("filtered", definition);
        await collection.EnsureCollectionExistsAsync();
        var watch = Stopwatch.StartNew();
        for (int start = 0; start < items; start += 10_000)
        {
            await collection.UpsertAsync(Enumerable.Range(start, Math.Min(10_000, items - start)).Select(i => new Dictionary<string, object?>
            {
                ["Key"] = (long)i,
                ["Bucket"] = buckets[i],
                ["Vector"] = new ReadOnlyMemory<float>(vectors[i]),
            }));
        }
        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["event"] = "built", ["items"] = items, ["dim"] = dim, ["seconds"] = Math.Round(watch.Elapsed.TotalSeconds, 1),
        }));
        CollectionStorage storage = store.OpenCollection("filtered")!;
        HnswStoreSettings defaults = storage.Settings;

        foreach (int permille in new[] { 1000, 500, 200, 100, 50, 20, 10, 1 })
        {
            // Ground truth: the ten nearest among the matching items, by brute force.
            var truth = queries.Select(q => Enumerable.Range(0, items).Where(i => buckets[i] < permille)
                .Select(i => (i, d: SquaredL2(q, vectors[i]))).OrderBy(p => p.d).Take(10).Select(p => (long)p.i).ToHashSet()).ToArray();
            foreach (var (strategy, threshold) in new[] { ("graph", 0), ("exact", int.MaxValue), ("auto", defaults.ExactFilteredSearchThreshold) })
            {
                if ((permille == 1000 && strategy != "graph") || (only is not null && only != strategy && permille != 1000))
                {
                    continue; // no filter: always the graph
                }
                storage.Settings = defaults with { ExactFilteredSearchThreshold = threshold };
                int limit = permille;
                var options = permille == 1000 ? new VectorSearchOptions<Dictionary<string, object?>>()
                    : new VectorSearchOptions<Dictionary<string, object?>> { Filter = r => (int)r["Bucket"]! < limit };
                double hits = 0;
                var rates = new List<double>();
                for (int repeat = 0; repeat < repeats; repeat++)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    for (int qi = 0; qi < queries.Length; qi++)
                    {
                        await foreach (var result in collection.SearchAsync(new ReadOnlyMemory<float>(queries[qi]), 10, options))
                        {
                            if (repeat == 0 && truth[qi].Contains((long)result.Record["Key"]!))
                            {
                                hits++;
                            }
                        }
                    }
                    rates.Add(queries.Length / Stopwatch.GetElapsedTime(t0).TotalSeconds);
                }
                rates.Sort();
                Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["selectivity_percent"] = permille / 10.0,
                    ["strategy"] = strategy,
                    ["recall_at_10"] = Math.Round(hits / (10.0 * queries.Length), 4),
                    ["queries_per_second"] = Math.Round(rates[rates.Count / 2]),
                    ["ef"] = ef,
                }));
            }
        }
        storage.Settings = defaults;
        return 0;
    }

    private static float SquaredL2(float[] a, float[] b)
    {
        float sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            float d = a[i] - b[i];
            sum += d * d;
        }
        return sum;
    }
}
