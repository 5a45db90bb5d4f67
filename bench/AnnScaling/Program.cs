using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using ImageRetrieval.ML.Indexing;
using ImageRetrieval.Datasets.Vectors;

// The scaling benchmark's data generator and its USearch side (bench/scaling/run.sh drives both, next to
// `imgret ann-bench` and the hnswlib harness in bench/hnswlib/).
//
//   AnnScaling gen --n 100000 --dim 128 --queries 1000 --out /tmp/quant-data/c128-100k [--clusters 1000] [--seed 1] [--unit]
//       writes PREFIX.base.fvecs, PREFIX.query.fvecs and PREFIX.gt.ivecs (exact top-100, brute force)
//   AnnScaling usearch --base B --query Q --gt G --dtype f32|f16|i8 [--m 16] [--ef-construction 200]
//       [--ef-search 10,20,...] [--threads 1] [--k 10] [--min-query-seconds S] --json
//   AnnScaling search-mapped --index I.hnsw --query Q --gt G [--ef-search 32,64] [--k 10] [--load] [--min-query-seconds S]
//       opens a saved index with HnswIndex.OpenMapped (or reads it with HnswIndex.Load) and reports recall, queries per
//       second and per CPU-second, and the process's peak RSS
//   AnnScaling resave IN.hnsw OUT.hnsw
//       loads a saved index and saves it again, i.e. in this version's node order (breadth-first since 2026-12-03), so
//       that an index saved by an older version can be searched side by side in both orders
return args switch
{
    ["gen", .. var rest] => Generate(Options.Parse(rest)),
    ["usearch", .. var rest] => USearchBench.Run(Options.Parse(rest)),
    ["search-mapped", .. var rest] => SearchMapped(Options.Parse(rest)),
    ["resave", string from, string to] => Resave(from, to),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: AnnScaling gen --n N --dim D --queries Q --out PREFIX | usearch --base B --query Q --gt G --dtype f32|f16|i8 ... | search-mapped --index I --query Q --gt G ... | resave IN OUT");
    return 2;
}

static int Resave(string from, string to)
{
    var watch = Stopwatch.StartNew();
    using HnswIndex index = HnswIndex.Load(from);
    double load = watch.Elapsed.TotalSeconds;
    index.Save(to);
    Console.WriteLine(JsonSerializer.Serialize(new { from, to, load_seconds = Math.Round(load, 3), save_seconds = Math.Round(watch.Elapsed.TotalSeconds - load, 3) }));
    return 0;
}

