using Microsoft.Extensions.VectorData;

namespace ImageRetrieval.ML.Tests.VectorStores;

/// <summary>The record the filter and CRUD tests use, in the shape of the upstream conformance suite's FilterRecord.</summary>
public sealed class FilterRecord
{
    [VectorStoreKey]
    public int Key { get; set; }

    [VectorStoreVector(3, DistanceFunction = DistanceFunction.EuclideanSquaredDistance)]
    public ReadOnlyMemory<float>? Vector { get; set; }

    [VectorStoreData(IsIndexed = true)]
    public int Int { get; set; }

    [VectorStoreData(IsIndexed = true)]
    public string? String { get; set; }

    [VectorStoreData(IsIndexed = true)]
    public bool Bool { get; set; }

    [VectorStoreData(IsIndexed = true)]
    public int Int2 { get; set; }

    [VectorStoreData(IsIndexed = true)]
    public string[] StringArray { get; set; } = [];

    [VectorStoreData(IsIndexed = true)]
    public List<string> StringList { get; set; } = [];

    [VectorStoreData]
    public string? NotIndexed { get; set; }

    public static VectorStoreCollectionDefinition Definition => new()
    {
        Properties =
        [
            new VectorStoreKeyProperty(nameof(Key), typeof(int)),
            new VectorStoreVectorProperty(nameof(Vector), typeof(ReadOnlyMemory<float>?), 3) { DistanceFunction = DistanceFunction.EuclideanSquaredDistance },
            new VectorStoreDataProperty(nameof(Int), typeof(int)) { IsIndexed = true },
            new VectorStoreDataProperty(nameof(String), typeof(string)) { IsIndexed = true },
            new VectorStoreDataProperty(nameof(Bool), typeof(bool)) { IsIndexed = true },
            new VectorStoreDataProperty(nameof(Int2), typeof(int)) { IsIndexed = true },
            new VectorStoreDataProperty(nameof(StringArray), typeof(string[])) { IsIndexed = true },
            new VectorStoreDataProperty(nameof(StringList), typeof(List<string>)) { IsIndexed = true },
            new VectorStoreDataProperty(nameof(NotIndexed), typeof(string)),
        ],
    };

    /// <summary>The upstream suite's five records (ints 8..12, strings foo/bar/baz/null/"with some special\"characters'and\\stuff").</summary>
    public static List<FilterRecord> TestData() =>
    [
        new() { Key = 1, Int = 8, String = "foo", Bool = true, Int2 = 80, StringArray = ["x", "y"], StringList = ["x", "y"], Vector = new float[] { 1, 2, 3 } },
        new() { Key = 2, Int = 9, String = "bar", Bool = false, Int2 = 90, StringArray = ["a", "b"], StringList = ["a", "b"], Vector = new float[] { 1, 2, 4 } },
        new() { Key = 3, Int = 9, String = "foo", Bool = true, Int2 = 9, StringArray = ["x"], StringList = ["x"], Vector = new float[] { 1, 2, 5 } },
        new() { Key = 4, Int = 10, String = null, Bool = false, Int2 = 100, StringArray = ["x", "y", "z"], StringList = ["x", "y", "z"], Vector = new float[] { 1, 2, 6 } },
        new() { Key = 5, Int = 11, String = "with some special\"characters'and\\stuff", Bool = true, Int2 = 101, StringArray = [], StringList = [], Vector = new float[] { 1, 2, 7 } },
    ];

    public static Dictionary<string, object?> ToDynamic(FilterRecord r) => new()
    {
        [nameof(Key)] = r.Key,
        [nameof(Vector)] = r.Vector,
        [nameof(Int)] = r.Int,
        [nameof(String)] = r.String,
        [nameof(Bool)] = r.Bool,
        [nameof(Int2)] = r.Int2,
        [nameof(StringArray)] = r.StringArray,
        [nameof(StringList)] = r.StringList,
        [nameof(NotIndexed)] = r.NotIndexed,
    };
}

/// <summary>A record with a key of type <typeparamref name="TKey"/>, for the key-type tests.</summary>
public sealed class KeyedRecord<TKey>
{
    [VectorStoreKey]
    public TKey Key { get; set; } = default!;

    [VectorStoreData]
    public string? Text { get; set; }

    [VectorStoreVector(2)]
    public ReadOnlyMemory<float> Vector { get; set; }
}
