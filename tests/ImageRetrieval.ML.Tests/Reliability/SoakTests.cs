using ImageRetrieval.Cli.Commands;
using Xunit.Abstractions;

namespace ImageRetrieval.ML.Tests.Reliability;

/// <summary>Runs the soak alone: the live-heap figure is process-wide, so parallel tests would pollute it.</summary>
[CollectionDefinition(nameof(SoakTests), DisableParallelization = true)]
public sealed class SoakCollection;

/// <summary>
/// The short CI version of <c>imgret soak</c>: a few seconds of sustained queries against a 10k-item index;
/// the live managed heap after a full collection must not grow from the end of warm-up to the end of the run.
/// </summary>
[Collection(nameof(SoakTests))]
public class SoakTests(ITestOutputHelper output)
{
    [Fact]
    public void Sustained_queries_do_not_grow_memory()
    {
        SoakResult r = SoakRunner.Run(items: 10_000, dimension: 32, duration: TimeSpan.FromSeconds(4), warmup: TimeSpan.FromSeconds(1), threads: 2);
        output.WriteLine($"{r.Queries:N0} queries in {r.Seconds:F1} s = {r.QueriesPerSecond:N0} q/s, p50 {r.P50Microseconds:F0} µs, p99 {r.P99Microseconds:F0} µs; " +
            $"live heap {r.LiveHeapAfterWarmupBytes:N0} → {r.LiveHeapAtEndBytes:N0} B; GC heap slope {r.GcHeapSlopeBytesPerMinute / 1048576:F2} MB/min; " +
            $"working set {r.WorkingSetStartBytes / 1048576.0:F1} → {r.WorkingSetEndBytes / 1048576.0:F1} MB");
        Assert.True(r.Queries > 1000, $"only {r.Queries} queries");
        Assert.True(r.P99Microseconds >= r.P50Microseconds);
        // Only the memory samples themselves are retained: the live heap may grow by a few KB, never by MB.
        Assert.True(r.LiveHeapAtEndBytes - r.LiveHeapAfterWarmupBytes < (2L << 20), $"live heap grew {r.LiveHeapAtEndBytes - r.LiveHeapAfterWarmupBytes:N0} bytes");
    }
}