// Clustered data: C cluster centres drawn from N(0, 1) per coordinate; each point picks a cluster uniformly and adds
// N(0, σ_c²) noise, with σ_c drawn once per cluster from U(0.3, 0.7) (clusters of different tightness). Queries are
// fresh draws from the same mixture. Seeded; the same arguments give the same bytes.
static int Generate(Options o)
{
    int n = o.Int("n"), dim = o.Int("dim"), nq = o.Int("queries", 1000), clusters = o.Int("clusters", 1000), seed = o.Int("seed", 1);
    bool unit = o.Get("unit") is not null; // scale every vector to unit length (squared-L2 ranking = cosine ranking)
    string prefix = o.Get("out") ?? throw new ArgumentException("--out PREFIX is required", nameof(args));
    var watch = Stopwatch.StartNew();
    var random = new Random(seed);
    float[] centres = new float[clusters * dim];
    float[] spread = new float[clusters];
    for (int i = 0; i < centres.Length; i++)
    {
        centres[i] = Normal(random);
    }
    for (int c = 0; c < clusters; c++)
    {
        spread[c] = 0.3f + (0.4f * (float)random.NextDouble());
    }
    float[] Draw(int count, Random r)
    {
        var v = new float[(long)count * dim];
        for (int i = 0; i < count; i++)
        {
            int c = r.Next(clusters);
            for (int j = 0; j < dim; j++)
            {
                v[((long)i * dim) + j] = centres[(c * dim) + j] + (spread[c] * Normal(r));
            }
        }
        return v;
    }
    float[] data = Draw(n, new Random(seed + 1));
    float[] queries = Draw(nq, new Random(seed + 2));
    if (unit)
    {
        foreach (float[] v in new[] { data, queries })
        {
            for (long i = 0; i < v.Length; i += dim)
            {
                Span<float> row = v.AsSpan((int)i, dim);
                float norm = MathF.Sqrt(System.Numerics.Tensors.TensorPrimitives.Dot<float>(row, row));
                System.Numerics.Tensors.TensorPrimitives.Divide(row, norm, row);
            }
        }
    }
    TexmexFormat.WriteFvecs(prefix + ".base.fvecs", data, dim);
    TexmexFormat.WriteFvecs(prefix + ".query.fvecs", queries, dim);
    Console.Error.WriteLine($"generated {n} × {dim} in {watch.Elapsed.TotalSeconds:F1} s; exact ground truth …");
    const int gtK = 100;
    using var exact = new BruteForceIndex(dim, DistanceMetric.SquaredL2, maxDegreeOfParallelism: o.Int("threads", Environment.ProcessorCount));
    for (int i = 0; i < n; i++)
    {
        exact.Add(i, data.AsSpan(i * dim, dim));
    }
    SearchHit[][] truth = exact.SearchBatch(queries, gtK, o.Int("threads", Environment.ProcessorCount));
    int[] gt = new int[nq * gtK];
    for (int i = 0; i < nq; i++)
    {
        for (int j = 0; j < gtK; j++)
        {
            gt[(i * gtK) + j] = j < truth[i].Length ? (int)truth[i][j].Key : -1;
        }
    }
    TexmexFormat.WriteIvecs(prefix + ".gt.ivecs", gt, gtK);
    Console.Error.WriteLine($"done in {watch.Elapsed.TotalSeconds:F1} s");
    return 0;
}

// Search memory: the index file is mapped, not read; peak RSS = runtime + the pages the queries touched + the small
// per-node arrays OpenMapped copies (keys, levels, states, upper layers).
static int SearchMapped(Options o)
{
    var watch = Stopwatch.StartNew();
    // --load reads the index into memory (HnswIndex.Load) instead, e.g. to time the search loop beside hnswlib's loaded index.
    bool load = o.Get("load") is not null;
    using HnswIndex index = load ? HnswIndex.Load(o.Get("index")!) : HnswIndex.OpenMapped(o.Get("index")!);
    double minSeconds = double.Parse(o.Get("min-query-seconds") ?? "0", CultureInfo.InvariantCulture);
    double openSeconds = watch.Elapsed.TotalSeconds;
    long rssOpen = Rss();
    var (queries, dim) = TexmexFormat.ReadFvecs(o.Get("query")!);
    var (gt, gtDim) = TexmexFormat.ReadIvecs(o.Get("gt")!);
    int nq = queries.Length / dim, k = o.Int("k", 10);
    var hits = new SearchHit[k];
    var runs = new List<object>();
    // Warm-up for at least a second when timing: with 500 queries the first ef of a sweep still ran ~20 % slower than
    // the same ef repeated (tiered JIT not settled), which hnswlib's compiled harness does not pay.
    var warm = Stopwatch.StartNew();
    for (int i = 0; minSeconds > 0 && (i < 500 || warm.Elapsed.TotalSeconds < 1); i++)
    {
        index.Search(queries.AsSpan(i % nq * dim, dim), hits, 64);
    }
    foreach (int ef in (o.Get("ef-search") ?? "32,64").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)))
    {
        long found = 0;
        int passes = 0;
        TimeSpan cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var w = Stopwatch.StartNew();
        do // the query set repeated until --min-query-seconds have passed (process CPU time is tick-grained); recall from pass 1
        {
            for (int i = 0; i < nq; i++)
            {
                int n = index.Search(queries.AsSpan(i * dim, dim), hits, ef);
                for (int j = 0; j < n && passes == 0; j++)
                {
                    found += gt.AsSpan(i * gtDim, k).Contains((int)hits[j].Key) ? 1 : 0;
                }
            }
            passes++;
        }
        while (w.Elapsed.TotalSeconds < minSeconds);
        double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
        runs.Add(new
        {
            ef,
            recall_at_10 = Math.Round(found / (double)(nq * k), 4),
            qps = Math.Round(nq * passes / w.Elapsed.TotalSeconds, 1),
            qps_cpu = Math.Round(nq * passes / Math.Max(cpu, 1e-3), 1),
        });
    }
    using var process = Process.GetCurrentProcess();
    Console.WriteLine(JsonSerializer.Serialize(new
    {
        library = load ? "imageretrieval-hnsw" : "imageretrieval-hnsw-mapped",
        count = index.Count,
        dimension = index.Dimension,
        dtype = index.VectorType.ToString(),
        file_mb = Math.Round(new FileInfo(o.Get("index")!).Length / 1048576.0, 1),
        open_seconds = Math.Round(openSeconds, 3),
        rss_after_open_mb = Math.Round(rssOpen / 1048576.0, 1),
        runs,
        peak_memory_mb = Math.Round(process.PeakWorkingSet64 / 1048576.0, 1),
        rss_end_mb = Math.Round(Rss() / 1048576.0, 1),
        // Resident memory split as the kernel counts it: anonymous (heap, runtime, copied per-node arrays) vs pages of
        // the mapped file (clean page cache, evictable under memory pressure, shared with other processes).
        rss_anon_mb = Math.Round(Status("RssAnon") / 1024.0, 1),
        rss_file_mb = Math.Round(Status("RssFile") / 1024.0, 1),
    }));
    return 0;
}

