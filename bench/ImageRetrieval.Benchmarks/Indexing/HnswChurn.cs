using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ImageRetrieval.ML.Indexing;

namespace ImageRetrieval.Benchmarks.Indexing;

/// <summary>
/// A live index under churn: build N items, then run a long mix of adds (new keys), removes (random live keys) and updates
/// (re-adding a live key with a new vector), checking recall, throughput, slot use and memory every so often; at the end
/// build a fresh index of exactly the surviving items and compare. Automatic compaction stays on (the product default).
/// <code>dotnet run -c Release --project bench/ImageRetrieval.Benchmarks -- hnsw-churn [--items 100000] [--ops 1000000]
///   [--dim 64] [--clusters 1000] [--spread-percent 50] [--m 16] [--ef-construction 200] [--ef 64] [--queries 500]
///   [--checkpoints 10] [--seed 1]</code>
/// Vectors: Gaussian clusters (unit-Gaussian centres, points at 0.5 × that spread around them by default), a fifth of the
/// adds exact copies of earlier vectors, so the graph always holds duplicates. Prints one JSON line per checkpoint and a summary line.
/// </summary>
internal static class HnswChurn
{
    public const string Command = "hnsw-churn";

    public static int Run(string[] args)
    {
        int Arg(string name, int fallback)
        {
            int i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
        }
        int items = Arg("--items", 100_000), ops = Arg("--ops", 1_000_000), dim = Arg("--dim", 64), clusters = Arg("--clusters", 1000);
        int m = Arg("--m", HnswOptions.Defaults.M), efConstruction = Arg("--ef-construction", HnswOptions.Defaults.EfConstruction);
        int ef = Arg("--ef", HnswOptions.Defaults.EfSearch), queryCount = Arg("--queries", 500), checkpoints = Arg("--checkpoints", 10);
        int seed = Arg("--seed", 1);
        float spread = Arg("--spread-percent", 50) / 100f;
        var random = new Random(seed);
        var generator = new ClusteredVectors(dim, clusters, seed, spread);
        var live = new Dictionary<long, float[]>(items * 2);
        var liveKeys = new List<long>(items * 2);
        var position = new Dictionary<long, int>(items * 2);
        var options = new HnswOptions { M = m, EfConstruction = efConstruction, Seed = seed };
        using var index = new HnswIndex(dim, DistanceMetric.SquaredL2, options);

        long nextKey = 0;
        var watch = Stopwatch.StartNew();
        for (; nextKey < items; nextKey++)
        {
            float[] v = generator.Next(random);
            index.Add(nextKey, v);
            Track(nextKey, v);
        }
        double buildSeconds = watch.Elapsed.TotalSeconds;
        float[][] queries = Enumerable.Range(0, queryCount).Select(_ => generator.Next(random)).ToArray();
        Report("built", 0, Measure(), new Dictionary<string, object> { ["build_seconds"] = Math.Round(buildSeconds, 2) });

        double addSeconds = 0, removeSeconds = 0, updateSeconds = 0;
        long adds = 0, removes = 0, updates = 0;
        int compactions = 0;
        int step = Math.Max(1, ops / checkpoints);
        for (int op = 1; op <= ops; op++)
        {
            double r = random.NextDouble();
            int tombstonesBefore = index.DeletedCount;
            long t0 = Stopwatch.GetTimestamp();
            if (r < 0.45 || liveKeys.Count < 2)
            {
                float[] v = random.Next(5) == 0 && liveKeys.Count > 0 ? live[liveKeys[random.Next(liveKeys.Count)]] : generator.Next(random);
                index.Add(nextKey, v);
                addSeconds += Stopwatch.GetElapsedTime(t0).TotalSeconds;
                Track(nextKey++, v);
                adds++;
            }
            else if (r < 0.90)
            {
                long key = liveKeys[random.Next(liveKeys.Count)];
                index.Remove(key);
                removeSeconds += Stopwatch.GetElapsedTime(t0).TotalSeconds;
                Untrack(key);
                removes++;
            }
            else
            {
                long key = liveKeys[random.Next(liveKeys.Count)];
                float[] v = generator.Next(random);
                index.Add(key, v);
                updateSeconds += Stopwatch.GetElapsedTime(t0).TotalSeconds;
                live[key] = v;
                updates++;
            }
            if (index.DeletedCount < tombstonesBefore)
            {
                compactions++;
            }
            if (op % step == 0)
            {
                Report("churn", op, Measure(), new Dictionary<string, object>
                {
                    ["adds_per_second"] = Math.Round(adds / Math.Max(addSeconds, 1e-9)),
                    ["removes_per_second_including_compaction"] = Math.Round(removes / Math.Max(removeSeconds, 1e-9)),
                    ["updates_per_second"] = Math.Round(updates / Math.Max(updateSeconds, 1e-9)),
                    ["compactions"] = compactions,
                });
            }
        }

        // The same final items, built fresh.
        watch.Restart();
        using var fresh = new HnswIndex(dim, DistanceMetric.SquaredL2, options);
        foreach (long key in liveKeys.Order())
        {
            fresh.Add(key, live[key]);
        }
        double freshSeconds = watch.Elapsed.TotalSeconds;
        var truth = Truth();
        var summary = new Dictionary<string, object>
        {
            ["phase"] = "summary",
            ["items"] = items,
            ["ops"] = ops,
            ["dim"] = dim,
            ["m"] = m,
            ["ef_construction"] = efConstruction,
            ["live"] = index.Count,
            ["slots"] = index.SlotCount,
            ["churned_payload_bytes"] = index.PayloadBytes,
            ["fresh_payload_bytes"] = fresh.PayloadBytes,
            ["fresh_build_seconds"] = Math.Round(freshSeconds, 2),
            ["compactions"] = compactions,
            ["adds_per_second"] = Math.Round(adds / Math.Max(addSeconds, 1e-9)),
            ["removes_per_second_including_compaction"] = Math.Round(removes / Math.Max(removeSeconds, 1e-9)),
            ["updates_per_second"] = Math.Round(updates / Math.Max(updateSeconds, 1e-9)),
        };
        foreach (int e in new[] { 16, 32, ef, 128 }.Distinct().Order())
        {
            summary[$"churned_recall_at_10_ef{e}"] = Math.Round(Recall(index, truth, e), 4);
            summary[$"fresh_recall_at_10_ef{e}"] = Math.Round(Recall(fresh, truth, e), 4);
            summary[$"churned_us_per_query_ef{e}"] = Math.Round(MicrosPerQuery(index, e), 1);
            summary[$"fresh_us_per_query_ef{e}"] = Math.Round(MicrosPerQuery(fresh, e), 1);
        }
        // After an explicit compaction (no tombstones left): the graph itself, without the cost of routing through removed nodes.
        summary["tombstones_before_final_compaction"] = index.DeletedCount;
        index.Compact();
        foreach (int e in new[] { 16, 32, ef, 128 }.Distinct().Order())
        {
            summary[$"compacted_recall_at_10_ef{e}"] = Math.Round(Recall(index, truth, e), 4);
            summary[$"compacted_us_per_query_ef{e}"] = Math.Round(MicrosPerQuery(index, e), 1);
        }
        HnswIndex.IntegrityReport integrity = index.CheckIntegrity();
        summary["compacted_mean_layer0_links"] = Math.Round(integrity.MeanLayer0Links, 2);
        summary["fresh_mean_layer0_links"] = Math.Round(fresh.CheckIntegrity().MeanLayer0Links, 2);
        summary["integrity"] = integrity.IsValid ? "ok" : integrity.ToString();
        Console.WriteLine(JsonSerializer.Serialize(summary));
        return integrity.IsValid ? 0 : 1;

        void Track(long key, float[] v)
        {
            if (live.TryAdd(key, v))
            {
                position[key] = liveKeys.Count;
                liveKeys.Add(key);
            }
        }

        void Untrack(long key)
        {
            live.Remove(key);
            int at = position[key];
            long last = liveKeys[^1];
            liveKeys[at] = last;
            position[last] = at;
            liveKeys.RemoveAt(liveKeys.Count - 1);
            position.Remove(key);
        }

        // The distance of each query's exact 10th neighbour: with exact copies in the data, ties are common, and a hit counts
        // if it is as near as the 10th (the tie-aware recall of ann-benchmarks).
        float[] Truth()
        {
            using var exact = new BruteForceIndex(dim, DistanceMetric.SquaredL2, maxDegreeOfParallelism: 2);
            foreach (var (key, v) in live)
            {
                exact.Add(key, v);
            }
            return queries.Select(q => exact.Search(q, 10)[^1].Distance).ToArray();
        }

        Dictionary<string, object> Measure()
        {
            var truth = Truth();
            return new Dictionary<string, object>
            {
                ["live"] = index.Count,
                ["tombstones"] = index.DeletedCount,
                ["slots"] = index.SlotCount,
                ["recall_at_10"] = Math.Round(Recall(index, truth, ef), 4),
                ["us_per_query"] = Math.Round(MicrosPerQuery(index, ef), 1),
                ["index_memory_mb"] = Math.Round(index.MemoryBytes / 1048576.0, 1),
                ["managed_heap_mb"] = Math.Round(GC.GetTotalMemory(forceFullCollection: true) / 1048576.0, 1),
                ["working_set_mb"] = Math.Round(Environment.WorkingSet / 1048576.0, 1),
            };
        }

        double Recall(HnswIndex target, float[] kth, int searchEf)
        {
            long found = 0;
            for (int i = 0; i < queries.Length; i++)
            {
                float bound = kth[i] + (1e-6f * Math.Max(1f, kth[i]));
                found += target.Search(queries[i], 10, searchEf).Count(h => h.Distance <= bound);
            }
            return (double)found / (10.0 * queries.Length);
        }

        double MicrosPerQuery(HnswIndex target, int searchEf)
        {
            var hits = new SearchHit[10];
            var w = Stopwatch.StartNew();
            for (int rep = 0; rep < 3; rep++)
            {
                foreach (float[] q in queries)
                {
                    target.Search(q, hits, searchEf);
                }
            }
            return w.Elapsed.TotalMicroseconds / (3.0 * queries.Length);
        }

        void Report(string phase, int op, Dictionary<string, object> values, Dictionary<string, object> extra)
        {
            var line = new Dictionary<string, object> { ["phase"] = phase, ["op"] = op, ["seconds"] = Math.Round(watch.Elapsed.TotalSeconds, 1) };
            foreach (var (k, v) in values.Concat(extra))
            {
                line[k] = v;
            }
            Console.WriteLine(JsonSerializer.Serialize(line));
        }
    }
}
