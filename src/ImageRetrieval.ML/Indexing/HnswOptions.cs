namespace ImageRetrieval.ML.Indexing;

/// <summary>Construction parameters of an <see cref="HnswIndex"/>.</summary>
public sealed record HnswOptions
{
    /// <summary>The defaults, defined once: M, efConstruction and the default efSearch.</summary>
    public static class Defaults
    {
        /// <summary>Links per node on the upper layers (layer 0 keeps twice as many).</summary>
        public const int M = 16;

        /// <summary>Beam width while inserting.</summary>
        public const int EfConstruction = 200;

        /// <summary>Beam width of a search that does not name one.</summary>
        public const int EfSearch = 64;

        /// <summary>Share of removed nodes in the graph above which the index compacts itself.</summary>
        public const double CompactionThreshold = 0.2;
    }

    /// <summary>Links per node on the upper layers (layer 0 keeps 2·M). 16 is a good default; 2..256.</summary>
    public int M { get; init; } = Defaults.M;

    /// <summary>Beam width while inserting: higher builds slower and searches better. At least M.</summary>
    public int EfConstruction { get; init; } = Defaults.EfConstruction;

    /// <summary>Beam width of a search whose <c>efSearch</c> argument is null.</summary>
    public int DefaultEfSearch { get; init; } = Defaults.EfSearch;

    /// <summary>Seed of the level generator: single-threaded builds with the same seed and input are identical.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>
    /// How vectors are stored: <see cref="Indexing.VectorType.Float32"/> (default), <see cref="Indexing.VectorType.Float16"/>
    /// (half the memory) or <see cref="Indexing.VectorType.Int8"/> (a quarter, plus 4 bytes per vector). Recorded in saved files.
    /// </summary>
    public VectorType VectorType { get; init; } = VectorType.Float32;

    /// <summary>Nodes to reserve up front (capacity grows in fixed-size chunks without moving data).</summary>
    public int InitialCapacity { get; init; }

    /// <summary>
    /// When removed nodes (tombstones) exceed this share of the graph, the <c>Remove</c> or replacing <c>Add</c> that
    /// crosses it runs <see cref="HnswIndex.Compact"/> before returning, so an index that is kept up to date stays as
    /// navigable and as small as a fresh one. 0 turns automatic compaction off (call <c>Compact</c> yourself);
    /// otherwise 0 &lt; value &lt; 1. Default 0.2.
    /// </summary>
    public double CompactionThreshold { get; init; } = Defaults.CompactionThreshold;
}