static long Status(string field) =>
    long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal))
        .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);

static long Rss() => long.Parse(File.ReadAllText("/proc/self/statm").Split(' ')[1], CultureInfo.InvariantCulture) * Environment.SystemPageSize;

static float Normal(Random r) => (float)(Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble()));

internal sealed class Options(Dictionary<string, string> values)
{
    public static Options Parse(string[] args)
    {
        var d = new Dictionary<string, string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"unexpected argument '{args[i]}'", nameof(args));
            }
            string name = args[i][2..];
            d[name] = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : "true";
        }
        return new Options(d);
    }

    public string? Get(string name) => values.TryGetValue(name, out string? v) ? v : null;

    public int Int(string name, int? fallback = null) =>
        Get(name) is string v ? int.Parse(v, CultureInfo.InvariantCulture)
        : fallback ?? throw new ArgumentException($"--{name} is required", name);
}

/// <summary>
/// USearch through its C API (the native library of the Cloud.Unum.USearch package), called directly: the managed
/// wrapper allocates two arrays per search and has no per-search expansion or thread-count setters.
/// </summary>
internal static unsafe class USearchBench
{
    private const string Lib = "usearch_c";

    [StructLayout(LayoutKind.Sequential)]
    private struct InitOptions
    {
        public int MetricKind;   // usearch_metric_kind_t
        public IntPtr Metric;    // custom metric (null)
        public int Quantization; // usearch_scalar_kind_t
        public nuint Dimensions;
        public nuint Connectivity;
        public nuint ExpansionAdd;
        public nuint ExpansionSearch;
        [MarshalAs(UnmanagedType.U1)] public bool Multi;
    }

