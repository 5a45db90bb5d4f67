using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace ImageRetrieval.ML.Search;

/// <summary>
/// The raw embeddings of an index, by key: the exact-search path and re-indexing with other HNSW
/// parameters use them without re-embedding any image. File format (little-endian):
/// magic <c>IREMBED\0</c>, int32 format version, int32 dimension, int64 count, then per item an int64
/// key and <c>dimension</c> float32 values. Integrity is checked by the manifest's SHA-256.
/// </summary>
internal sealed class EmbeddingStore
{
    public const string FileName = "embeddings.bin";
    private const int FormatVersion = 1;
    private static ReadOnlySpan<byte> Magic => "IREMBED\0"u8;
    private readonly Dictionary<long, float[]> _vectors = [];
    private readonly Lock _sync = new();

    public EmbeddingStore(int dimension) => Dimension = dimension;

    public int Dimension { get; }

    public int Count
    {
        get
        {
            lock (_sync)
            {
                return _vectors.Count;
            }
        }
    }

    public void Set(long key, ReadOnlySpan<float> vector)
    {
        float[] copy = vector.ToArray();
        lock (_sync)
        {
            _vectors[key] = copy;
        }
    }

    public bool Remove(long key)
    {
        lock (_sync)
        {
            return _vectors.Remove(key);
        }
    }

    public List<(long Key, float[] Vector)> Snapshot()
    {
        lock (_sync)
        {
            return _vectors.Select(p => (p.Key, p.Value)).OrderBy(p => p.Key).ToList();
        }
    }

    public void Write(string path) => Write(path, Dimension, Snapshot());

    /// <summary>Writes <paramref name="items"/> (key order is the caller's) in this file format.</summary>
    public static void Write(string path, int dimension, IReadOnlyCollection<(long Key, float[] Vector)> items)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
        Span<byte> header = stackalloc byte[24];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], FormatVersion);
        BinaryPrimitives.WriteInt32LittleEndian(header[12..], dimension);
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], items.Count);
        stream.Write(header);
        Span<byte> key = stackalloc byte[8];
        foreach (var (k, v) in items)
        {
            BinaryPrimitives.WriteInt64LittleEndian(key, k);
            stream.Write(key);
            stream.Write(MemoryMarshal.AsBytes(v.AsSpan()));
        }
        stream.Flush(flushToDisk: true);
    }

    /// <exception cref="InvalidDataException">The file's header, size or values do not fit.</exception>
    public static EmbeddingStore Read(string path, int expectedDimension, int expectedCount)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        Span<byte> header = stackalloc byte[24];
        if (stream.Length < 24)
        {
            throw new InvalidDataException($"'{path}' is truncated: {stream.Length} bytes, the header alone is 24.");
        }
        stream.ReadExactly(header);
        if (!header[..8].SequenceEqual(Magic))
        {
            throw new InvalidDataException($"'{path}' is not an embeddings file (wrong magic).");
        }
        int version = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
        int dimension = BinaryPrimitives.ReadInt32LittleEndian(header[12..]);
        long count = BinaryPrimitives.ReadInt64LittleEndian(header[16..]);
        if (version != FormatVersion)
        {
            throw new InvalidDataException($"'{path}' has embeddings format version {version}; this library reads {FormatVersion}.");
        }
        if (dimension != expectedDimension || count != expectedCount)
        {
            throw new InvalidDataException($"'{path}' holds {count} vectors of {dimension}-d; the manifest says {expectedCount} of {expectedDimension}-d.");
        }
        long expectedLength = 24 + (count * (8 + (4L * dimension)));
        if (stream.Length != expectedLength)
        {
            throw new InvalidDataException($"'{path}' has {stream.Length} bytes; {count} vectors of {dimension}-d need {expectedLength}.");
        }
        var store = new EmbeddingStore(dimension);
        Span<byte> key = stackalloc byte[8];
        for (long i = 0; i < count; i++)
        {
            stream.ReadExactly(key);
            var vector = new float[dimension];
            stream.ReadExactly(MemoryMarshal.AsBytes(vector.AsSpan()));
            foreach (float value in vector)
            {
                if (!float.IsFinite(value))
                {
                    throw new InvalidDataException($"'{path}': vector {i} holds a non-finite value.");
                }
            }
            long k = BinaryPrimitives.ReadInt64LittleEndian(key);
            if (!store._vectors.TryAdd(k, vector))
            {
                throw new InvalidDataException($"'{path}': key {k} appears twice.");
            }
        }
        return store;
    }
}
