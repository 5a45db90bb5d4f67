using System.CommandLine;
using System.Globalization;
using ImageRetrieval.Cli.Output;
using ImageRetrieval.Cli.Services;
using ImageRetrieval.ML.Indexing;
using Spectre.Console;

namespace ImageRetrieval.Cli.Commands;

/// <summary>
/// <c>imgret soak --items 100000 --dim 64 --seconds 60 [--json]</c>: sustained HNSW queries against a random
/// index with the GC heap and working set sampled every second; reports queries/s, p50/p99 latency and the
/// memory slope after warm-up (docs/reliability.md).
/// </summary>
internal static class SoakCommand
{
    public static Command Create()
    {
        var items = new Option<int>("--items") { Description = "Vectors in the index.", DefaultValueFactory = _ => 100_000 };
        var dim = new Option<int>("--dim") { Description = "Vector dimension.", DefaultValueFactory = _ => 64 };
        var seconds = new Option<int>("--seconds") { Description = "Measured duration.", DefaultValueFactory = _ => 60 };
        var warmup = new Option<int>("--warmup") { Description = "Warm-up seconds before measuring.", DefaultValueFactory = _ => 5 };
        var threads = new Option<int>("--threads") { Description = "Query threads (default: processor count).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var ef = new Option<int>("--ef") { Description = "HNSW efSearch.", DefaultValueFactory = _ => HnswOptions.Defaults.EfSearch };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (with every memory sample) instead of text." };
        var command = new Command("soak", "Sustained queries against a random HNSW index with memory sampled: throughput, p50/p99 latency, memory slope.")
        {
            items, dim, seconds, warmup, threads, ef, json,
        };
        command.SetAction(parse => CliOutput.Run(() =>
        {
            bool asJson = parse.GetValue(json);
            SoakResult r = SoakRunner.Run(
                parse.GetValue(items), parse.GetValue(dim), TimeSpan.FromSeconds(parse.GetValue(seconds)), TimeSpan.FromSeconds(parse.GetValue(warmup)),
                Math.Max(1, parse.GetValue(threads)), efSearch: parse.GetValue(ef), log: asJson ? null : CliOutput.Error.WriteLine);
            if (asJson)
            {
                CliOutput.WriteJson(r, CliJsonContext.Default.SoakResult);
                return 0;
            }
            static string Mb(double bytes) => (bytes / 1048576.0).ToString("F1", CultureInfo.InvariantCulture) + " MB";
            AnsiConsole.MarkupLineInterpolated($"[bold]{r.Items:N0}[/] × {r.Dimension}-d, {r.Threads} threads, built in {r.BuildSeconds:F1} s");
            AnsiConsole.MarkupLineInterpolated($"{r.Queries:N0} queries in {r.Seconds:F1} s = [bold]{r.QueriesPerSecond:N0} q/s[/]; latency p50 {r.P50Microseconds:F0} µs, p99 {r.P99Microseconds:F0} µs, max {r.MaxMicroseconds:F0} µs");
            AnsiConsole.MarkupLineInterpolated($"GC heap {Mb(r.GcHeapStartBytes)} → {Mb(r.GcHeapEndBytes)} (slope {Mb(r.GcHeapSlopeBytesPerMinute)}/min); live heap after warm-up {Mb(r.LiveHeapAfterWarmupBytes)}, at end {Mb(r.LiveHeapAtEndBytes)}");
            AnsiConsole.MarkupLineInterpolated($"working set {Mb(r.WorkingSetStartBytes)} → {Mb(r.WorkingSetEndBytes)} (slope {Mb(r.WorkingSetSlopeBytesPerMinute)}/min)");
            return 0;
        }));
        return command;
    }
}