    [DllImport(Lib)] private static extern IntPtr usearch_init(InitOptions* options, IntPtr* error);
    [DllImport(Lib)] private static extern void usearch_free(IntPtr index, IntPtr* error);
    [DllImport(Lib)] private static extern void usearch_reserve(IntPtr index, nuint capacity, IntPtr* error);
    [DllImport(Lib)] private static extern void usearch_add(IntPtr index, ulong key, float* vector, int kind, IntPtr* error);
    [DllImport(Lib)] private static extern nuint usearch_search(IntPtr index, float* query, int kind, nuint count, ulong* keys, float* distances, IntPtr* error);
    [DllImport(Lib)] private static extern void usearch_change_expansion_search(IntPtr index, nuint expansion, IntPtr* error);
    [DllImport(Lib)] private static extern void usearch_change_threads_add(IntPtr index, nuint threads, IntPtr* error);
    [DllImport(Lib)] private static extern void usearch_change_threads_search(IntPtr index, nuint threads, IntPtr* error);
    [DllImport(Lib)] private static extern nuint usearch_memory_usage(IntPtr index, IntPtr* error);
    [DllImport(Lib)] private static extern nuint usearch_size(IntPtr index, IntPtr* error);
    [DllImport(Lib)] private static extern IntPtr usearch_hardware_acceleration(IntPtr index, IntPtr* error);

    // usearch_metric_kind_t / usearch_scalar_kind_t: the package's managed enums carry the values its native library takes.
    private const int MetricL2sq = (int)Cloud.Unum.USearch.MetricKind.L2sq;
    private const int ScalarF32 = (int)Cloud.Unum.USearch.ScalarKind.Float32;
    private const int ScalarF16 = (int)Cloud.Unum.USearch.ScalarKind.Float16;
    private const int ScalarI8 = (int)Cloud.Unum.USearch.ScalarKind.Int8;

    private static void Check(IntPtr error, string what)
    {
        if (error != IntPtr.Zero)
        {
            throw new InvalidOperationException($"usearch {what}: {Marshal.PtrToStringUTF8(error)}");
        }
    }

