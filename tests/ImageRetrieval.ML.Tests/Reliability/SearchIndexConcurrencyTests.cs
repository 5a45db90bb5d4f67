using System.Collections.Concurrent;
using System.Diagnostics;
using ImageRetrieval.ML.Search;
using Xunit.Abstractions;

namespace ImageRetrieval.ML.Tests.Reliability;

/// <summary>
/// ImageSearchIndex under concurrent load: searchers (by embedding and by image) on several threads while writers add
/// and remove images and a saver saves, for at least 5 s and until thousands of adds and removes have run (a loaded
/// machine runs longer rather than less). The adds are copies of 60 gallery images, so the graph fills with exact
/// duplicates — what broke it once (docs/hnsw.md). No exception, no item returned by a search that started after its
/// removal completed, no deadlock (a timeout fails), items / embeddings / graph consistent and every live node reachable
/// at the end, recall within bounds, and the last save reopens with the same items and answers.
/// </summary>
public class SearchIndexConcurrencyTests(SavedIndexFixture fixture, ITestOutputHelper output) : IClassFixture<SavedIndexFixture>
{
    [Fact]
    public async Task Searches_adds_removes_and_saves_run_together_safely()
    {
        var minimum = TimeSpan.FromSeconds(5);
        const int minimumAdds = 2_000, minimumRemoves = 2_000;
        using var index = ImageSearchIndex.Create(fixture.Model, fixture.Gallery, SavedIndexFixture.Options with { EfSearch = 64 });
        index.AddFolder();
        byte[][] images = fixture.Paths.Select(File.ReadAllBytes).ToArray();
        float[][] queries = fixture.Paths.Take(20).Select(index.Embed).ToArray();
        string directory = fixture.Scratch("concurrent-" + Guid.NewGuid().ToString("N"));

        long removalClock = 0;                                 // ticks when a removal completes
        var removedAt = new ConcurrentDictionary<long, long>(); // key → clock value after its removal completed
        var live = new ConcurrentQueue<long>(index.Items.Select(i => i.Key));
        long searches = 0, adds = 0, removes = 0, saves = 0, violations = 0;
        var errors = new ConcurrentQueue<Exception>();
        using var stop = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();

        void Loop(Action<Random> body, int seed) => Guard(() =>
        {
            var random = new Random(seed);
            while (!stop.IsCancellationRequested)
            {
                body(random);
            }
        });

        void Guard(Action body)
        {
            try
            {
                body();
            }
            catch (Exception e)
            {
                errors.Enqueue(e);
            }
        }

        var workers = new List<Task>();
        for (int t = 0; t < 3; t++)
        {
            int seed = t;
            workers.Add(Task.Factory.StartNew(() => Loop(random =>
            {
                long clock = Interlocked.Read(ref removalClock);
                var results = random.Next(10) == 0
                    ? index.Search(images[random.Next(images.Length)], k: 10)
                    : index.Search(queries[random.Next(queries.Length)], k: 10, exact: random.Next(5) == 0);
                foreach (var r in results)
                {
                    if (removedAt.TryGetValue(r.Key, out long at) && at <= clock)
                    {
                        Interlocked.Increment(ref violations);
                    }
                }
                Interlocked.Increment(ref searches);
            }, seed), TaskCreationOptions.LongRunning));
        }
        long counter = 0;
        workers.Add(Task.Factory.StartNew(() => Loop(random =>
        {
            int n = 1 + random.Next(4);
            var batch = Enumerable.Range(0, n).Select(_ => (ReadOnlyMemory<byte>)images[random.Next(images.Length)]).ToList();
            var names = Enumerable.Range(0, n).Select(_ => $"stress/{Interlocked.Increment(ref counter)}.png").ToList();
            index.AddImages(batch, names);
            foreach (string name in names)
            {
                live.Enqueue(index.Items.First(i => i.Path == name).Key);
            }
            Interlocked.Add(ref adds, n);
        }, 10), TaskCreationOptions.LongRunning));
        workers.Add(Task.Factory.StartNew(() => Loop(random =>
        {
            if (index.Count > 30 && live.TryDequeue(out long key) && index.Remove(key))
            {
                removedAt[key] = Interlocked.Increment(ref removalClock);
                Interlocked.Increment(ref removes);
            }
            Thread.Yield();
        }, 11), TaskCreationOptions.LongRunning));
        workers.Add(Task.Factory.StartNew(() => Loop(random =>
        {
            index.Save(directory);
            Interlocked.Increment(ref saves);
            Thread.Sleep(100);
        }, 12), TaskCreationOptions.LongRunning));

        // Stop once the minimum time has passed and enough churn has happened (or an error appeared); 5 minutes at most.
        while (clock.Elapsed < TimeSpan.FromMinutes(5) && errors.IsEmpty &&
               (clock.Elapsed < minimum || Interlocked.Read(ref adds) < minimumAdds || Interlocked.Read(ref removes) < minimumRemoves))
        {
            await Task.Delay(100);
        }
        stop.Cancel();
        Task all = Task.WhenAll(workers);
        Assert.True(await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(90))) == all, "deadlock: the workers did not stop within 90 s");
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: {searches} searches, {adds} adds, {removes} removes, {saves} saves; final count {index.Count}");
        Assert.True(errors.IsEmpty, string.Join("\n", errors));
        Assert.Equal(0, Interlocked.Read(ref violations));
        Assert.True(searches > 50 && adds > 10 && removes > 10 && saves > 2, $"too little work: {searches}/{adds}/{removes}/{saves}");

        Assert.True(adds >= minimumAdds && removes >= minimumRemoves && searches > 50 && saves > 2, $"too little work: {searches}/{adds}/{removes}/{saves}");

        // Items, embeddings and graph agree; every live node is reachable; every removed key is gone.
        Assert.Empty(index.CheckConsistency());
        foreach (long key in removedAt.Keys)
        {
            Assert.Null(index.Get(key));
        }
        // Recall of the graph against exact search. The gallery holds many exact copies of each image, so the ten
        // nearest are often a tie among copies: a hit counts if it is as near as the exact tenth (ties are equally right).
        int found = 0, wanted = 0;
        foreach (float[] q in queries)
        {
            var exact = index.Search(q, k: 10, exact: true);
            var approximate = index.Search(q, k: 10, efSearch: 100);
            Assert.DoesNotContain(approximate, r => removedAt.ContainsKey(r.Key));
            Assert.Equal(approximate.Count, approximate.Select(r => r.Key).Distinct().Count());
            found += RecallHits(approximate.Select(r => r.Distance), exact.Select(r => r.Distance).ToList());
            wanted += exact.Count;
        }
        double recall = (double)found / wanted;
        output.WriteLine($"recall@10 after the run: {recall:F3}");
        Assert.True(recall >= 0.9, $"recall@10 {recall:F3}");

        index.Save(directory);
        using var reopened = ImageSearchIndex.Open(directory, fixture.Model, fixture.Gallery);
        Assert.Equal(index.Items.Select(i => (i.Key, i.Path)), reopened.Items.Select(i => (i.Key, i.Path)));
        Assert.Empty(reopened.CheckConsistency());
        foreach (float[] q in queries)
        {
            Assert.Equal(index.Search(q, k: 10, efSearch: 100).Select(r => (r.Key, r.Distance)),
                         reopened.Search(q, k: 10, efSearch: 100).Select(r => (r.Key, r.Distance)));
        }
    }

    /// <summary>Hits as near as the exact k-th result (within float rounding): the tie-aware recall of ann-benchmarks.</summary>
    internal static int RecallHits(IEnumerable<float> approximate, IReadOnlyList<float> exact)
    {
        if (exact.Count == 0)
        {
            return 0;
        }
        float kth = exact[^1];
        float tolerance = 1e-6f * Math.Max(1f, Math.Abs(kth));
        return Math.Min(exact.Count, approximate.Count(d => d <= kth + tolerance));
    }
}
