using System.Collections.Concurrent;
using System.Diagnostics;
using ImageRetrieval.ML.Search;
using Xunit.Abstractions;

namespace ImageRetrieval.ML.Tests.Reliability;

/// <summary>
/// ImageSearchIndex under concurrent load for a fixed period: searchers (by embedding and by image) on
/// several threads while writers add and remove images and a saver saves. No exception, no item returned
/// by a search that started after its removal completed, no deadlock (a timeout fails), recall within
/// bounds at the end, and the last save reopens with what the index held.
/// </summary>
public class SearchIndexConcurrencyTests(SavedIndexFixture fixture, ITestOutputHelper output) : IClassFixture<SavedIndexFixture>
{
    [Fact]
    public async Task Searches_adds_removes_and_saves_run_together_safely()
    {
        var duration = TimeSpan.FromSeconds(5);
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
        using var stop = new CancellationTokenSource(duration);

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

        Task all = Task.WhenAll(workers);
        Assert.True(await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(90))) == all, "deadlock: the workers did not stop within 90 s of a 5 s run");
        output.WriteLine($"{duration.TotalSeconds} s: {searches} searches, {adds} adds, {removes} removes, {saves} saves; final count {index.Count}");
        Assert.True(errors.IsEmpty, string.Join("\n", errors));
        Assert.Equal(0, Interlocked.Read(ref violations));
        Assert.True(searches > 50 && adds > 10 && removes > 10 && saves > 2, $"too little work: {searches}/{adds}/{removes}/{saves}");

        // Every removed key is gone; recall of the graph against exact search stays within bounds.
        foreach (long key in removedAt.Keys)
        {
            Assert.Null(index.Get(key));
        }
        int found = 0, wanted = 0;
        foreach (float[] q in queries)
        {
            var exact = index.Search(q, k: 10, exact: true).Select(r => r.Key).ToHashSet();
            var approximate = index.Search(q, k: 10, efSearch: 100);
            Assert.DoesNotContain(approximate, r => removedAt.ContainsKey(r.Key));
            found += approximate.Count(r => exact.Contains(r.Key));
            wanted += exact.Count;
        }
        double recall = (double)found / wanted;
        output.WriteLine($"recall@10 after the run: {recall:F3}");
        Assert.True(recall >= 0.9, $"recall@10 {recall:F3}");

        index.Save(directory);
        using var reopened = ImageSearchIndex.Open(directory, fixture.Model, fixture.Gallery);
        Assert.Equal(index.Items.Select(i => (i.Key, i.Path)), reopened.Items.Select(i => (i.Key, i.Path)));
    }
}
