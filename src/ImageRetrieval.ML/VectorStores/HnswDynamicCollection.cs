using Microsoft.Extensions.VectorData;

namespace ImageRetrieval.ML.VectorStores;

/// <summary>
/// An HNSW collection of dynamic records (<c>Dictionary&lt;string, object?&gt;</c>) described by a
/// <see cref="VectorStoreCollectionDefinition"/>; filters index them as <c>r =&gt; (string)r["Category"] == "shoes"</c>.
/// </summary>
#pragma warning disable CA1711 // VectorData names its collection types ...Collection.
public sealed class HnswDynamicCollection : HnswCollection<object, Dictionary<string, object?>>
#pragma warning restore CA1711
{
    internal HnswDynamicCollection(HnswVectorStore store, string name, VectorStoreCollectionDefinition definition)
        : base(store, name, new HnswModelBuilder().BuildDynamic(
            definition ?? throw new ArgumentNullException(nameof(definition)), store.Options.EmbeddingGenerator))
    {
    }
}
