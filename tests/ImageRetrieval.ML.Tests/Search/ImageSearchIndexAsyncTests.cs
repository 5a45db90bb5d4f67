using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Imaging;
using ImageRetrieval.ML.Search;
using ImageRetrieval.ML.VectorStores;

namespace ImageRetrieval.ML.Tests.Search;

/// <summary>What long-running apps and ASP.NET Core need of an index: async, cancellation that keeps finished batches,
/// progress in order, queries that never wait behind a bulk add, Dispose that waits, and records in any VectorData store.</summary>
public sealed class ImageSearchIndexAsyncTests(SearchFixture fixture) : IClassFixture<SearchFixture>
{
    private static readonly ImageSearchIndexOptions Options = new() { Embedder = new ImageEmbedderOptions { BatchSize = 32, DecodeParallelism = 2 } };

    [Fact]
    public async Task AddFolderAsync_reports_progress_directly_and_in_order_and_matches_the_synchronous_add()
    {
        using var index = ImageSearchIndex.Create(fixture.Model, fixture.Gallery, Options);
        var reports = new List<IndexingProgress>();
        IndexingReport report = await index.AddFolderAsync(progress: new Inline<IndexingProgress>(reports.Add));
        Assert.Equal(300, report.Added);
        Assert.Equal(10, reports.Count); // 301 image files in batches of 32: one report per batch, all before the task completes
        Assert.Equal(reports.OrderBy(r => r.Completed).ToList(), reports);
        Assert.Equal(301, reports[^1].Completed);
        Assert.Equal(1, reports[^1].Skipped);
    }