    public static int Run(Options o)
    {
        var (data, dim) = TexmexFormat.ReadFvecs(o.Get("base")!);
        var (queries, _) = TexmexFormat.ReadFvecs(o.Get("query")!);
        var (gt, gtDim) = TexmexFormat.ReadIvecs(o.Get("gt")!);
        int n = data.Length / dim, nq = queries.Length / dim, k = o.Int("k", 10), threads = o.Int("threads", 1);
        int m = o.Int("m", 16), efc = o.Int("ef-construction", 200);
        string dtype = o.Get("dtype") ?? "f32";
        double minSeconds = double.Parse(o.Get("min-query-seconds") ?? "0", CultureInfo.InvariantCulture);
        int[] efs = (o.Get("ef-search") ?? "10,20,40,80,160,320").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        // USearch's int8 storage scales each vector to unit length before rounding 127·x (it is meant for cosine), so on
        // data whose norms matter its squared-L2 recall stops near 0.75 (measured on the clustered data); its int8 is
        // compared on unit vectors (`gen --unit`), where that scaling loses nothing.
        long rss0 = Rss();
        IntPtr error = IntPtr.Zero;
        // USearch's "connectivity" is M (upper layers; layer 0 keeps 2·M), "expansion_add" efConstruction.
        var options = new InitOptions
        {
            MetricKind = MetricL2sq,
            Quantization = dtype switch { "f16" => ScalarF16, "i8" => ScalarI8, _ => ScalarF32 },
            Dimensions = (nuint)dim,
            Connectivity = (nuint)m,
            ExpansionAdd = (nuint)efc,
            ExpansionSearch = 64,
        };
        IntPtr index = usearch_init(&options, &error);
        Check(error, "init");
        usearch_change_threads_add(index, (nuint)threads, &error);
        Check(error, "threads");
        usearch_change_threads_search(index, 1, &error);
        usearch_reserve(index, (nuint)n, &error);
        Check(error, "reserve");
        string isa = Marshal.PtrToStringUTF8(usearch_hardware_acceleration(index, &error)) ?? "";

        TimeSpan cpu0 = Environment.CpuUsage.TotalTime;
        var watch = Stopwatch.StartNew();
        fixed (float* p = data)
        {
            float* basePtr = p;
            if (threads == 1)
            {
                for (int i = 0; i < n; i++)
                {
                    IntPtr e = IntPtr.Zero;
                    usearch_add(index, (ulong)i, basePtr + ((long)i * dim), ScalarF32, &e);
                    Check(e, "add");
                }
            }
            else
            {
                Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = threads }, i =>
                {
                    IntPtr e = IntPtr.Zero;
                    usearch_add(index, (ulong)i, basePtr + ((long)i * dim), ScalarF32, &e);
                    Check(e, "add");
                });
            }
        }
        double buildSeconds = watch.Elapsed.TotalSeconds;
        double buildCpu = (Environment.CpuUsage.TotalTime - cpu0).TotalSeconds;
        long rssBuilt = Rss();
        long memory = (long)usearch_memory_usage(index, &error);

        var runs = new List<object>();
        var keys = new ulong[k];
        var dists = new float[k];
        fixed (float* qp = queries)
        fixed (ulong* kp = keys)
        fixed (float* dp = dists)
        {
            usearch_change_expansion_search(index, (nuint)efs[0], &error);
            for (int i = 0; i < Math.Min(nq, 500); i++)
            {
                usearch_search(index, qp + ((long)i * dim), ScalarF32, (nuint)k, kp, dp, &error);
            }
            foreach (int ef in efs)
            {
                usearch_change_expansion_search(index, (nuint)ef, &error);
                Check(error, "expansion");
                var results = new long[nq * k];
                TimeSpan c0 = Environment.CpuUsage.TotalTime;
                var w = Stopwatch.StartNew();
                int passes = 0;
                do
                {
                    for (int i = 0; i < nq; i++)
                    {
                        int found = (int)usearch_search(index, qp + ((long)i * dim), ScalarF32, (nuint)k, kp, dp, &error);
                        if (passes == 0)
                        {
                            for (int j = 0; j < k; j++)
                            {
                                results[(i * k) + j] = j < found ? (long)kp[j] : -1;
                            }
                        }
                    }
                    passes++;
                }
                while (w.Elapsed.TotalSeconds < minSeconds);
                double seconds = w.Elapsed.TotalSeconds / passes;
                double cpu = (Environment.CpuUsage.TotalTime - c0).TotalSeconds / passes;
                long hit = 0;
                for (int i = 0; i < nq; i++)
                {
                    ReadOnlySpan<int> truth = gt.AsSpan(i * gtDim, k);
                    for (int j = 0; j < k; j++)
                    {
                        if (results[(i * k) + j] >= 0 && truth.Contains((int)results[(i * k) + j]))
                        {
                            hit++;
                        }
                    }
                }
                runs.Add(new { ef, recall_at_10 = Math.Round((double)hit / ((long)nq * k), 4), qps = Math.Round(nq / seconds, 1), qps_cpu = Math.Round(nq / cpu, 1) });
            }
        }
        usearch_free(index, &error);
        using var process = Process.GetCurrentProcess();
        double datasetMb = (data.Length + queries.Length) * 4.0 / 1048576.0;
        var result = new
        {
            library = "usearch",
            base_count = n,
            query_count = nq,
            dimension = dim,
            k,
            metric = "l2",
            m,
            ef_construction = efc,
            build_threads = threads,
            build_seconds = Math.Round(buildSeconds, 3),
            build_cpu_seconds = Math.Round(buildCpu, 3),
            runs,
            peak_memory_mb = Math.Round(process.PeakWorkingSet64 / 1048576.0, 1),
            index_memory_mb = Math.Round(memory / 1048576.0, 1),
            index_rss_delta_mb = Math.Round((rssBuilt - rss0) / 1048576.0, 1),
            dataset_mb = Math.Round(datasetMb, 1),
            processor_count = Environment.ProcessorCount,
            dtype,
            hardware_acceleration = isa,
        };
        Console.WriteLine(JsonSerializer.Serialize(result));
        return 0;
    }

    /// <summary>Resident set size now (bytes), from /proc/self/statm.</summary>
    internal static long Rss()
    {
        string[] fields = File.ReadAllText("/proc/self/statm").Split(' ');
        return long.Parse(fields[1], CultureInfo.InvariantCulture) * Environment.SystemPageSize;
    }
}
