using System.Buffers.Binary;
using ImageRetrieval.ML.Indexing;
using static ImageRetrieval.ML.Tests.Indexing.VectorData;

namespace ImageRetrieval.ML.Tests.Indexing;

public class HnswPersistenceTests
{
    private const int Dim = 12;

    private static HnswIndex BuildWithTombstones()
    {
        float[] data = Gaussian(800, Dim, seed: 21);
        HnswIndex index = Build(data, Dim, m: 8, efConstruction: 60);
        for (long key = 0; key < 800; key += 7)
        {
            index.Remove(key);
        }
        return index;
    }

    private static void AssertSameResults(HnswIndex expected, HnswIndex actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        Assert.Equal(expected.Dimension, actual.Dimension);
        Assert.Equal(expected.Metric, actual.Metric);
        Assert.Equal(expected.M, actual.M);
        float[] q = Gaussian(50, Dim, seed: 22);
        for (int i = 0; i < 50; i++)
        {
            Assert.Equal(expected.Search(Row(q, Dim, i), 10, 30), actual.Search(Row(q, Dim, i), 10, 30));
            Assert.Equal(expected.Search(Row(q, Dim, i), 5, 30, k => k % 3 == 0), actual.Search(Row(q, Dim, i), 5, 30, k => k % 3 == 0));
        }
    }

    [Fact]
    public void Save_load_round_trip_by_path_stream_and_memory_map_gives_identical_results()
    {
        using var dir = new TempDirectory();
        using HnswIndex index = BuildWithTombstones();
        string path = dir.File("a.hnsw");
        index.Save(path);
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp-*"));
        using (HnswIndex loaded = HnswIndex.Load(path))
        {
            AssertSameResults(index, loaded);
            Assert.Equal(index.DeletedCount, loaded.DeletedCount);
            // A loaded index stays writable.
            loaded.Add(5000, new float[Dim]);
            Assert.Equal(5000, loaded.Search(new float[Dim], 1)[0].Key);
        }
        var stream = new MemoryStream();
        index.Save(stream);
        stream.Position = 0;
        using (HnswIndex fromStream = HnswIndex.Load(stream))
        {
            AssertSameResults(index, fromStream);
        }
        using (HnswIndex mapped = HnswIndex.OpenMapped(path))
        {
            Assert.True(mapped.IsReadOnly);
            AssertSameResults(index, mapped);
            Assert.Throws<NotSupportedException>(() => mapped.Add(1, new float[Dim]));
        }
        // Empty index and cosine index round trip as well.
        using var empty = new HnswIndex(3, DistanceMetric.Cosine);
        empty.Save(dir.File("empty.hnsw"));
        using HnswIndex emptyLoaded = HnswIndex.Load(dir.File("empty.hnsw"));
        Assert.Equal(0, emptyLoaded.Count);
        Assert.Equal(DistanceMetric.Cosine, emptyLoaded.Metric);
    }

    [Fact]
    public void Round_trip_after_compaction_keeps_free_slots()
    {
        using HnswIndex index = BuildWithTombstones();
        index.Compact();
        var stream = new MemoryStream();
        index.Save(stream);
        stream.Position = 0;
        using HnswIndex loaded = HnswIndex.Load(stream);
        AssertSameResults(index, loaded);
        int slots = loaded.SlotCount;
        loaded.Add(9999, new float[Dim]);
        Assert.Equal(slots, loaded.SlotCount);
    }

    private static byte[] SavedBytes()
    {
        using HnswIndex index = BuildWithTombstones();
        var stream = new MemoryStream();
        index.Save(stream);
        return stream.ToArray();
    }

    private static void AssertRejected(byte[] bytes, string? reason = null)
    {
        var e = Assert.Throws<InvalidDataException>(() => HnswIndex.Load(new MemoryStream(bytes)));
        if (reason is not null)
        {
            Assert.Contains(reason, e.Message, StringComparison.OrdinalIgnoreCase);
        }
    }

