using System.Diagnostics;
using ImageRetrieval.ML.Indexing;

namespace ImageRetrieval.Datasets.Evaluation;

/// <summary>Settings of an <see cref="AnnBenchmark"/> run (ann-benchmarks style: build once, sweep the search beam width).</summary>
public sealed record AnnBenchmarkOptions
{
    /// <summary>Neighbours per query; recall is counted at this k.</summary>
    public int K { get; init; } = 10;

    /// <summary>The index's distance.</summary>
    public DistanceMetric Metric { get; init; } = DistanceMetric.SquaredL2;

    /// <summary>HNSW construction parameters, including the stored <see cref="VectorType"/>.</summary>
    public HnswOptions Index { get; init; } = new();

    /// <summary>The search beam widths to sweep, in order.</summary>
    public IReadOnlyList<int> EfSearch { get; init; } = [10, 20, 40, 80, 160, 320];

    /// <summary>Threads that build the index (queries always run on one thread, as ann-benchmarks measures them).</summary>
    public int BuildThreads { get; init; } = 1;

    /// <summary>Threads for the exact ground truth when none is given.</summary>
    public int GroundTruthThreads { get; init; } = Environment.ProcessorCount;

    /// <summary>Also sweep with the best N candidates re-ranked by the original float vectors (0: off).</summary>
    public int Rerank { get; init; }

    /// <summary>Repeat the query set for each ef until this many seconds have passed (steadier timings; recall is counted on the first pass).</summary>
    public double MinQuerySeconds { get; init; }

    /// <summary>When set, the built index is saved here and the time to load it back is reported.</summary>
    public string? SavePath { get; init; }
}

/// <summary>One point of the ef sweep.</summary>
/// <param name="Ef">The search beam width.</param>
/// <param name="Recall">Recall at <see cref="AnnBenchmarkOptions.K"/> against the ground truth.</param>
/// <param name="QueriesPerSecond">Single-threaded queries per wall-clock second.</param>
/// <param name="QueriesPerCpuSecond">Queries per second of process CPU time (steadier on a shared machine).</param>
public sealed record AnnBenchmarkRun(int Ef, double Recall, double QueriesPerSecond, double QueriesPerCpuSecond);

/// <summary>What an <see cref="AnnBenchmark"/> run measured.</summary>
/// <param name="BuildSeconds">Wall time to insert every base vector.</param>
/// <param name="BuildCpuSeconds">Process CPU time of the build.</param>
/// <param name="LoadSeconds">Time to load the saved index back, when <see cref="AnnBenchmarkOptions.SavePath"/> was set.</param>
/// <param name="Runs">The sweep over <see cref="AnnBenchmarkOptions.EfSearch"/>.</param>
/// <param name="RerankedRuns">The same sweep with re-ranking, when <see cref="AnnBenchmarkOptions.Rerank"/> is positive; otherwise empty.</param>
/// <param name="IndexBytes">Memory held by the index (<see cref="HnswIndex.MemoryBytes"/>).</param>
/// <param name="PayloadBytes">Bytes of stored vectors and links (<see cref="HnswIndex.PayloadBytes"/>).</param>
/// <param name="BytesPerVector">Bytes of one stored vector.</param>
public sealed record AnnBenchmarkReport(
    double BuildSeconds, double BuildCpuSeconds, double? LoadSeconds, IReadOnlyList<AnnBenchmarkRun> Runs, IReadOnlyList<AnnBenchmarkRun> RerankedRuns,
    long IndexBytes, long PayloadBytes, int BytesPerVector);

/// <summary>
/// Builds an <see cref="HnswIndex"/> over base vectors and measures recall@k and single-threaded queries per second for each
/// search beam width, the protocol of ann-benchmarks; <see cref="ExactGroundTruth"/> computes the ground truth when a data
/// set ships none.
/// </summary>
public static class AnnBenchmark
{
    /// <summary>The exact <paramref name="k"/> nearest base ids of every query (-1 where fewer exist), row after row.</summary>
    /// <param name="baseVectors">Base vectors, row after row.</param>
    /// <param name="queries">Query vectors, row after row.</param>
    /// <param name="dimension">Vector length.</param>
    /// <param name="k">Neighbours per query.</param>
    /// <param name="metric">The distance.</param>
    /// <param name="threads">Threads for the brute-force search.</param>
    public static int[] ExactGroundTruth(float[] baseVectors, float[] queries, int dimension, int k, DistanceMetric metric, int threads)
    {
        Require(baseVectors, queries, dimension);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        int nb = baseVectors.Length / dimension, nq = queries.Length / dimension;
        using var exact = new BruteForceIndex(dimension, metric);
        for (int i = 0; i < nb; i++)
        {
            exact.Add(i, baseVectors.AsSpan(i * dimension, dimension));
        }
        SearchHit[][] truth = exact.SearchBatch(queries, k, threads);
        var gt = new int[nq * k];
        for (int i = 0; i < nq; i++)
        {
            for (int j = 0; j < k; j++)
            {
                gt[(i * k) + j] = j < truth[i].Length ? (int)truth[i][j].Key : -1;
            }
        }
        return gt;
    }

