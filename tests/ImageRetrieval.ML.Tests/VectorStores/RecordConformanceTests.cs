using ImageRetrieval.ML.VectorStores;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.VectorData;

namespace ImageRetrieval.ML.Tests.VectorStores;

/// <summary>
/// CRUD, batch, key types, dynamic records, paging and search semantics of the HNSW provider, in the style of the upstream
/// VectorData conformance suites (RecordConformanceTests, BatchConformanceTests, KeyTypeTests, DynamicDataModelConformanceTests,
/// VectorSearch tests): each test builds its own store in a temporary directory.
/// </summary>
public sealed class RecordConformanceTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private HnswVectorStore NewStore(bool persistent = true, int exactThreshold = HnswVectorStoreOptions.Defaults.ExactFilteredSearchThreshold) =>
        new(new HnswVectorStoreOptions { Directory = persistent ? _temp.Path : null, ExactFilteredSearchThreshold = exactThreshold });

    private async Task<VectorStoreCollection<int, FilterRecord>> Seeded(HnswVectorStore store, string name = "records")
    {
        var collection = store.GetCollection<int, FilterRecord>(name);
        await collection.EnsureCollectionExistsAsync();
        await collection.UpsertAsync(FilterRecord.TestData());
        return collection;
    }

    [Fact]
    public async Task GetAsync_returns_the_record_with_every_data_property_and_without_vectors_unless_asked()
    {
        using var store = NewStore();
        var collection = await Seeded(store);
        FilterRecord? record = await collection.GetAsync(1);
        Assert.NotNull(record);
        Assert.Equal((8, "foo", true, 80), (record.Int, record.String, record.Bool, record.Int2));
        Assert.Equal(["x", "y"], record.StringArray);
        Assert.Equal(["x", "y"], record.StringList);
        Assert.Null(record.Vector);
        FilterRecord? withVector = await collection.GetAsync(1, new RecordRetrievalOptions { IncludeVectors = true });
        Assert.Equal([1f, 2f, 3f], withVector!.Vector!.Value.ToArray());
    }

    [Fact]
    public async Task GetAsync_of_a_missing_key_returns_null_and_of_a_missing_collection_throws()
    {
        using var store = NewStore();
        var collection = await Seeded(store);
        Assert.Null(await collection.GetAsync(99));
        var missing = store.GetCollection<int, FilterRecord>("missing");
        await Assert.ThrowsAsync<VectorStoreException>(() => missing.GetAsync(1));
    }

    [Fact]
    public async Task UpsertAsync_replaces_a_record_by_key_in_data_and_in_search()
    {
        using var store = NewStore();
        var collection = await Seeded(store);
        await collection.UpsertAsync(new FilterRecord { Key = 1, Int = 42, String = "changed", Vector = new float[] { 9, 9, 9 } });
        FilterRecord? record = await collection.GetAsync(1);
        Assert.Equal((42, "changed"), (record!.Int, record.String));
        var nearest = await collection.SearchAsync(new float[] { 9, 9, 9 }, 1).SingleAsync();
        Assert.Equal(1, nearest.Record.Key);
        Assert.Equal(0, nearest.Score);
        Assert.Equal(5, await collection.GetAsync(r => true, 100).CountAsync());
    }

    [Fact]
    public async Task Records_are_copied_on_upsert_so_later_changes_to_the_object_do_not_leak_in()
    {
        using var store = NewStore(persistent: false);
        var collection = await Seeded(store);
        var record = new FilterRecord { Key = 7, StringArray = ["a"], Vector = new float[] { 0, 0, 0 } };
        await collection.UpsertAsync(record);
        record.StringArray[0] = "mutated";
        Assert.Equal(["a"], (await collection.GetAsync(7))!.StringArray);
    }

    [Fact]
    public async Task DeleteAsync_removes_a_record_from_gets_and_searches_and_ignores_missing_keys()
    {
        using var store = NewStore();
        var collection = await Seeded(store);
        await collection.DeleteAsync(1);
        await collection.DeleteAsync(99);
        Assert.Null(await collection.GetAsync(1));
        var keys = await collection.SearchAsync(new float[] { 1, 2, 3 }, 10).Select(r => r.Record.Key).ToListAsync();
        Assert.Equal([2, 3, 4, 5], keys);
    }

    [Fact]
    public async Task Batch_upsert_get_and_delete()
    {
        using var store = NewStore();
        var collection = store.GetCollection<int, FilterRecord>("batch");
        await collection.EnsureCollectionExistsAsync();
        await collection.UpsertAsync([]);
        await collection.UpsertAsync(FilterRecord.TestData());
        var got = await collection.GetAsync([1, 3, 5, 99]).Select(r => r.Key).ToListAsync();
        Assert.Equal([1, 3, 5], got.Order());
        await collection.DeleteAsync([1, 3, 99]);
        Assert.Equal([2, 4, 5], (await collection.GetAsync(r => true, 100).Select(r => r.Key).ToListAsync()).Order());
    }

    [Fact]
    public async Task GetAsync_with_a_filter_pages_and_orders()
    {
        using var store = NewStore();
        var collection = await Seeded(store);
        var options = new FilteredRecordRetrievalOptions<FilterRecord> { Skip = 1, OrderBy = o => o.Descending(r => r.Int).Ascending(r => r.Key) };
        var keys = await collection.GetAsync(r => r.Int >= 9, 2, options).Select(r => r.Key).ToListAsync();
        Assert.Equal([4, 2], keys); // Int 11 (5), 10 (4), 9 (2), 9 (3): skip one, take two.
    }

    [Fact]
    public async Task SearchAsync_orders_by_distance_and_pages_with_top_and_skip()
    {
        using var store = NewStore();
        var collection = await Seeded(store);
        var all = await collection.SearchAsync(new float[] { 1, 2, 3 }, 5).ToListAsync();
        Assert.Equal([1, 2, 3, 4, 5], all.Select(r => r.Record.Key));
        Assert.Equal([0d, 1, 4, 9, 16], all.Select(r => r.Score!.Value)); // squared Euclidean distances
        var page = await collection.SearchAsync(new float[] { 1, 2, 3 }, 2, new() { Skip = 2 }).Select(r => r.Record.Key).ToListAsync();
        Assert.Equal([3, 4], page);
        var withVectors = await collection.SearchAsync(new float[] { 1, 2, 3 }, 1, new() { IncludeVectors = true }).SingleAsync();
        Assert.Equal([1f, 2f, 3f], withVectors.Record.Vector!.Value.ToArray());
        var threshold = await collection.SearchAsync(new float[] { 1, 2, 3 }, 5, new() { ScoreThreshold = 4 }).CountAsync();
        Assert.Equal(3, threshold);
    }

    [Fact]
    public async Task SearchAsync_accepts_float_arrays_and_Embedding_and_refuses_a_wrong_dimension()
    {
        using var store = NewStore(persistent: false);
        var collection = await Seeded(store);
        Assert.Equal(1, (await collection.SearchAsync(new float[] { 1, 2, 3 }, 1).SingleAsync()).Record.Key);
        Assert.Equal(1, (await collection.SearchAsync(new Embedding<float>(new float[] { 1, 2, 3 }), 1).SingleAsync()).Record.Key);
        await Assert.ThrowsAsync<ArgumentException>(() => collection.SearchAsync(new float[] { 1, 2 }, 1).ToListAsync().AsTask());
        await Assert.ThrowsAsync<NotSupportedException>(() => collection.SearchAsync("text", 1).ToListAsync().AsTask());
    }

    [Theory]
    [InlineData(DistanceFunction.CosineSimilarity)]
    [InlineData(DistanceFunction.CosineDistance)]
    [InlineData(DistanceFunction.DotProductSimilarity)]
    [InlineData(DistanceFunction.NegativeDotProductSimilarity)]
    [InlineData(DistanceFunction.EuclideanDistance)]
    [InlineData(DistanceFunction.EuclideanSquaredDistance)]
    public async Task Every_supported_distance_function_scores_as_its_definition_says(string function)
    {
        using var store = NewStore(persistent: false);
        var collection = store.GetDynamicCollection("distance", Definition(function));
        await collection.EnsureCollectionExistsAsync();
        float[] a = [1, 0], b = [0.6f, 0.8f], c = [-1, 0];
        await collection.UpsertAsync([Row(1, a), Row(2, b), Row(3, c)]);
        float[] query = [1, 0];
        var results = await collection.SearchAsync(query, 3).ToListAsync();
        double Expected(float[] v) => function switch
        {
            DistanceFunction.CosineSimilarity or DistanceFunction.DotProductSimilarity => v[0],
            DistanceFunction.CosineDistance => 1 - v[0],
            DistanceFunction.NegativeDotProductSimilarity => -v[0],
            DistanceFunction.EuclideanDistance => Math.Sqrt(Math.Pow(v[0] - 1, 2) + Math.Pow(v[1], 2)),
            _ => Math.Pow(v[0] - 1, 2) + Math.Pow(v[1], 2),
        };
        Assert.Equal([1, 2, 3], results.Select(r => (int)r.Record["Key"]!));
        Assert.Equal(new[] { Expected(a), Expected(b), Expected(c) }, results.Select(r => r.Score!.Value), new ToleranceComparer(1e-5));
    }

    [Theory]
    [InlineData(DistanceFunction.HammingDistance)]
    [InlineData(DistanceFunction.ManhattanDistance)]
    public void Unsupported_distance_functions_are_refused_naming_the_property(string function)
    {
        using var store = NewStore(persistent: false);
        var e = Assert.Throws<NotSupportedException>(() => store.GetDynamicCollection("distance", Definition(function)));
        Assert.Contains("'Vector'", e.Message, StringComparison.Ordinal);
        Assert.Contains(function, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unsupported_index_kinds_are_refused_and_Flat_is_exact()
    {
        using var store = NewStore(persistent: false);
        var definition = Definition(DistanceFunction.CosineSimilarity);
        ((VectorStoreVectorProperty)definition.Properties[1]).IndexKind = IndexKind.IvfFlat;
        Assert.Throws<NotSupportedException>(() => store.GetDynamicCollection("ivf", definition));
        ((VectorStoreVectorProperty)definition.Properties[1]).IndexKind = IndexKind.Flat;
        Assert.NotNull(store.GetDynamicCollection("flat", definition));
    }

    [Fact]
    public async Task Keys_of_type_Guid_string_int_and_long_round_trip_and_Guid_keys_can_be_generated()
    {
        using var store = NewStore();
        await RoundTrip(store, "guid", Guid.NewGuid());
        await RoundTrip(store, "string", "key-1");
        await RoundTrip(store, "int", 42);
        await RoundTrip(store, "long", long.MaxValue);
        Assert.Throws<NotSupportedException>(() => store.GetCollection<DateTime, KeyedRecord<DateTime>>("date"));

        var definition = new VectorStoreCollectionDefinition
        {
            Properties = [new VectorStoreKeyProperty("Key", typeof(Guid)) { IsAutoGenerated = true }, new VectorStoreVectorProperty("Vector", typeof(ReadOnlyMemory<float>), 2)],
        };
        var generated = store.GetCollection<Guid, KeyedRecord<Guid>>("generated", definition);
        await generated.EnsureCollectionExistsAsync();
        var record = new KeyedRecord<Guid> { Vector = new float[] { 1, 1 } };
        await generated.UpsertAsync(record);
        Assert.NotEqual(Guid.Empty, record.Key);
        Assert.NotNull(await generated.GetAsync(record.Key));
    }

    private static async Task RoundTrip<TKey>(HnswVectorStore store, string name, TKey key)
        where TKey : notnull
    {
        var collection = store.GetCollection<TKey, KeyedRecord<TKey>>(name);
        await collection.EnsureCollectionExistsAsync();
        await collection.UpsertAsync(new KeyedRecord<TKey> { Key = key, Text = name, Vector = new float[] { 1, 0 } });
        Assert.Equal(name, (await collection.GetAsync(key))!.Text);
        Assert.Equal(key, (await collection.SearchAsync(new float[] { 1, 0 }, 1).SingleAsync()).Record.Key);
        await collection.DeleteAsync(key);
        Assert.Null(await collection.GetAsync(key));
    }

    [Fact]
    public async Task Dynamic_records_round_trip_every_property_and_search()
    {
        using var store = NewStore();
        var collection = store.GetDynamicCollection("dynamic", FilterRecord.Definition);
        await collection.EnsureCollectionExistsAsync();
        await collection.UpsertAsync(FilterRecord.TestData().Select(FilterRecord.ToDynamic));
        Dictionary<string, object?>? record = await collection.GetAsync(2, new RecordRetrievalOptions { IncludeVectors = true });
        Assert.NotNull(record);
        Assert.Equal(9, record["Int"]);
        Assert.Equal("bar", record["String"]);
        Assert.Equal(new[] { "a", "b" }, (string[])record["StringArray"]!);
        Assert.Equal([1f, 2f, 4f], ((ReadOnlyMemory<float>)record["Vector"]!).ToArray());
        var nearest = await collection.SearchAsync(new float[] { 1, 2, 4 }, 1).SingleAsync();
        Assert.Equal(2, nearest.Record["Key"]);
    }

    [Fact]
    public async Task Filtered_search_returns_top_results_when_the_filter_is_selective_on_the_graph_path_and_the_exact_path()
    {
        // 2,000 random 8-d vectors; 1 % (every hundredth) carry the tag. top = 10 must give 10, nearest first, equal to exact.
        var random = new Random(7);
        var records = Enumerable.Range(0, 2000).Select(i => new Dictionary<string, object?>
        {
            ["Key"] = i,
            ["Tag"] = i % 100 == 0 ? "rare" : "common",
            ["Vector"] = new ReadOnlyMemory<float>(Enumerable.Range(0, 8).Select(_ => (float)random.NextDouble()).ToArray()),
        }).ToList();
        var definition = new VectorStoreCollectionDefinition
        {
            Properties =
            [
                new VectorStoreKeyProperty("Key", typeof(int)),
                new VectorStoreDataProperty("Tag", typeof(string)) { IsIndexed = true },
                new VectorStoreVectorProperty("Vector", typeof(ReadOnlyMemory<float>), 8) { DistanceFunction = DistanceFunction.EuclideanSquaredDistance },
            ],
        };
        float[] query = Enumerable.Range(0, 8).Select(_ => (float)random.NextDouble()).ToArray();
        var exactOrder = records.Where(r => (string)r["Tag"]! == "rare")
            .OrderBy(r => ((ReadOnlyMemory<float>)r["Vector"]!).ToArray().Zip(query, (a, b) => (a - b) * (a - b)).Sum())
            .Take(10).Select(r => (int)r["Key"]!).ToList();

        foreach (int threshold in new[] { 0, int.MaxValue })
        {
            using var store = new HnswVectorStore(new HnswVectorStoreOptions { ExactFilteredSearchThreshold = threshold });
            var collection = store.GetDynamicCollection("selective", definition);
            await collection.EnsureCollectionExistsAsync();
            await collection.UpsertAsync(records);
            var keys = await collection.SearchAsync(query, 10, new() { Filter = r => (string)r["Tag"]! == "rare" }).Select(r => (int)r.Record["Key"]!).ToListAsync();
            Assert.Equal(10, keys.Count);
            Assert.All(keys, k => Assert.Equal(0, k % 100));
            Assert.Equal(exactOrder, keys);
        }
    }

    private static VectorStoreCollectionDefinition Definition(string function) => new()
    {
        Properties =
        [
            new VectorStoreKeyProperty("Key", typeof(int)),
            new VectorStoreVectorProperty("Vector", typeof(ReadOnlyMemory<float>), 2) { DistanceFunction = function },
        ],
    };

    private static Dictionary<string, object?> Row(int key, float[] vector) => new() { ["Key"] = key, ["Vector"] = new ReadOnlyMemory<float>(vector) };

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(double obj) => 0;
    }
}