    /// <summary>The file's layer-0 lists (count, then ids), read from its documented layout.</summary>
    private static int[][] Layer0Lists(byte[] file, int dim, int m)
    {
        int slots = BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(36));
        int stride0 = 1 + (2 * m);
        long at = HnswIndex.HeaderSize + ((long)slots * dim * sizeof(float));
        var lists = new int[slots][];
        for (int id = 0; id < slots; id++)
        {
            ReadOnlySpan<byte> record = file.AsSpan((int)(at + ((long)id * stride0 * sizeof(int))), stride0 * sizeof(int));
            int count = BinaryPrimitives.ReadInt32LittleEndian(record);
            lists[id] = new int[count];
            for (int j = 0; j < count; j++)
            {
                lists[id][j] = BinaryPrimitives.ReadInt32LittleEndian(record[((1 + j) * sizeof(int))..]);
            }
        }
        return lists;
    }

    [Fact]
    public void Save_numbers_nodes_breadth_first_from_the_entry_point_so_neighbours_are_stored_near_each_other()
    {
        // Clustered vectors inserted in a shuffled order: in insertion order a node's neighbours are spread over the
        // whole id range; in the saved order they are found one breadth-first level after another.
        const int n = 3000, dim = 16, m = 8;
        float[] data = Clustered(n, dim, clusters: 30, seed: 41);
        int[] shuffled = Enumerable.Range(0, n).ToArray();
        new Random(42).Shuffle(shuffled);
        using var index = new HnswIndex(dim, DistanceMetric.SquaredL2, new HnswOptions { M = m, EfConstruction = 80, Seed = 3 });
        foreach (int i in shuffled)
        {
            index.Add(i, Row(data, dim, i));
        }
        var stream = new MemoryStream();
        index.Save(stream);
        byte[] file = stream.ToArray();
        Assert.Equal(0, BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(44))); // the entry point is node 0
        int[][] lists = Layer0Lists(file, dim, m);

        // A breadth-first walk over the saved lists from node 0 discovers the nodes exactly in the order 0, 1, 2, ...
        int next = 1;
        var seen = new bool[n];
        seen[0] = true;
        for (int head = 0; head < next; head++)
        {
            foreach (int neighbour in lists[head])
            {
                if (!seen[neighbour])
                {
                    Assert.Equal(next, neighbour);
                    seen[neighbour] = true;
                    next++;
                }
            }
        }
        Assert.Equal(n, next);

        // Locality: the mean id distance along a link is a small fraction of a random numbering's (n / 3).
        double gap = lists.SelectMany((list, id) => list.Select(j => (double)Math.Abs(j - id))).Average();
        Assert.True(gap < n / 3.0 / 2, $"mean id gap along layer-0 links {gap:F0}, a random numbering gives ~{n / 3}");

        // Same keys, vectors and answers; saving the loaded index again writes the same bytes (the order is a fixed point).
        stream.Position = 0;
        using HnswIndex loaded = HnswIndex.Load(stream);
        float[] queries = Clustered(40, dim, clusters: 30, seed: 43);
        for (int q = 0; q < 40; q++)
        {
            Assert.Equal(index.Search(Row(queries, dim, q), 10, 40), loaded.Search(Row(queries, dim, q), 10, 40));
        }
        var again = new MemoryStream();
        loaded.Save(again);
        Assert.Equal(file, again.ToArray());
    }

    [Fact]
    public void Truncation_at_every_sixteenth_is_rejected()
    {
        byte[] bytes = SavedBytes();
        for (int i = 0; i < 16; i++)
        {
            AssertRejected(bytes[..(int)((long)bytes.Length * i / 16)]);
        }
        AssertRejected(bytes[..^1]);
        AssertRejected([.. bytes, 0]);
    }

    [Fact]
    public void Single_bit_flips_are_rejected()
    {
        byte[] bytes = SavedBytes();
        var random = new Random(23);
        for (int trial = 0; trial < 200; trial++)
        {
            byte[] copy = (byte[])bytes.Clone();
            int offset = trial < 64 ? trial : random.Next(copy.Length);
            copy[offset] ^= (byte)(1 << random.Next(8));
            AssertRejected(copy);
        }
    }

    [Fact]
    public void Wrong_magic_future_version_and_impossible_counts_are_rejected_with_a_reason()
    {
        byte[] bytes = SavedBytes();
        byte[] magic = (byte[])bytes.Clone();
        magic[0] = (byte)'X';
        AssertRejected(magic, "magic");

        byte[] version = (byte[])bytes.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(version.AsSpan(8), HnswIndex.FormatVersion + 1);
        AssertRejected(version, "version");

        foreach (int slots in new[] { int.MaxValue, 801, -1, 0 })
        {
            byte[] counts = (byte[])bytes.Clone();
            BinaryPrimitives.WriteInt32LittleEndian(counts.AsSpan(36), slots);
            AssertRejected(counts);
        }
        byte[] dim = (byte[])bytes.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(dim.AsSpan(16), 1 << 16);
        AssertRejected(dim, "bytes");
        byte[] upper = (byte[])bytes.Clone();
        BinaryPrimitives.WriteInt64LittleEndian(upper.AsSpan(56), long.MaxValue / 2);
        AssertRejected(upper, "overflow");
        AssertRejected([], "shorter");
    }

    [Fact]
    public void A_consistent_checksum_does_not_make_a_broken_graph_acceptable()
    {
        // Corrupt a link target, then recompute the checksum: structural validation must still refuse it.
        byte[] bytes = SavedBytes();
        long linksAt = HnswIndex.HeaderSize + (800L * Dim * 4);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan((int)linksAt + 4), 123456);
        ulong hash = System.IO.Hashing.XxHash64.HashToUInt64(bytes.AsSpan(0, bytes.Length - 8));
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(bytes.Length - 8), hash);
        AssertRejected(bytes, "links to");
    }

    [Fact]
    public void Memory_mapped_open_rejects_corrupt_files()
    {
        using var dir = new TempDirectory();
        byte[] bytes = SavedBytes();
        string path = dir.File("bad.hnsw");
        byte[] flipped = (byte[])bytes.Clone();
        flipped[bytes.Length / 2] ^= 0x10;
        File.WriteAllBytes(path, flipped);
        Assert.Throws<InvalidDataException>(() => HnswIndex.OpenMapped(path));
        File.WriteAllBytes(path, bytes[..(bytes.Length / 3)]);
        Assert.Throws<InvalidDataException>(() => HnswIndex.OpenMapped(path));
        File.WriteAllBytes(path, bytes);
        using HnswIndex ok = HnswIndex.OpenMapped(path);
        Assert.Equal(800 - 115, ok.Count);
    }
}
