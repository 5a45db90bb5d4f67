using ImageRetrieval.ML.VectorStores;
using Microsoft.Extensions.VectorData;

namespace ImageRetrieval.ML.Tests.VectorStores;

/// <summary>Collection management (upstream CollectionManagementTests) and persistence: reopening gives the same records and results.</summary>
public sealed class CollectionLifecycleTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Collections_are_created_listed_and_deleted()
    {
        using var store = new HnswVectorStore(new HnswVectorStoreOptions { Directory = _temp.Path });
        var collection = store.GetCollection<int, FilterRecord>("alpha");
        Assert.False(await collection.CollectionExistsAsync());
        await collection.EnsureCollectionExistsAsync();
        await collection.EnsureCollectionExistsAsync();
        Assert.True(await collection.CollectionExistsAsync());
        Assert.True(await store.CollectionExistsAsync("alpha"));
        await store.GetCollection<int, FilterRecord>("beta").EnsureCollectionExistsAsync();
        Assert.Equal(["alpha", "beta"], await store.ListCollectionNamesAsync().ToListAsync());
        await collection.EnsureCollectionDeletedAsync();
        Assert.False(await collection.CollectionExistsAsync());
        Assert.False(Directory.Exists(Path.Combine(_temp.Path, "alpha")));
        await store.EnsureCollectionDeletedAsync("alpha"); // deleting a missing collection is fine
        Assert.Equal(["beta"], await store.ListCollectionNamesAsync().ToListAsync());
    }

    [Theory]
    [InlineData("")]
    [InlineData("..")]
    [InlineData("a/b")]
    [InlineData("a\\b")]
    [InlineData(".hidden")]
    public void Names_that_are_not_plain_folder_names_are_refused(string name)
    {
        using var store = new HnswVectorStore(new HnswVectorStoreOptions { Directory = _temp.Path });
        Assert.ThrowsAny<ArgumentException>(() => store.GetCollection<int, FilterRecord>(name));
    }

    [Fact]
    public async Task A_reopened_store_gives_the_same_records_and_search_results()
    {
        var random = new Random(3);
        var records = Enumerable.Range(0, 300).Select(i => new FilterRecord
        {
            Key = i,
            Int = i % 7,
            String = "s" + (i % 5),
            StringArray = [(i % 3).ToString(System.Globalization.CultureInfo.InvariantCulture)],
            Vector = new float[] { (float)random.NextDouble(), (float)random.NextDouble(), (float)random.NextDouble() },
        }).ToList();
        float[] query = [0.5f, 0.5f, 0.5f];
        List<(int, double?)> before;
        using (var store = new HnswVectorStore(new HnswVectorStoreOptions { Directory = _temp.Path }))
        {
            var collection = store.GetCollection<int, FilterRecord>("persisted");
            await collection.EnsureCollectionExistsAsync();
            await collection.UpsertAsync(records);
            await collection.DeleteAsync([0, 1, 2]);
            before = await collection.SearchAsync(query, 20, new() { Filter = r => r.Int > 2 }).Select(r => (r.Record.Key, r.Score)).ToListAsync();
        }
        using (var store = new HnswVectorStore(new HnswVectorStoreOptions { Directory = _temp.Path }))
        {
            var collection = store.GetCollection<int, FilterRecord>("persisted");
            Assert.True(await collection.CollectionExistsAsync());
            var after = await collection.SearchAsync(query, 20, new() { Filter = r => r.Int > 2 }).Select(r => (r.Record.Key, r.Score)).ToListAsync();
            Assert.Equal(before, after);
            Assert.Equal(297, await collection.GetAsync(r => true, 1000).CountAsync());
            FilterRecord? record = await collection.GetAsync(10, new RecordRetrievalOptions { IncludeVectors = true });
            Assert.Equal(records[10].Vector!.Value.ToArray(), record!.Vector!.Value.ToArray());
            Assert.Equal(records[10].StringArray, record.StringArray);
        }
    }

    [Fact]
    public async Task With_saving_on_every_write_off_nothing_reaches_disk_until_SaveAllAsync()
    {
        using (var store = new HnswVectorStore(new HnswVectorStoreOptions { Directory = _temp.Path, SaveOnEveryWrite = false }))
        {
            var collection = store.GetCollection<int, FilterRecord>("bulk");
            await collection.EnsureCollectionExistsAsync();
            await collection.UpsertAsync(FilterRecord.TestData());
            using (var other = new HnswVectorStore(new HnswVectorStoreOptions { Directory = _temp.Path }))
            {
                Assert.Empty(await other.GetCollection<int, FilterRecord>("bulk").GetAsync(r => true, 10).ToListAsync());
            }
            await store.SaveAllAsync();
        }
        using var reopened = new HnswVectorStore(new HnswVectorStoreOptions { Directory = _temp.Path });
        Assert.Equal(5, await reopened.GetCollection<int, FilterRecord>("bulk").GetAsync(r => true, 10).CountAsync());
    }

    [Fact]
    public async Task Every_data_type_as_value_nullable_array_and_list_survives_a_reopen_in_a_dynamic_collection()
    {
        // Arrays and lists are rebuilt by per-type factories (no Activator, no Array.CreateInstance: trim- and AOT-safe).
        var values = new Dictionary<Type, object>
        {
            [typeof(string)] = "é\"x", [typeof(bool)] = true, [typeof(int)] = -7, [typeof(long)] = long.MaxValue, [typeof(short)] = (short)-3,
            [typeof(float)] = 0.1f, [typeof(double)] = Math.PI, [typeof(decimal)] = 1.25m,
            [typeof(DateTime)] = new DateTime(2026, 12, 2, 6, 0, 0, DateTimeKind.Utc),
            [typeof(DateTimeOffset)] = new DateTimeOffset(2026, 12, 2, 6, 0, 0, TimeSpan.FromHours(2)), [typeof(Guid)] = new Guid(1, 2, 3, [4, 5, 6, 7, 8, 9, 10, 11]),
        };
        var properties = new List<VectorStoreProperty> { new VectorStoreKeyProperty("Key", typeof(long)) };
        var record = new Dictionary<string, object?> { ["Key"] = 1L, ["Vector"] = new ReadOnlyMemory<float>([1, 0]) };
        foreach (var (type, value) in values)
        {
            Type nullable = type.IsValueType ? typeof(Nullable<>).MakeGenericType(type) : type;
            Array array = Array.CreateInstance(nullable, 2);
            array.SetValue(value, 0);
            var list = (System.Collections.IList)Activator.CreateInstance(typeof(List<>).MakeGenericType(nullable))!;
            list.Add(value);
            list.Add(null);
            foreach (var (suffix, propertyType, propertyValue) in new (string, Type, object?)[]
            {
                ("", type, value), ("Null", nullable, null), ("Array", nullable.MakeArrayType(), array), ("List", list.GetType(), list),
            })
            {
                properties.Add(new VectorStoreDataProperty(type.Name + suffix, propertyType));
                record[type.Name + suffix] = propertyValue;
            }
        }
        properties.Add(new VectorStoreVectorProperty("Vector", typeof(ReadOnlyMemory<float>), 2));
        var definition = new VectorStoreCollectionDefinition { Properties = properties };
        using (var store = new HnswVectorStore(new HnswVectorStoreOptions { Directory = _temp.Path }))
        {
            var collection = store.GetDynamicCollection("types", definition);
            await collection.EnsureCollectionExistsAsync();
            await collection.UpsertAsync(record);
        }
        using var reopened = new HnswVectorStore(new HnswVectorStoreOptions { Directory = _temp.Path });
        Dictionary<string, object?> read = (await reopened.GetDynamicCollection("types", definition).GetAsync(1L))!;
        foreach (var (name, expected) in record.Where(p => p.Key != "Vector"))
        {
            object? actual = read[name];
            if (expected is System.Collections.IEnumerable items and not string)
            {
                Assert.IsType(expected.GetType(), actual);
                Assert.Equal(items.Cast<object?>(), ((System.Collections.IEnumerable)actual!).Cast<object?>());
            }
            else
            {
                Assert.Equal(expected, actual);
            }
        }
    }

    [Fact]
    public async Task Reopening_with_another_record_shape_is_refused_clearly()
    {
        using (var store = new HnswVectorStore(new HnswVectorStoreOptions { Directory = _temp.Path }))
        {
            await store.GetCollection<int, FilterRecord>("shape").EnsureCollectionExistsAsync();
        }
        using var again = new HnswVectorStore(new HnswVectorStoreOptions { Directory = _temp.Path });
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => again.GetCollection<string, KeyedRecord<string>>("shape").GetAsync("x"));
        Assert.Contains("another record shape", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_corrupted_collection_file_is_reported_as_a_VectorStoreException_naming_the_file()
    {
        using (var store = new HnswVectorStore(new HnswVectorStoreOptions { Directory = _temp.Path }))
        {
            var collection = store.GetCollection<int, FilterRecord>("corrupt");
            await collection.EnsureCollectionExistsAsync();
            await collection.UpsertAsync(FilterRecord.TestData());
        }
        string version = Directory.GetDirectories(Path.Combine(_temp.Path, "corrupt")).Single();
        string records = Path.Combine(version, "records.json");
        byte[] bytes = File.ReadAllBytes(records);
        bytes[bytes.Length / 2] ^= 0x20;
        File.WriteAllBytes(records, bytes);
        using var reopened = new HnswVectorStore(new HnswVectorStoreOptions { Directory = _temp.Path });
        var e = await Assert.ThrowsAsync<VectorStoreException>(() => reopened.GetCollection<int, FilterRecord>("corrupt").GetAsync(1));
        Assert.Contains("records.json", e.Message, StringComparison.Ordinal);
        Assert.Equal(HnswVectorStore.SystemName, e.VectorStoreSystemName);
    }
}
