using System.Diagnostics;
using ImageRetrieval.ML.Indexing;

namespace ImageRetrieval.Cli.Services;

/// <summary>The figures of a soak run.</summary>
internal sealed record SoakResult(
    int Items, int Dimension, int Threads, double BuildSeconds, double Seconds, long Queries, double QueriesPerSecond,
    double P50Microseconds, double P99Microseconds, double MaxMicroseconds,
    long GcHeapStartBytes, long GcHeapEndBytes, double GcHeapSlopeBytesPerMinute,
    long LiveHeapAfterWarmupBytes, long LiveHeapAtEndBytes,
    long WorkingSetStartBytes, long WorkingSetEndBytes, double WorkingSetSlopeBytesPerMinute,
    IReadOnlyList<SoakSample> Samples);

/// <summary>One memory sample: seconds since the measured phase began, GC heap and working set.</summary>
internal sealed record SoakSample(double Seconds, long GcHeapBytes, long WorkingSetBytes, long Queries);

/// <summary>
/// Sustained HNSW queries against a random index with memory sampled: the soak of docs/reliability.md.
/// Run by <c>imgret soak</c>, and briefly by the CLI tests.
/// </summary>
internal static class SoakRunner
{
    private const int BucketCount = 200_000; // 1 µs buckets up to 200 ms; slower queries land in the last one.

    public static SoakResult Run(int items, int dimension, TimeSpan duration, TimeSpan warmup, int threads, int k = 10, int efSearch = HnswOptions.Defaults.EfSearch,
        int seed = 42, Action<string>? log = null)
    {
        var random = new Random(seed);
        var vectors = new float[(long)items * dimension];
        for (long i = 0; i < vectors.Length; i++)
        {
            vectors[i] = (float)((random.NextDouble() * 2) - 1);
        }
        var build = Stopwatch.StartNew();
        using var index = new HnswIndex(dimension, DistanceMetric.Cosine, new HnswOptions { M = HnswOptions.Defaults.M, EfConstruction = 100, Seed = seed });
        const int Batch = 10_000;
        for (int start = 0; start < items; start += Batch)
        {
            int n = Math.Min(Batch, items - start);
            var batch = new (long, ReadOnlyMemory<float>)[n];
            for (int i = 0; i < n; i++)
            {
                batch[i] = (start + i, vectors.AsMemory((start + i) * dimension, dimension));
            }
            index.AddRange(batch, Environment.ProcessorCount);
            log?.Invoke($"built {start + n:N0}/{items:N0} in {build.Elapsed.TotalSeconds:F1} s");
        }
        build.Stop();
        float[] queries = new float[1024 * dimension];
        for (int i = 0; i < queries.Length; i++)
        {
            queries[i] = (float)((random.NextDouble() * 2) - 1);
        }

        // Warm-up: same load, not measured.
        var histograms = Enumerable.Range(0, threads).Select(_ => new long[BucketCount]).ToArray();
        // Room for an hour of one-per-second samples, so recording them does not look like growth.
        var samples = new List<SoakSample>(3600);
        RunPhase(index, queries, dimension, k, efSearch, threads, warmup, null, new long[1], null);
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        var counter = new long[1];
        long liveAfterWarmup = GC.GetTotalMemory(forceFullCollection: true);
        var clock = Stopwatch.StartNew();
        RunPhase(index, queries, dimension, k, efSearch, threads, duration, histograms, counter, () =>
        {
            process.Refresh();
            // The heap size after the most recent collection: garbage from queries does not count, retained memory does.
            var sample = new SoakSample(clock.Elapsed.TotalSeconds, GC.GetGCMemoryInfo().HeapSizeBytes, process.WorkingSet64, Interlocked.Read(ref counter[0]));
            samples.Add(sample);
            log?.Invoke($"{sample.Seconds,5:F0} s  {sample.Queries:N0} queries  GC heap {sample.GcHeapBytes / 1048576.0:F1} MB  working set {sample.WorkingSetBytes / 1048576.0:F1} MB");
        });
        long total = counter[0];
        double seconds = clock.Elapsed.TotalSeconds;
        long liveAtEnd = GC.GetTotalMemory(forceFullCollection: true);

        var merged = new long[BucketCount];
        foreach (long[] h in histograms)
        {
            for (int i = 0; i < BucketCount; i++)
            {
                merged[i] += h[i];
            }
        }
        return new SoakResult(items, dimension, threads, build.Elapsed.TotalSeconds, seconds, total, total / seconds,
            Percentile(merged, 0.50), Percentile(merged, 0.99), Percentile(merged, 1.0),
            samples.Count > 0 ? samples[0].GcHeapBytes : 0, samples.Count > 0 ? samples[^1].GcHeapBytes : 0,
            Slope(samples, s => s.GcHeapBytes) * 60,
            liveAfterWarmup, liveAtEnd,
            samples.Count > 0 ? samples[0].WorkingSetBytes : 0, samples.Count > 0 ? samples[^1].WorkingSetBytes : 0,
            Slope(samples, s => s.WorkingSetBytes) * 60, samples);
    }

    private static void RunPhase(HnswIndex index, float[] queries, int dimension, int k, int efSearch, int threads, TimeSpan duration,
        long[][]? histograms, long[] counter, Action? sample)
    {
        using var stop = new CancellationTokenSource();
        var workers = Enumerable.Range(0, threads).Select(t => Task.Factory.StartNew(() =>
        {
            var hits = new SearchHit[k];
            long[]? histogram = histograms?[t];
            int q = t * 97;
            long local = 0;
            while (!stop.IsCancellationRequested)
            {
                long started = Stopwatch.GetTimestamp();
                index.Search(queries.AsSpan((q % 1024) * dimension, dimension), hits, efSearch);
                if (histogram is not null)
                {
                    long micros = (long)Stopwatch.GetElapsedTime(started).TotalMicroseconds;
                    histogram[Math.Min(micros, BucketCount - 1)]++;
                }
                q++;
                if (++local % 64 == 0)
                {
                    Interlocked.Add(ref counter[0], 64);
                }
            }
            Interlocked.Add(ref counter[0], local % 64);
        }, TaskCreationOptions.LongRunning)).ToArray();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
        {
            Thread.Sleep(TimeSpan.FromMilliseconds(Math.Min(1000, Math.Max(1, (duration - clock.Elapsed).TotalMilliseconds))));
            sample?.Invoke();
        }
        stop.Cancel();
        if (!Task.WaitAll(workers, TimeSpan.FromSeconds(60)))
        {
            throw new TimeoutException("soak workers did not stop within 60 s");
        }
    }

    private static double Percentile(long[] histogram, double p)
    {
        long total = histogram.Sum();
        if (total == 0)
        {
            return 0;
        }
        long target = Math.Max(1, (long)Math.Ceiling(p * total));
        long seen = 0;
        for (int i = 0; i < histogram.Length; i++)
        {
            seen += histogram[i];
            if (seen >= target)
            {
                return i + 0.5;
            }
        }
        return histogram.Length;
    }

    /// <summary>Least-squares slope (units per second) of a sampled quantity.</summary>
    internal static double Slope(IReadOnlyList<SoakSample> samples, Func<SoakSample, long> value)
    {
        if (samples.Count < 2)
        {
            return 0;
        }
        double mx = samples.Average(s => s.Seconds), my = samples.Average(s => (double)value(s));
        double num = samples.Sum(s => (s.Seconds - mx) * (value(s) - my));
        double den = samples.Sum(s => (s.Seconds - mx) * (s.Seconds - mx));
        return den == 0 ? 0 : num / den;
    }
}
