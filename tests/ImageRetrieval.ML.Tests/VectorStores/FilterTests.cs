using System.Linq.Expressions;
using ImageRetrieval.ML.VectorStores;
using Microsoft.Extensions.VectorData;

#pragma warning disable CS8605 // Unboxing a possibly null value (dynamic filters).
#pragma warning disable CS0252 // Reference comparison with object (dynamic filters compare r["String"] == "foo", as upstream).

namespace ImageRetrieval.ML.Tests.VectorStores;

public sealed class FilterFixture : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _temp = new();

    public HnswVectorStore Store { get; private set; } = null!;

    public VectorStoreCollection<int, FilterRecord> Collection { get; private set; } = null!;

    public VectorStoreCollection<object, Dictionary<string, object?>> Dynamic { get; private set; } = null!;

    public List<FilterRecord> Data { get; } = FilterRecord.TestData();

    public async Task InitializeAsync()
    {
        Store = new HnswVectorStore(new HnswVectorStoreOptions { Directory = _temp.Path });
        Collection = Store.GetCollection<int, FilterRecord>("filter");
        await Collection.EnsureCollectionExistsAsync();
        await Collection.UpsertAsync(Data);
        Dynamic = Store.GetDynamicCollection("filter-dynamic", FilterRecord.Definition);
        await Dynamic.EnsureCollectionExistsAsync();
        await Dynamic.UpsertAsync(Data.Select(FilterRecord.ToDynamic));
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose()
    {
        Store.Dispose();
        _temp.Dispose();
    }
}

/// <summary>
/// The upstream VectorData conformance suite's filter cases (BasicFilterTests), run against the HNSW provider through
/// both SearchAsync (the filter evaluated inside the graph traversal) and GetAsync(filter), over typed and dynamic records:
/// each result set must equal LINQ-to-objects over the same data.
/// </summary>
public sealed class FilterTests(FilterFixture fixture) : IClassFixture<FilterFixture>
{
    private readonly int _memberField = 8;
    private static readonly int StaticField = 8;

    [Fact] public Task Equal_with_int() => Check(r => r.Int == 8, r => (int)r["Int"] == 8);
    [Fact] public Task Equal_with_string() => Check(r => r.String == "foo", r => r["String"] == "foo");
    [Fact] public Task Equal_reversed() => Check(r => 8 == r.Int, r => 8 == (int)r["Int"]);
    [Fact] public Task Equal_with_null_reference_type() => Check(r => r.String == null, r => r["String"] == null);
    [Fact] public Task Equal_with_special_characters() => Check(r => r.String == "with some special\"characters'and\\stuff", r => r["String"] == "with some special\"characters'and\\stuff");
    [Fact] public Task Equal_with_injection_finds_nothing() => Check(r => r.String == "foo; DROP TABLE x;", r => r["String"] == "foo; DROP TABLE x;", expectNone: true);

    [Fact]
    public Task Equal_int_with_nullable_captured()
    {
        int? i = 8;
        return Check(r => r.Int == i, r => (int)r["Int"] == i);
    }

    [Fact]
    public Task Equal_int_with_null_nullable_finds_nothing()
    {
        int? i = null;
        return Check(r => r.Int == i, r => (int)r["Int"] == i, expectNone: true);
    }

    [Fact] public Task NotEqual_with_int() => Check(r => r.Int != 8, r => (int)r["Int"] != 8);
    [Fact] public Task NotEqual_with_null() => Check(r => r.String != null, r => r["String"] != null);
    [Fact] public Task Bool() => Check(r => r.Bool, r => (bool)r["Bool"]);
    [Fact] public Task Not_bool() => Check(r => !r.Bool, r => !(bool)r["Bool"]);
    [Fact] public Task Bool_or_not_bool_is_everything() => Check(r => r.Bool || !r.Bool, r => (bool)r["Bool"] || !(bool)r["Bool"], expectAll: true);
    [Fact] public Task GreaterThan() => Check(r => r.Int > 9, r => (int)r["Int"] > 9);
    [Fact] public Task GreaterThanOrEqual() => Check(r => r.Int >= 9, r => (int)r["Int"] >= 9);
    [Fact] public Task LessThan() => Check(r => r.Int < 10, r => (int)r["Int"] < 10);
    [Fact] public Task LessThanOrEqual() => Check(r => r.Int <= 10, r => (int)r["Int"] <= 10);
    [Fact] public Task LessThan_reversed() => Check(r => 9 < r.Int, r => 9 < (int)r["Int"]);
    [Fact] public Task And() => Check(r => r.Int == 8 && r.String == "foo", r => (int)r["Int"] == 8 && r["String"] == "foo");
    [Fact] public Task Or() => Check(r => r.Int == 8 || r.String == "foo", r => (int)r["Int"] == 8 || r["String"] == "foo");
    [Fact] public Task And_within_or() => Check(r => (r.Int == 8 && r.String == "foo") || r.Int2 == 100, r => ((int)r["Int"] == 8 && r["String"] == "foo") || (int)r["Int2"] == 100);
    [Fact] public Task Or_within_and() => Check(r => (r.Int == 8 || r.Int == 9) && r.String == "foo", r => ((int)r["Int"] == 8 || (int)r["Int"] == 9) && r["String"] == "foo");
    [Fact] public Task Not_over_and() => Check(r => !(r.Int == 8 && r.String == "foo"), r => !((int)r["Int"] == 8 && r["String"] == "foo"));
    [Fact] public Task Not_over_or() => Check(r => !(r.Int == 8 || r.String == "foo"), r => !((int)r["Int"] == 8 || r["String"] == "foo"));
    [Fact] public Task Contains_over_string_array_field() => Check(r => r.StringArray.Contains("x"), r => ((string[])r["StringArray"]!).Contains("x"));
    [Fact] public Task Contains_over_string_list_field() => Check(r => r.StringList.Contains("x"), r => ((List<string>)r["StringList"]!).Contains("x"));
    [Fact] public Task Contains_with_Enumerable_Contains() => Check(r => Enumerable.Contains(r.StringArray, "x"), r => Enumerable.Contains((string[])r["StringArray"]!, "x"));
    [Fact] public Task Contains_over_inline_int_array() => Check(r => new[] { 8, 10 }.Contains(r.Int), r => new[] { 8, 10 }.Contains((int)r["Int"]));

