using ImageRetrieval.ML.Indexing;
using Microsoft.Extensions.VectorData;
using Microsoft.Extensions.VectorData.ProviderServices;

namespace ImageRetrieval.ML.VectorStores;

/// <summary>A record as the provider stores it: an internal id (the HNSW key), the user's key, data values by data-property position, vectors by vector-property position.</summary>
internal sealed record StoredRecord(long Id, object Key, object?[] Data, float[]?[] Vectors);

/// <summary>One data property as stored: its storage name and CLR type.</summary>
internal sealed record DataField(string StorageName, Type Type, bool IsIndexed);

/// <summary>One vector property as stored: storage name, dimensions, distance function, the index metric, and whether it is searched exactly (IndexKind.Flat).</summary>
internal sealed record VectorField(string StorageName, int Dimensions, string DistanceFunction, DistanceMetric Metric, bool Flat);

/// <summary>What a collection stores, derived from the VectorData model (attributes or a definition); checked against what a reopened collection holds.</summary>
internal sealed record CollectionSchema(Type KeyType, IReadOnlyList<DataField> Data, IReadOnlyList<VectorField> Vectors)
{
    public const string SupportedKeyTypes = "Guid, string, int, long";

    public static CollectionSchema From(CollectionModel model)
    {
        var data = model.DataProperties.Select(p => new DataField(p.StorageName, p.Type, p.IsIndexed)).ToList();
        var vectors = model.VectorProperties.Select(p =>
        {
            bool flat = p.IndexKind switch
            {
                null or IndexKind.Hnsw => false,
                IndexKind.Flat => true,
                var other => throw new NotSupportedException(
                    $"Index kind '{other}' on vector property '{p.ModelName}' is not supported by the HNSW provider; use {IndexKind.Hnsw} (the default) or {IndexKind.Flat} (exact search)."),
            };
            string function = p.DistanceFunction ?? DistanceFunctions.Default;
            return new VectorField(p.StorageName, p.Dimensions, function, DistanceFunctions.MetricOf(function, p.ModelName), flat);
        }).ToList();
        return new CollectionSchema(model.KeyProperty.Type, data, vectors);
    }

    public static string KeyTypeName(Type keyType) =>
        keyType == typeof(Guid) ? "guid" : keyType == typeof(string) ? "string" : keyType == typeof(int) ? "int32" : keyType == typeof(long) ? "int64"
        : throw new NotSupportedException($"Key type {keyType.Name} is not supported by the HNSW provider; supported: {SupportedKeyTypes}.");

    /// <summary>Throws unless a stored collection's manifest describes this schema (same key type, data and vector properties).</summary>
    /// <exception cref="InvalidOperationException">The record type does not match what the collection holds.</exception>
    public void CheckMatches(CollectionManifest manifest, string collection)
    {
        var problems = new List<string>();
        if (manifest.KeyType != KeyTypeName(KeyType))
        {
            problems.Add($"key type {KeyTypeName(KeyType)} (stored: {manifest.KeyType})");
        }
        string Describe(IEnumerable<string> items) => string.Join(", ", items);
        string want = Describe(Data.Select(d => d.StorageName + ":" + DataValues.NameOf(d.Type)));
        string have = Describe(manifest.Data.Select(d => d.Name + ":" + d.Type));
        if (want != have)
        {
            problems.Add($"data properties [{want}] (stored: [{have}])");
        }
        want = Describe(Vectors.Select(v => $"{v.StorageName}:{v.Dimensions}:{v.DistanceFunction}"));
        have = Describe(manifest.Vectors.Select(v => $"{v.Name}:{v.Dimensions}:{v.DistanceFunction}"));
        if (want != have)
        {
            problems.Add($"vector properties [{want}] (stored: [{have}])");
        }
        if (problems.Count > 0)
        {
            throw new InvalidOperationException(
                $"Collection '{collection}' was stored with another record shape; this record type has {string.Join("; ", problems)}. " +
                "Open it with the record type (or definition) it was created with, or delete the collection.");
        }
    }
}
