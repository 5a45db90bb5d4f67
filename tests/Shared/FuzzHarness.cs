using System.Diagnostics;
using System.Globalization;

namespace ImageRetrieval.Tests;

/// <summary>What a fuzz run did.</summary>
internal sealed record FuzzOutcome(string Area, int Cases, int Accepted, int Rejected, TimeSpan Elapsed, TimeSpan Slowest, long MostAllocated, IReadOnlyList<string> Failures);

/// <summary>
/// Runs seeded mutations of valid seed files through a reader. Each case must return normally or throw
/// one of the documented exception types, within a managed-allocation bound (and a generous hang guard); anything
/// else is a failure, and its input is written to <c>fuzz-failures/&lt;area&gt;/</c> under the test output
/// folder so it can be added to <c>tests/fixtures/regressions/&lt;area&gt;/</c>.
/// </summary>
/// <remarks>
/// Case counts scale with the environment variable <c>IMGRET_FUZZ_SCALE</c> (default 1; the long run in
/// docs/reliability.md used 20), and the run seed can be changed with <c>IMGRET_FUZZ_SEED</c>.
/// </remarks>
internal static class FuzzHarness
{
    public static int Scale =>
        int.TryParse(Environment.GetEnvironmentVariable("IMGRET_FUZZ_SCALE"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int s) && s > 0 ? s : 1;

    public static int RunSeed =>
        int.TryParse(Environment.GetEnvironmentVariable("IMGRET_FUZZ_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int s) ? s : 20261127;

    /// <summary>A case taking longer than this is reported as a hang.</summary>
    public static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(10);

    /// <summary>Runs <paramref name="action"/> and returns what it threw (null if nothing); fails the test if it outlives <see cref="HangGuard"/>.</summary>
    public static async Task<Exception?> ReplayAsync(Action action, string what)
    {
        Task<Exception?> replay = Task.Run<Exception?>(() => Record.Exception(action));
        Assert.True(await Task.WhenAny(replay, Task.Delay(HangGuard)) == replay, $"{what} did not return within {HangGuard} (a hang)");
        return await replay;
    }

    /// <summary>The fuzz figures of this process, for docs/reliability.md.</summary>
    public static readonly System.Collections.Concurrent.ConcurrentQueue<FuzzOutcome> Log = new();

    public static FuzzOutcome Run(string area, IReadOnlyList<byte[]> seeds, int cases, Action<byte[]> target, Type[] allowed,
        Func<byte[], long> allocationBudget, TimeSpan? perCase = null, TimeSpan? whole = null)
    {
        // Work is bounded by the allocation budget; the time bound only catches a hang (or a runaway loop), with a
        // margin that a loaded 2-core machine meets: it is not a speed requirement.
        TimeSpan limit = perCase ?? HangGuard;
        int total = cases * Scale;
        int seed = RunSeed;
        var failures = new List<string>();
        int accepted = 0, rejected = 0;
        TimeSpan slowest = TimeSpan.Zero;
        long mostAllocated = 0;
        var watch = Stopwatch.StartNew();
        // Warm up (JIT, native library loads) on the unmutated seeds, which must all be accepted.
        foreach (byte[] s in seeds)
        {
            target(s);
        }
        var task = Task.Factory.StartNew(() =>
        {
            for (int i = 0; i < total; i++)
            {
                byte[] input = Mutator.Mutate(seeds[i % seeds.Count], seed, i, out string what);
                long before = GC.GetAllocatedBytesForCurrentThread();
                var caseWatch = Stopwatch.StartNew();
                Exception? error = null;
                try
                {
                    target(input);
                }
                catch (Exception e)
                {
                    error = e;
                }
                caseWatch.Stop();
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                mostAllocated = Math.Max(mostAllocated, allocated);
                if (caseWatch.Elapsed > slowest)
                {
                    slowest = caseWatch.Elapsed;
                }
                string? problem = null;
                if (error is null)
                {
                    accepted++;
                }
                else if (allowed.Any(t => t.IsInstanceOfType(error)))
                {
                    rejected++;
                }
                else
                {
                    problem = $"threw {error.GetType().FullName}: {error.Message}";
                }
                if (caseWatch.Elapsed > limit)
                {
                    problem = (problem is null ? "" : problem + "; ") + $"took {caseWatch.Elapsed.TotalMilliseconds:F0} ms (hang guard {limit.TotalSeconds:F0} s)";
                }
                long budget = allocationBudget(input);
                if (allocated > budget)
                {
                    problem = (problem is null ? "" : problem + "; ") + $"allocated {allocated:N0} bytes, budget {budget:N0}";
                }
                if (problem is not null)
                {
                    string file = Save(area, seed, i, input);
                    failures.Add($"case {i} (seed {seed}, {what}) {problem} -> {file}");
                }
            }
        }, TaskCreationOptions.LongRunning);
        TimeSpan deadline = whole ?? TimeSpan.FromSeconds(120 * Scale);
        Assert.True(task.Wait(deadline), $"fuzzing {area} did not finish in {deadline} (a hang)");
        var outcome = new FuzzOutcome(area, total, accepted, rejected, watch.Elapsed, slowest, mostAllocated, failures);
        Log.Enqueue(outcome);
        return outcome;
    }

    private static string Save(string area, int seed, int caseNumber, byte[] input)
    {
        string folder = Path.Combine(AppContext.BaseDirectory, "fuzz-failures", area);
        Directory.CreateDirectory(folder);
        string file = Path.Combine(folder, $"{area}-seed{seed}-case{caseNumber}.bin");
        File.WriteAllBytes(file, input);
        return file;
    }
}