    [Fact]
    public Task Contains_over_captured_string_array()
    {
        string[] values = ["foo", "baz", "unknown"];
        return Check(r => values.Contains(r.String), r => values.Contains(r["String"]));
    }

    [Fact]
    public Task Captured_local_variable()
    {
        int i = 8;
        return Check(r => r.Int == i, r => (int)r["Int"] == i);
    }

    [Fact] public Task Member_field() => Check(r => r.Int == _memberField, r => (int)r["Int"] == _memberField);
    [Fact] public Task Static_field() => Check(r => r.Int == StaticField, r => (int)r["Int"] == StaticField);
    [Fact] public Task Key() => Check(r => r.Key == 3, r => (int)r["Key"] == 3);
    [Fact] public Task True() => Check(r => true, r => true, expectAll: true);

    [Fact]
    public async Task A_property_that_is_not_indexed_is_refused_with_its_name()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            fixture.Collection.SearchAsync(new float[] { 1, 2, 3 }, 5, new() { Filter = r => r.NotIndexed == "x" }).ToListAsync().AsTask());
        Assert.Contains("'NotIndexed' is not indexed", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unsupported_expression_is_refused_with_the_expression()
    {
        var e = await Assert.ThrowsAsync<NotSupportedException>(() =>
            fixture.Collection.SearchAsync(new float[] { 1, 2, 3 }, 5, new() { Filter = r => r.String!.StartsWith('f') }).ToListAsync().AsTask());
        Assert.Contains("StartsWith", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_dynamic_property_is_refused()
    {
        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            fixture.Dynamic.SearchAsync(new float[] { 1, 2, 3 }, 5, new() { Filter = r => r["String = 'x'; DROP"] == "" }).ToListAsync().AsTask());
    }

    private async Task Check(Expression<Func<FilterRecord, bool>> filter, Expression<Func<Dictionary<string, object?>, bool>> dynamicFilter,
        bool expectNone = false, bool expectAll = false)
    {
        int[] expected = fixture.Data.AsQueryable().Where(filter).Select(r => r.Key).OrderBy(k => k).ToArray();
        Assert.Equal(expectNone, expected.Length == 0);
        Assert.Equal(expectAll, expected.Length == fixture.Data.Count);
        ReadOnlyMemory<float> query = new float[] { 1, 2, 3 };

        int[] searched = (await fixture.Collection.SearchAsync(query, 100, new() { Filter = filter }).ToListAsync())
            .Select(r => r.Record.Key).OrderBy(k => k).ToArray();
        int[] got = (await fixture.Collection.GetAsync(filter, 100).ToListAsync()).Select(r => r.Key).OrderBy(k => k).ToArray();
        int[] dynamicSearched = (await fixture.Dynamic.SearchAsync(query, 100, new() { Filter = dynamicFilter }).ToListAsync())
            .Select(r => (int)r.Record["Key"]!).OrderBy(k => k).ToArray();
        int[] dynamicGot = (await fixture.Dynamic.GetAsync(dynamicFilter, 100).ToListAsync()).Select(r => (int)r["Key"]!).OrderBy(k => k).ToArray();

        Assert.Equal(expected, searched);
        Assert.Equal(expected, got);
        Assert.Equal(expected, dynamicSearched);
        Assert.Equal(expected, dynamicGot);
    }
}
