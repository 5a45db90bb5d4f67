using ImageRetrieval.Cli.Services;
using Xunit.Abstractions;

namespace ImageRetrieval.Cli.Tests;

/// <summary>
/// The short CI version of <c>imgret soak</c>: a few seconds of sustained queries against a 10k-item index; the live
/// managed heap after a full collection must not grow from the end of warm-up to the end of the run. In the CLI
/// collection: the live-heap figure is process-wide, so parallel tests would pollute it.
/// </summary>
[Collection(ImgretCollection.Name)]
public class SoakTests(ITestOutputHelper output)
{
    [Fact]
    public void Sustained_queries_do_not_grow_memory_and_the_figures_add_up()
    {
        var duration = TimeSpan.FromSeconds(4);
        SoakResult r = SoakRunner.Run(items: 10_000, dimension: 32, duration: duration, warmup: TimeSpan.FromSeconds(1), threads: 2);
        output.WriteLine($"{r.Queries:N0} queries in {r.Seconds:F1} s = {r.QueriesPerSecond:N0} q/s, p50 {r.P50Microseconds:F0} µs, p99 {r.P99Microseconds:F0} µs; " +
            $"live heap {r.LiveHeapAfterWarmupBytes:N0} → {r.LiveHeapAtEndBytes:N0} B; GC heap slope {r.GcHeapSlopeBytesPerMinute / 1048576:F2} MB/min; " +
            $"working set {r.WorkingSetStartBytes / 1048576.0:F1} → {r.WorkingSetEndBytes / 1048576.0:F1} MB");
        Assert.True(r.Queries > 1000, $"only {r.Queries} queries");
        Assert.Equal(r.Queries / r.Seconds, r.QueriesPerSecond, 6);
        Assert.True(r.Seconds >= duration.TotalSeconds, $"the measured phase lasted {r.Seconds:F2} s, less than the {duration.TotalSeconds} s asked for");
        // Latencies are histogram buckets of 1 µs (reported at the bucket centre): every query was timed, none took 0.
        Assert.InRange(r.P50Microseconds, 0.5, r.MaxMicroseconds);
        Assert.InRange(r.P99Microseconds, r.P50Microseconds, r.MaxMicroseconds);
        // One memory sample per second of the measured phase, in time order, counting queries as they happen.
        Assert.InRange(r.Samples.Count, (int)duration.TotalSeconds - 1, (int)duration.TotalSeconds + 1);
        Assert.True(r.Samples.Zip(r.Samples.Skip(1)).All(p => p.Second.Seconds > p.First.Seconds && p.Second.Queries >= p.First.Queries), "samples out of order");
        Assert.True(r.Samples[^1].Queries <= r.Queries);
        // Only the memory samples themselves are retained: the live heap may grow by a few KB, never by MB.
        Assert.True(r.LiveHeapAtEndBytes - r.LiveHeapAfterWarmupBytes < (2L << 20), $"live heap grew {r.LiveHeapAtEndBytes - r.LiveHeapAfterWarmupBytes:N0} bytes");
    }

    [Fact]
    public void The_soak_command_prints_its_figures_as_json()
    {
        var json = Imgret.Succeed(output, "soak", "--items", "2000", "--dim", "16", "--seconds", "1", "--warmup", "0", "--threads", "1", "--json").Json;
        Assert.Equal(2000, json.GetProperty("items").GetInt32());
        Assert.True(json.GetProperty("queries").GetInt64() > 0);
        Assert.True(json.GetProperty("p99_microseconds").GetDouble() >= json.GetProperty("p50_microseconds").GetDouble());
    }
}