    /// <summary>Builds the index and sweeps the search beam widths.</summary>
    /// <param name="baseVectors">Base vectors, row after row; the key of each is its row number.</param>
    /// <param name="queries">Query vectors, row after row.</param>
    /// <param name="dimension">Vector length.</param>
    /// <param name="groundTruth">For each query, at least <see cref="AnnBenchmarkOptions.K"/> true neighbour ids (row after row, <paramref name="groundTruthWidth"/> per query).</param>
    /// <param name="groundTruthWidth">Ids per query in <paramref name="groundTruth"/>.</param>
    /// <param name="options">The run's settings.</param>
    /// <exception cref="ArgumentException">Lengths disagree or the ground truth is too narrow.</exception>
    public static AnnBenchmarkReport Run(float[] baseVectors, float[] queries, int dimension, int[] groundTruth, int groundTruthWidth, AnnBenchmarkOptions options)
    {
        ArgumentNullException.ThrowIfNull(groundTruth);
        ArgumentNullException.ThrowIfNull(options);
        Require(baseVectors, queries, dimension);
        int k = options.K, nb = baseVectors.Length / dimension, nq = queries.Length / dimension;
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(options.Rerank, nameof(options));
        if (groundTruthWidth < k || groundTruth.Length / groundTruthWidth < nq)
        {
            throw new ArgumentException(
                $"The ground truth has {groundTruthWidth} neighbours for {groundTruth.Length / Math.Max(1, groundTruthWidth)} queries; {k} are needed for each of {nq}.",
                nameof(groundTruth));
        }

        HnswOptions indexOptions = options.Index with { InitialCapacity = Math.Max(options.Index.InitialCapacity, nb) };
        using var index = new HnswIndex(dimension, options.Metric, indexOptions);
        var items = new (long, ReadOnlyMemory<float>)[nb];
        for (int i = 0; i < nb; i++)
        {
            items[i] = (i, baseVectors.AsMemory(i * dimension, dimension));
        }
        // Wall-clock and process CPU time: on a shared machine the CPU time is the steadier of the two.
        TimeSpan buildCpu0 = Environment.CpuUsage.TotalTime;
        var buildWatch = Stopwatch.StartNew();
        index.AddRange(items, options.BuildThreads);
        double buildSeconds = buildWatch.Elapsed.TotalSeconds;
        double buildCpuSeconds = (Environment.CpuUsage.TotalTime - buildCpu0).TotalSeconds;

        double? loadSeconds = null;
        if (options.SavePath is { } savePath)
        {
            index.Save(savePath);
            var loadWatch = Stopwatch.StartNew();
            using HnswIndex loaded = HnswIndex.Load(savePath);
            loadSeconds = loadWatch.Elapsed.TotalSeconds;
        }

        var sweep = new Sweep(index, baseVectors, queries, dimension, k, options, groundTruth, groundTruthWidth);
        sweep.WarmUp();
        List<AnnBenchmarkRun> runs = [.. options.EfSearch.Select(ef => sweep.Measure(ef, rerank: false))];
        List<AnnBenchmarkRun> reranked = options.Rerank > 0 ? [.. options.EfSearch.Select(ef => sweep.Measure(ef, rerank: true))] : [];
        return new AnnBenchmarkReport(buildSeconds, buildCpuSeconds, loadSeconds, runs, reranked, index.MemoryBytes, index.PayloadBytes, index.BytesPerVector);
    }

    private static void Require(float[] baseVectors, float[] queries, int dimension)
    {
        ArgumentNullException.ThrowIfNull(baseVectors);
        ArgumentNullException.ThrowIfNull(queries);
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        if (baseVectors.Length % dimension != 0 || queries.Length % dimension != 0)
        {
            throw new ArgumentException($"Base ({baseVectors.Length} values) and queries ({queries.Length} values) must hold whole {dimension}-d vectors.");
        }
    }

    /// <summary>The query loop: single-threaded, through the allocation-free search overloads.</summary>
    private sealed class Sweep(HnswIndex index, float[] baseVectors, float[] queries, int dimension, int k, AnnBenchmarkOptions options, int[] groundTruth, int groundTruthWidth)
    {
        private readonly SearchHit[] _hits = new SearchHit[k];
        private readonly int _queryCount = queries.Length / dimension;
        private readonly HnswIndex.OriginalVectorLookup _originals = key => baseVectors.AsSpan((int)key * dimension, dimension);

        public void WarmUp()
        {
            int? ef = options.EfSearch.Count > 0 ? options.EfSearch[0] : null;
            for (int i = 0; i < Math.Min(_queryCount, 500); i++)
            {
                Query(i, ef, rerank: false);
            }
        }

        public AnnBenchmarkRun Measure(int ef, bool rerank)
        {
            var results = new long[_queryCount * k];
            TimeSpan cpu0 = Environment.CpuUsage.TotalTime;
            var watch = Stopwatch.StartNew();
            int passes = 0;
            do
            {
                for (int i = 0; i < _queryCount; i++)
                {
                    int n = Query(i, ef, rerank);
                    if (passes == 0)
                    {
                        for (int j = 0; j < k; j++)
                        {
                            results[(i * k) + j] = j < n ? _hits[j].Key : -1;
                        }
                    }
                }
                passes++;
            }
            while (watch.Elapsed.TotalSeconds < options.MinQuerySeconds);
            double seconds = watch.Elapsed.TotalSeconds / passes;
            double cpuSeconds = (Environment.CpuUsage.TotalTime - cpu0).TotalSeconds / passes;
            return new AnnBenchmarkRun(ef, Recall(results), _queryCount / seconds, _queryCount / cpuSeconds);
        }

        private double Recall(long[] results)
        {
            long found = 0;
            for (int i = 0; i < _queryCount; i++)
            {
                ReadOnlySpan<int> truth = groundTruth.AsSpan(i * groundTruthWidth, k);
                for (int j = 0; j < k; j++)
                {
                    long key = results[(i * k) + j];
                    if (key >= 0 && truth.Contains((int)key))
                    {
                        found++;
                    }
                }
            }
            return (double)found / ((long)_queryCount * k);
        }

        private int Query(int i, int? ef, bool rerank) => rerank
            ? index.SearchAndRerank(queries.AsSpan(i * dimension, dimension), _hits, _originals, ef, options.Rerank)
            : index.Search(queries.AsSpan(i * dimension, dimension), _hits, ef);
    }
}