    [Fact]
    public async Task Cancelling_a_bulk_add_keeps_the_batches_already_inserted()
    {
        using var index = ImageSearchIndex.Create(fixture.Model, fixture.Gallery, Options);
        using var cancel = new CancellationTokenSource();
        int reports = 0;
        IndexingProgress last = default;
        var progress = new Inline<IndexingProgress>(p =>
        {
            last = p;
            if (++reports == 3)
            {
                cancel.Cancel();
            }
        });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => index.AddFolderAsync(progress: progress, cancellationToken: cancel.Token));
        // Three batches of 32 files were scored and inserted (coat/broken.png, among them, skipped) before the cancellation.
        Assert.Equal((96, 1), (last.Completed, last.Skipped));
        Assert.Equal(95, index.Count);
        Assert.Empty(index.CheckConsistency());
        // The inserted batches are searchable, and adding again fills in the rest (replacing the first 95 in place).
        Assert.NotEmpty(index.Search(fixture.Paths[0], k: 3));
        IndexingReport rest = index.AddFolder();
        Assert.Equal((205, 95), (rest.Added, rest.Replaced));
    }

    [Fact]
    public void A_query_is_answered_while_a_bulk_add_is_in_the_middle_of_a_batch()
    {
        using var index = ImageSearchIndex.Create(fixture.Model, fixture.Gallery, Options);
        index.AddFiles(fixture.Paths.Take(40).ToList(), index.LabelFromFolder);
        IReadOnlyList<ImageSearchResult>? graph = null, exact = null;
        // The progress callback runs on the bulk add's thread, between batches, while its embedding pipeline holds the
        // embedder: a query that waited for the embedder or for the writer lock would never finish here.
        var progress = new Inline<IndexingProgress>(_ =>
        {
            if (graph is null)
            {
                Task<IReadOnlyList<ImageSearchResult>> a = Task.Run(() => index.Search(fixture.Paths[0], k: 5));
                Task<IReadOnlyList<ImageSearchResult>> b = Task.Run(() => index.Search(fixture.Paths[1], k: 5, exact: true));
                Assert.True(Task.WaitAll([a, b], TimeSpan.FromMinutes(2)), "a query waited behind the bulk add");
                (graph, exact) = (a.Result, b.Result);
            }
        });
        index.AddFiles(fixture.Paths.Skip(40).ToList(), index.LabelFromFolder, progress: progress);
        Assert.Equal(5, graph!.Count);
        Assert.Equal(5, exact!.Count);
    }

    [Fact]
    public async Task Dispose_waits_for_a_search_in_flight()
    {
        var index = ImageSearchIndex.Create(fixture.Model, fixture.Gallery, Options);
        index.AddFiles(fixture.Paths.Take(64).ToList());
        using var inFilter = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        Task<IReadOnlyList<ImageSearchResult>> search = Task.Run(() => index.Search(fixture.Paths[0], k: 5, filter: _ =>
        {
            inFilter.Set();
            release.Wait();
            return true;
        }));
        inFilter.Wait();
        Task dispose = Task.Run(index.Dispose);
        // Dispose cannot finish while the search is inside the graph; the search then completes normally.
        await Task.WhenAny(dispose, Task.Delay(200));
        Assert.False(dispose.IsCompleted);
        release.Set();
        Assert.Equal(5, (await search).Count);
        await dispose;
        Assert.Throws<ObjectDisposedException>(() => index.Search(fixture.Paths[0], k: 5));
    }

    [Fact]
    public async Task SearchAsync_reads_a_stream_that_refuses_synchronous_reads_and_AddImageAsync_indexes_one()
    {
        using var index = ImageSearchIndex.Create(fixture.Model, fixture.Gallery, Options);
        index.AddFiles(fixture.Paths.Take(50).ToList(), index.LabelFromFolder);
        byte[] query = File.ReadAllBytes(fixture.Paths[7]);
        IReadOnlyList<ImageSearchResult> expected = index.Search(query, k: 5);
        IReadOnlyList<ImageSearchResult> fromStream = await index.SearchAsync(new AsyncOnlyStream(query), k: 5);
        Assert.Equal(expected, fromStream);

        IndexingReport added = await index.AddImageAsync(new AsyncOnlyStream(query), "uploads/one.png", "upload");
        Assert.Equal(1, added.Added);
        Assert.Equal("upload", index.Get(index.Items.Single(i => i.Path == "uploads/one.png").Key)!.Label);
        IndexingReport bad = await index.AddImageAsync(new AsyncOnlyStream("nope"u8.ToArray()), "uploads/bad.png");
        Assert.Single(bad.Skipped);
        await Assert.ThrowsAsync<ImageDecodeException>(async () => await index.SearchAsync(new AsyncOnlyStream("nope"u8.ToArray())));
    }

    [Fact]
    public async Task SaveAsync_writes_a_version_that_reopens_with_the_same_answers()
    {
        string directory = fixture.Scratch("async-save-" + Guid.NewGuid().ToString("N"));
        using var index = ImageSearchIndex.Create(fixture.Model, fixture.Gallery, Options);
        await index.AddFolderAsync();
        await index.SaveAsync(directory);
        using var reopened = ImageSearchIndex.Open(directory, fixture.Model, fixture.Gallery, Options with { EfSearch = 100 });
        Assert.Equal(100, reopened.Options.EfSearch);
        Assert.Equal(index.Search(fixture.Paths[3], k: 10, efSearch: 100), reopened.Search(fixture.Paths[3], k: 10));
    }

    [Fact]
    public async Task An_index_over_an_HNSW_vector_store_adds_searches_removes_and_reopens_from_the_store()
    {
        string storeDirectory = fixture.Scratch("store-" + Guid.NewGuid().ToString("N"));
        using var builtIn = ImageSearchIndex.Create(fixture.Model, fixture.Gallery, Options);
        builtIn.AddFolder();
        IReadOnlyList<ImageSearchResult> expected = builtIn.Search(fixture.Paths[5], k: 5, exact: true);
        foreach (Type keyType in new[] { typeof(Guid), typeof(string), typeof(long) })
        {
            using (var store = new HnswVectorStore(new HnswVectorStoreOptions { Directory = storeDirectory, SaveOnEveryWrite = false }))
            using (var index = await ImageSearchIndex.CreateAsync(fixture.Model, fixture.Gallery, store, "gallery-" + keyType.Name, keyType, Options))
            {
                IndexingReport report = await index.AddFolderAsync();
                Assert.Equal(300, report.Added);
                Assert.Equal("gallery-" + keyType.Name, index.VectorStoreCollectionName);
                IReadOnlyList<ImageSearchResult> results = index.Search(fixture.Paths[5], k: 5);
                Assert.Equal(expected.Select(r => r.Path), results.Select(r => r.Path));
                Assert.Equal(expected.Select(r => r.Distance), results.Select(r => r.Distance), new Tolerance(1e-4f));
                Assert.True(index.Remove(expected[0].Key));
                Assert.DoesNotContain(index.Search(fixture.Paths[5], k: 5), r => r.Key == expected[0].Key);
                Assert.Throws<InvalidOperationException>(() => index.Save(fixture.Scratch("never")));
                Assert.Throws<NotSupportedException>(() => index.Search(fixture.Paths[5], k: 5, exact: true));
                await store.SaveAllAsync();
            }
            using (var store = new HnswVectorStore(new HnswVectorStoreOptions { Directory = storeDirectory }))
            using (var index = await ImageSearchIndex.CreateAsync(fixture.Model, fixture.Gallery, store, "gallery-" + keyType.Name, keyType, Options))
            {
                Assert.Equal(299, index.Count);
                Assert.Equal(expected.Skip(1).Take(4).Select(r => r.Path), index.Search(fixture.Paths[5], k: 4).Select(r => r.Path));
                Assert.Equal(builtIn.Get(expected[1].Key)!.Label, index.Get(expected[1].Key)!.Label);
            }
        }
    }

    private sealed class Inline<T>(Action<T> handler) : IProgress<T>
    {
        public void Report(T value) => handler(value);
    }

    private sealed class Tolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(float obj) => 0;
    }

    /// <summary>Like Kestrel's request body: not seekable, and synchronous reads throw.</summary>
    private sealed class AsyncOnlyStream(byte[] bytes) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => throw new InvalidOperationException("Synchronous operations are disallowed.");

        public override int Read(Span<byte> buffer) => throw new InvalidOperationException("Synchronous operations are disallowed.");

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            int n = Math.Min(Math.Min(buffer.Length, 7), bytes.Length - _position); // small chunks, as a network body arrives
            bytes.AsMemory(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
