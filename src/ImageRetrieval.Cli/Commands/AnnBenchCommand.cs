using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Serialization;
using ImageRetrieval.Cli.Output;
using ImageRetrieval.Datasets.Evaluation;
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
            DistanceMetric dm = DistanceMetricNames.Parse(parse.GetValue(metric), "--metric");
            var (baseValues, dim) = TexmexFormat.ReadFvecs(parse.GetValue(basePath)!, parse.GetValue(limitBase));
            var (queryValues, qdim) = TexmexFormat.ReadFvecs(parse.GetValue(queryPath)!, parse.GetValue(limitQuery));
            if (dim != qdim || dim == 0)
            {
                throw new InvalidDataException($"Base vectors are {dim}-d, queries {qdim}-d.");
            }
            var options = new AnnBenchmarkOptions
            {
                K = kk, Metric = dm, BuildThreads = parse.GetValue(threads), GroundTruthThreads = parse.GetValue(gtThreads), Rerank = parse.GetValue(rerank),
                MinQuerySeconds = parse.GetValue(minSeconds), SavePath = parse.GetValue(save),
                EfSearch = [.. parse.GetValue(efSearch)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture))],
                Index = new HnswOptions { M = parse.GetValue(m), EfConstruction = parse.GetValue(efConstruction), Seed = parse.GetValue(seed), VectorType = ParseVectorType(parse.GetValue(dtype)!) },
            };
            int nb = baseValues.Length / dim, nq = queryValues.Length / dim;
            Say(asJson, $"{nb:N0} base and {nq:N0} query vectors of {dim}-d; metric {dm}; {parse.GetValue(dtype)} storage; M = {options.Index.M}, efConstruction = {options.Index.EfConstruction}, {options.BuildThreads} build thread(s).");
            (int[] gt, int gtWidth, double? gtSeconds) = GroundTruth(parse.GetValue(gtPath), parse.GetValue(gtOut), baseValues, queryValues, dim, nq, options);
            Say(asJson, gtSeconds is null ? "Ground truth read." : $"Exact ground truth in {gtSeconds:F1} s.");
            AnnBenchmarkReport report = AnnBenchmark.Run(baseValues, queryValues, dim, gt, gtWidth, options);
            using var process = Process.GetCurrentProcess();
            double peakMb = process.PeakWorkingSet64 / 1048576.0, indexMb = report.IndexBytes / 1048576.0, payloadMb = report.PayloadBytes / 1048576.0;
            double datasetMb = (baseValues.Length + queryValues.Length) * 4.0 / 1048576.0;
            if (asJson)
            {
                CliOutput.WriteJson(new AnnBenchResult(
                    "imageretrieval-hnsw", nb, nq, dim, kk, parse.GetValue(metric)!, options.Index.M, options.Index.EfConstruction, options.BuildThreads,
                    Math.Round(report.BuildSeconds, 3), Math.Round(report.BuildCpuSeconds, 3), [.. report.Runs.Select(r => AnnRun.From(r, kk))], Math.Round(peakMb, 1),
                    Math.Round(indexMb, 1), Math.Round(payloadMb, 1), Math.Round(datasetMb, 1), gtSeconds is null ? null : Math.Round(gtSeconds.Value, 2),
                    report.LoadSeconds is null ? null : Math.Round(report.LoadSeconds.Value, 3), Environment.ProcessorCount, parse.GetValue(dtype)!,
                    report.BytesPerVector, options.Rerank, options.Rerank > 0 ? [.. report.RerankedRuns.Select(r => AnnRun.From(r, kk))] : null), CliJsonContext.Default.AnnBenchResult);
                return 0;
            }
            AnsiConsole.MarkupLine($"Built in [green]{report.BuildSeconds:F2} s[/] ({report.BuildCpuSeconds:F2} s CPU).");
            var table = new Table().AddColumns("ef", "recall@" + kk, "queries/s", "ms/query", "queries/CPU-s");
            foreach ((AnnBenchmarkRun run, string suffix) in report.Runs.Select(r => (r, "")).Concat(report.RerankedRuns.Select(r => (r, " (re-ranked)"))))
            {
                table.AddRow(run.Ef.ToString(CultureInfo.InvariantCulture) + suffix, run.Recall.ToString("F4", CultureInfo.InvariantCulture), run.QueriesPerSecond.ToString("F0", CultureInfo.InvariantCulture),
                             (1000 / run.QueriesPerSecond).ToString("F3", CultureInfo.InvariantCulture), run.QueriesPerCpuSecond.ToString("F0", CultureInfo.InvariantCulture));
            }
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine($"Peak working set {peakMb:F0} MB (includes the {datasetMb:F0} MB of loaded base+query vectors); index {indexMb:F0} MB for {payloadMb:F0} MB of vectors + links ({indexMb / payloadMb:F2}×).");
            return 0;
        }));
        return command;
    }

    private static void Say(bool asJson, string text)
    {
        if (!asJson)
        {
            AnsiConsole.MarkupLine(text);
        }
    }

    private static VectorType ParseVectorType(string dtype) => dtype switch
    {
        "f16" => VectorType.Float16,
        "i8" => VectorType.Int8,
        _ => VectorType.Float32,
    };

    /// <summary>Reads the ground truth from <paramref name="gtFile"/>, or computes it exactly (and writes it to <paramref name="gtOut"/> when given).</summary>
    private static (int[] Ids, int Width, double? Seconds) GroundTruth(string? gtFile, string? gtOut, float[] baseValues, float[] queryValues, int dim, int nq, AnnBenchmarkOptions options)
    {
        if (gtFile is not null)
        {
            (int[] ids, int width) = TexmexFormat.ReadIvecs(gtFile, nq);
            if (width < options.K || ids.Length / width < nq)
            {
                throw new InvalidDataException($"Ground truth '{gtFile}' has {width} neighbours for {ids.Length / Math.Max(1, width)} queries; need {options.K} for {nq}.");
            }
            return (ids, width, null);
        }
        var watch = Stopwatch.StartNew();
        int[] gt = AnnBenchmark.ExactGroundTruth(baseValues, queryValues, dim, options.K, options.Metric, options.GroundTruthThreads);
        double seconds = watch.Elapsed.TotalSeconds;
        if (gtOut is not null)
        {
            TexmexFormat.WriteIvecs(gtOut, gt, options.K);
        }
        return (gt, options.K, seconds);
    }

    /// <summary>One point of the ef sweep. JSON: <c>recall_at_k</c> is recall at the run's k; <c>recall_at_10</c> repeats it when k = 10 (scripts of earlier versions read that key).</summary>
    internal sealed record AnnRun(int Ef, [property: JsonIgnore] int K, double RecallAtK, double Qps, double QpsCpu)
    {
        public static AnnRun From(AnnBenchmarkRun run, int k) =>
            new(run.Ef, k, Math.Round(run.Recall, 4), Math.Round(run.QueriesPerSecond, 1), Math.Round(run.QueriesPerCpuSecond, 1));

        [JsonPropertyName("recall_at_10")]
        public double? RecallAt10 => K == 10 ? RecallAtK : null;
    }

    internal sealed record AnnBenchResult(string Library, int BaseCount, int QueryCount, int Dimension, int K, string Metric, int M,
                                         int EfConstruction, int BuildThreads, double BuildSeconds, double BuildCpuSeconds, List<AnnRun> Runs, double PeakMemoryMb,
                                         double IndexMemoryMb, double VectorsAndLinksMb, double DatasetMb, double? GroundTruthSeconds,
                                         double? LoadSeconds, int ProcessorCount, string Dtype, int BytesPerVector, int Rerank,
                                         [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] List<AnnRun>? RerankedRuns);
}
