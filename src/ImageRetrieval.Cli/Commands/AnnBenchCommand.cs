using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Serialization;
using ImageRetrieval.Cli.Output;
using ImageRetrieval.Datasets.Vectors;
using ImageRetrieval.ML.Indexing;
using Spectre.Console;

namespace ImageRetrieval.Cli.Commands;

/// <summary><c>imgret ann-bench</c>: ann-benchmarks-style build time, recall@k and single-threaded queries/s of the HNSW index over an ef sweep.</summary>
internal static class AnnBenchCommand
{
    public static Command Create()
    {
        var basePath = new Option<string>("--base") { Description = "Base vectors (.fvecs).", Required = true };
        var queryPath = new Option<string>("--query") { Description = "Query vectors (.fvecs).", Required = true };
        var gtPath = new Option<string?>("--gt") { Description = "Ground-truth neighbour ids (.ivecs); computed exactly with the brute-force index when absent." };
        var gtOut = new Option<string?>("--gt-out") { Description = "Write the computed ground truth here (.ivecs)." };
        var k = new Option<int>("--k") { Description = "Neighbours per query.", DefaultValueFactory = _ => 10 };
        var metric = new Option<string>("--metric") { Description = "l2, ip or cosine.", DefaultValueFactory = _ => DistanceMetricNames.SquaredL2 };
        metric.AcceptOnlyFromAmong([.. DistanceMetricNames.All]);
        var m = new Option<int>("--m") { Description = "HNSW M (links per node on upper layers; 2·M on layer 0).", DefaultValueFactory = _ => HnswOptions.Defaults.M };
        var efConstruction = new Option<int>("--ef-construction") { Description = "Beam width while building.", DefaultValueFactory = _ => HnswOptions.Defaults.EfConstruction };
        var efSearch = new Option<string>("--ef-search") { Description = "Comma-separated beam widths to sweep.", DefaultValueFactory = _ => "10,20,40,80,160,320" };
        var threads = new Option<int>("--threads") { Description = "Build threads (queries always run on one thread).", DefaultValueFactory = _ => 1 };
        var gtThreads = new Option<int>("--gt-threads") { Description = "Threads for the exact ground truth.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var seed = new Option<int>("--seed") { Description = "Level-generator seed.", DefaultValueFactory = _ => new HnswOptions().Seed };
        var limitBase = new Option<int>("--limit-base") { Description = "Use only the first N base vectors.", DefaultValueFactory = _ => int.MaxValue };
        var limitQuery = new Option<int>("--limit-query") { Description = "Use only the first N queries.", DefaultValueFactory = _ => int.MaxValue };
        var dtype = new Option<string>("--dtype") { Description = "Stored vector type: f32, f16 or i8 (int8, per-vector scale).", DefaultValueFactory = _ => "f32" };
        dtype.AcceptOnlyFromAmong("f32", "f16", "i8");
        var rerank = new Option<int>("--rerank") { Description = "Also sweep with the best N candidates re-ranked by the original float vectors (0: off); reported as reranked_runs.", DefaultValueFactory = _ => 0 };
        var minSeconds = new Option<double>("--min-query-seconds") { Description = "Repeat the query set for each ef until this many seconds have passed (steadier timings; recall is counted on the first pass).", DefaultValueFactory = _ => 0 };
        var save = new Option<string?>("--save") { Description = "Save the built index here (and report load time)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object as the last line." };

        var command = new Command("ann-bench", "Build an HNSW index over base vectors and measure recall@k and single-threaded queries/s for each efSearch.")
        {
            basePath, queryPath, gtPath, gtOut, k, metric, m, efConstruction, efSearch, threads, gtThreads, seed, limitBase, limitQuery, dtype, rerank, minSeconds, save, json,
        };
        command.SetAction(parse => CliOutput.Run(() =>
        {
            bool asJson = parse.GetValue(json);
            int kk = parse.GetValue(k);
            ArgumentOutOfRangeException.ThrowIfLessThan(kk, 1, "--k");
            int[] efs = parse.GetValue(efSearch)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            DistanceMetric dm = DistanceMetricNames.Parse(parse.GetValue(metric), "--metric");
            var (baseValues, dim) = TexmexFormat.ReadFvecs(parse.GetValue(basePath)!, parse.GetValue(limitBase));
            var (queryValues, qdim) = TexmexFormat.ReadFvecs(parse.GetValue(queryPath)!, parse.GetValue(limitQuery));
            if (dim != qdim || dim == 0)
            {
                throw new InvalidDataException($"Base vectors are {dim}-d, queries {qdim}-d.");
            }
            int nb = baseValues.Length / dim, nq = queryValues.Length / dim;
            void Say(string text)
            {
                if (!asJson)
                {
                    AnsiConsole.MarkupLine(text);
                }
            }
            Say($"{nb:N0} base and {nq:N0} query vectors of {dim}-d; metric {dm}; {parse.GetValue(dtype)} storage; M = {parse.GetValue(m)}, efConstruction = {parse.GetValue(efConstruction)}, {parse.GetValue(threads)} build thread(s).");

            // Ground truth.
            int[] gt;
            int gtDim;
            double gtSeconds = 0;
            string? gtFile = parse.GetValue(gtPath);
            if (gtFile is not null)
            {
                (gt, gtDim) = TexmexFormat.ReadIvecs(gtFile, nq);
                if (gtDim < kk || gt.Length / gtDim < nq)
                {
                    throw new InvalidDataException($"Ground truth has {gtDim} neighbours for {gt.Length / Math.Max(1, gtDim)} queries; need {kk} for {nq}.");
                }
            }
            else
            {
                var watch = Stopwatch.StartNew();
                using var exact = new BruteForceIndex(dim, dm);
                for (int i = 0; i < nb; i++)
                {
                    exact.Add(i, baseValues.AsSpan(i * dim, dim));
                }
                SearchHit[][] truth = exact.SearchBatch(queryValues, kk, parse.GetValue(gtThreads));
                gtDim = kk;
                gt = new int[nq * kk];
                for (int i = 0; i < nq; i++)
                {
                    for (int j = 0; j < kk; j++)
                    {
                        gt[(i * kk) + j] = j < truth[i].Length ? (int)truth[i][j].Key : -1;
                    }
                }
                gtSeconds = watch.Elapsed.TotalSeconds;
                Say($"Exact ground truth in {gtSeconds:F1} s.");
                string? outPath = parse.GetValue(gtOut);
                if (outPath is not null)
                {
                    TexmexFormat.WriteIvecs(outPath, gt, kk);
                }
            }

            // Build.
            VectorType vectorType = parse.GetValue(dtype) switch
            {
                "f16" => VectorType.Float16,
                "i8" => VectorType.Int8,
                _ => VectorType.Float32,
            };
            int rerankCount = parse.GetValue(rerank);
            ArgumentOutOfRangeException.ThrowIfNegative(rerankCount, "--rerank");
            var options = new HnswOptions { M = parse.GetValue(m), EfConstruction = parse.GetValue(efConstruction), Seed = parse.GetValue(seed), InitialCapacity = nb, VectorType = vectorType };
            using var index = new HnswIndex(dim, dm, options);
            var items = new (long, ReadOnlyMemory<float>)[nb];
            for (int i = 0; i < nb; i++)
            {
                items[i] = (i, baseValues.AsMemory(i * dim, dim));
            }
            // Wall-clock and process CPU time: on a shared machine the CPU time is the steadier of the two.
            TimeSpan buildCpu0 = Environment.CpuUsage.TotalTime;
            var buildWatch = Stopwatch.StartNew();
            index.AddRange(items, parse.GetValue(threads));
            double buildSeconds = buildWatch.Elapsed.TotalSeconds;
            double buildCpuSeconds = (Environment.CpuUsage.TotalTime - buildCpu0).TotalSeconds;
            Say($"Built in [green]{buildSeconds:F2} s[/] ({buildCpuSeconds:F2} s CPU).");

            double? loadSeconds = null;
            string? savePath = parse.GetValue(save);
            if (savePath is not null)
            {
                index.Save(savePath);
                var lw = Stopwatch.StartNew();
                using var loaded = HnswIndex.Load(savePath);
                loadSeconds = lw.Elapsed.TotalSeconds;
            }

            // Queries: single-threaded, allocation-free overload.
            var hits = new SearchHit[kk];
            HnswIndex.OriginalVectorLookup originals = key => baseValues.AsSpan((int)key * dim, dim);
            bool reranking = false;
            int Query(int i, int? ef) => reranking
                ? index.SearchAndRerank(queryValues.AsSpan(i * dim, dim), hits, originals, ef, rerankCount)
                : index.Search(queryValues.AsSpan(i * dim, dim), hits, ef);
            for (int i = 0; i < Math.Min(nq, 500); i++)
            {
                Query(i, efs.Length > 0 ? efs[0] : null);
            }
            var runs = new List<AnnRun>();
            var rerankedRuns = new List<AnnRun>();
            var table = new Table().AddColumns("ef", "recall@" + kk, "queries/s", "ms/query", "queries/CPU-s");
            foreach ((int ef, bool withRerank) in efs.Select(e => (e, false)).Concat(rerankCount > 0 ? efs.Select(e => (e, true)) : []))
            {
                reranking = withRerank;
                long found = 0;
                var results = new long[nq * kk];
                TimeSpan cpu0 = Environment.CpuUsage.TotalTime;
                var watch = Stopwatch.StartNew();
                int passes = 0;
                do
                {
                    for (int i = 0; i < nq; i++)
                    {
                        int n = Query(i, ef);
                        if (passes == 0)
                        {
                            for (int j = 0; j < kk; j++)
                            {
                                results[(i * kk) + j] = j < n ? hits[j].Key : -1;
                            }
                        }
                    }
                    passes++;
                }
                while (watch.Elapsed.TotalSeconds < parse.GetValue(minSeconds));
                double seconds = watch.Elapsed.TotalSeconds / passes;
                double cpuSeconds = (Environment.CpuUsage.TotalTime - cpu0).TotalSeconds / passes;
                for (int i = 0; i < nq; i++)
                {
                    ReadOnlySpan<int> truth = gt.AsSpan(i * gtDim, kk);
                    for (int j = 0; j < kk; j++)
                    {
                        long key = results[(i * kk) + j];
                        if (key >= 0 && truth.Contains((int)key))
                        {
                            found++;
                        }
                    }
                }
                double recall = (double)found / ((long)nq * kk);
                double qps = nq / seconds;
                (withRerank ? rerankedRuns : runs).Add(new AnnRun(ef, kk, Math.Round(recall, 4), Math.Round(qps, 1), Math.Round(nq / cpuSeconds, 1)));
                table.AddRow(ef.ToString(CultureInfo.InvariantCulture) + (withRerank ? " (re-ranked)" : ""), recall.ToString("F4", CultureInfo.InvariantCulture),
                             qps.ToString("F0", CultureInfo.InvariantCulture), (1000 / qps).ToString("F3", CultureInfo.InvariantCulture), (nq / cpuSeconds).ToString("F0", CultureInfo.InvariantCulture));
            }
            using var process = Process.GetCurrentProcess();
            double peakMb = process.PeakWorkingSet64 / 1048576.0;
            double indexMb = index.MemoryBytes / 1048576.0;
            double payloadMb = index.PayloadBytes / 1048576.0;
            double datasetMb = (baseValues.Length + queryValues.Length) * 4.0 / 1048576.0;
            if (!asJson)
            {
                AnsiConsole.Write(table);
                AnsiConsole.MarkupLine($"Peak working set {peakMb:F0} MB (includes the {datasetMb:F0} MB of loaded base+query vectors); index {indexMb:F0} MB for {payloadMb:F0} MB of vectors + links ({indexMb / payloadMb:F2}×).");
            }
            else
            {
                CliOutput.WriteJson(new AnnBenchResult(
                    "imageretrieval-hnsw", nb, nq, dim, kk, parse.GetValue(metric)!, options.M, options.EfConstruction, parse.GetValue(threads),
                    Math.Round(buildSeconds, 3), Math.Round(buildCpuSeconds, 3), runs, Math.Round(peakMb, 1), Math.Round(indexMb, 1), Math.Round(payloadMb, 1),
                    Math.Round(datasetMb, 1), gtFile is null ? Math.Round(gtSeconds, 2) : null, loadSeconds is null ? null : Math.Round(loadSeconds.Value, 3),
                    Environment.ProcessorCount, parse.GetValue(dtype)!, index.BytesPerVector, rerankCount, rerankCount > 0 ? rerankedRuns : null));
            }
            return 0;
        }));
        return command;
    }

    /// <summary>One point of the ef sweep. JSON: <c>recall_at_k</c> is recall at the run's k; <c>recall_at_10</c> repeats it when k = 10 (scripts of earlier versions read that key).</summary>
    private sealed record AnnRun(int Ef, [property: JsonIgnore] int K, double RecallAtK, double Qps, double QpsCpu)
    {
        [JsonPropertyName("recall_at_10")]
        public double? RecallAt10 => K == 10 ? RecallAtK : null;
    }

    private sealed record AnnBenchResult(string Library, int BaseCount, int QueryCount, int Dimension, int K, string Metric, int M,
                                         int EfConstruction, int BuildThreads, double BuildSeconds, double BuildCpuSeconds, List<AnnRun> Runs, double PeakMemoryMb,
                                         double IndexMemoryMb, double VectorsAndLinksMb, double DatasetMb, double? GroundTruthSeconds,
                                         double? LoadSeconds, int ProcessorCount, string Dtype, int BytesPerVector, int Rerank,
                                         [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] List<AnnRun>? RerankedRuns);
}
