using System.Buffers.Binary;
using CsCheck;
using ImageRetrieval.ML.Indexing;
using static ImageRetrieval.ML.Tests.Indexing.VectorData;

namespace ImageRetrieval.ML.Tests.Indexing;

/// <summary>
/// Float16 and int8 storage: every SIMD width of every kernel against a double-precision reference on the decoded
/// values, the encoders' error bounds, recall with and without exact re-ranking, persistence (path, stream, memory map,
/// version-1 files) and the validation of untrusted files in the new format.
/// </summary>
public class HnswQuantizedTests
{
    /// <summary>Every SIMD width this machine runs (scalar, Vector128 = SSE/NEON, AVX2, AVX-512), as bits.</summary>
    public static TheoryData<int> Widths()
    {
        var data = new TheoryData<int>();
        foreach (SimdWidth w in new[] { SimdWidth.Scalar, SimdWidth.V128, SimdWidth.V256, SimdWidth.V512 })
        {
            if (QuantizedDistance.IsSupported(w))
            {
                data.Add((int)w);
            }
        }
        return data;
    }

    private static double ReferenceL2(float[] a, float[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = (double)a[i] - b[i];
            s += d * d;
        }
        return s;
    }

    private static double ReferenceDot(float[] a, float[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++)
        {
            s += (double)a[i] * b[i];
        }
        return s;
    }

    private static unsafe float Run(VectorType type, DistanceMetric metric, bool query, SimdWidth width, byte[] a, byte[] b, int n)
    {
        delegate*<byte*, byte*, int, float> kernel = QuantizedDistance.Kernel(type, metric, query, width);
        fixed (byte* pa = a, pb = b)
        {
            return kernel(pa, pb, n);
        }
    }

    private static unsafe (byte[] Stored, float[] Decoded) Encode(VectorType type, float[] v)
    {
        var stored = new byte[QuantizedDistance.StoredBytes(type, v.Length)];
        var decoded = new float[v.Length];
        fixed (byte* p = stored)
        {
            if (type == VectorType.Float16)
            {
                QuantizedDistance.EncodeHalf(v, p);
                QuantizedDistance.DecodeHalf(p, decoded);
            }
            else
            {
                QuantizedDistance.EncodeInt8(v, p);
                QuantizedDistance.DecodeInt8(p, decoded);
            }
        }
        return (stored, decoded);
    }

    private static byte[] AsBytes(float[] v) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.AsSpan()).ToArray();

    [Theory]
    [MemberData(nameof(Widths))]
    public void Every_kernel_at_every_width_matches_the_reference_on_the_decoded_values(int bits)
    {
        var width = (SimdWidth)bits;
        Gen.Int[1, 300].SelectMany(n => Gen.Select(Gen.Float[-50, 50].Array[n], Gen.Float[-50, 50].Array[n])).Sample(t =>
        {
            var (a, b) = t;
            int n = a.Length;
            foreach (VectorType type in new[] { VectorType.Float16, VectorType.Int8 })
            {
                var (sa, da) = Encode(type, a);
                var (sb, db) = Encode(type, b);
                double l2 = ReferenceL2(da, db), dot = ReferenceDot(da, db);
                double tol = 1e-4 * (ReferenceDot(da, da) + ReferenceDot(db, db)) + 1e-3;
                Assert.Equal(l2, Run(type, DistanceMetric.SquaredL2, false, width, sa, sb, n), tol);
                Assert.Equal(1 - dot, Run(type, DistanceMetric.InnerProduct, false, width, sa, sb, n), tol);
                // Asymmetric (searches): the float32 query against the stored form.
                tol = 1e-4 * (ReferenceDot(a, a) + ReferenceDot(db, db)) + 1e-3;
                Assert.Equal(ReferenceL2(a, db), Run(type, DistanceMetric.SquaredL2, true, width, AsBytes(a), sb, n), tol);
                Assert.Equal(1 - ReferenceDot(a, db), Run(type, DistanceMetric.Cosine, true, width, AsBytes(a), sb, n), tol);
            }
        }, iter: 200);
    }

    [Fact]
    public void Encoders_stay_within_their_error_bounds_and_keep_exact_values()
    {
        Gen.Float[-1000, 1000].Array[1, 200].Sample(v =>
        {
            float max = v.Max(Math.Abs);
            var (_, i8) = Encode(VectorType.Int8, v);
            var (_, f16) = Encode(VectorType.Float16, v);
            for (int i = 0; i < v.Length; i++)
            {
                Assert.True(Math.Abs(i8[i] - v[i]) <= (max / 127 / 2 * 1.0001) + 1e-6, $"int8 error at {i}: {v[i]} → {i8[i]}");
                Assert.True(Math.Abs(f16[i] - v[i]) <= Math.Max(Math.Abs(v[i]) * Math.Pow(2, -11), 6e-8), $"float16 error at {i}: {v[i]} → {f16[i]}");
            }
        }, iter: 300);
        // Values a half holds exactly come back exactly, subnormals included; the largest int8 magnitude maps to ±127.
        float[] exact = [0, -0f, 1, -2, 0.5f, 65504, -65504, 6.1035156e-5f, 5.9604645e-8f, -3.0517578e-5f];
        Assert.Equal(exact, Encode(VectorType.Float16, exact).Decoded);
        Assert.Equal(exact.Select(x => (float)(Half)x), Encode(VectorType.Float16, exact).Decoded);
        float[] zeros = new float[7];
        Assert.Equal(zeros, Encode(VectorType.Int8, zeros).Decoded);
        Assert.Equal(127 * 4f, Encode(VectorType.Int8, [0, 127 * 4f, -3])!.Decoded[1]);
    }

    [Theory]
    [InlineData(VectorType.Float16, DistanceMetric.SquaredL2, 0.02)]
    [InlineData(VectorType.Float16, DistanceMetric.Cosine, 0.02)]
    [InlineData(VectorType.Int8, DistanceMetric.SquaredL2, 0.10)]
    [InlineData(VectorType.Int8, DistanceMetric.InnerProduct, 0.10)]
    [InlineData(VectorType.Int8, DistanceMetric.Cosine, 0.10)]
    public void Compressed_indexes_keep_recall_and_rerank_restores_exact_distances(VectorType type, DistanceMetric metric, double loss)
    {
        const int dim = 32, n = 3000;
        float[] data = Clustered(n, dim, clusters: 30, seed: 31);
        float[] queries = Clustered(100, dim, clusters: 30, seed: 31 + 1000);
        using BruteForceIndex exact = Exact(data, dim, metric);
        double Measure(VectorType t, out HnswIndex index)
        {
            index = new HnswIndex(dim, metric, new HnswOptions { M = 16, EfConstruction = 100, VectorType = t });
            index.AddRange(Items(data, dim)); // one thread: deterministic graphs, so the comparison does not flicker
            return Recall(index, exact, queries, dim, k: 10, ef: 100);
        }
        double reference = Measure(VectorType.Float32, out HnswIndex f32);
        f32.Dispose();
        double recall = Measure(type, out HnswIndex compressed);
        using HnswIndex index = compressed;
        Assert.Equal(type, index.VectorType);
        Assert.True(recall >= reference - loss, $"{type} {metric}: recall@10 = {recall:F3}, float32 {reference:F3}");

        // Re-ranking with the original floats: exact distances, and the recall of float32 within three points (the graph
        // was built on the compressed vectors, so it is not the float32 graph).
        HnswIndex.OriginalVectorLookup originals = key => Row(data, dim, (int)key);
        var hits = new SearchHit[10];
        long found = 0;
        for (int i = 0; i < 100; i++)
        {
            ReadOnlySpan<float> q = Row(queries, dim, i);
            int got = index.SearchAndRerank(q, hits, originals, efSearch: 100);
            SearchHit[] truth = exact.Search(q, 10);
            var truthKeys = truth.Select(h => h.Key).ToHashSet();
            for (int j = 0; j < got; j++)
            {
                long key = hits[j].Key;
                Assert.Equal(exact.Search(q, 1, filter: k => k == key)[0].Distance, hits[j].Distance, 1e-3);
                Assert.True(j == 0 || hits[j - 1].Distance <= hits[j].Distance);
                found += truthKeys.Contains(key) ? 1 : 0;
            }
        }
        double reranked = found / 1000.0;
        Assert.True(reranked >= reference - 0.03, $"{type} {metric}: recall@10 after re-ranking = {reranked:F3} (without: {recall:F3}, float32 {reference:F3})");
        Assert.True(index.CheckIntegrity().IsValid);
    }

    [Fact]
    public void Memory_per_vector_shrinks_with_the_vector_type()
    {
        Assert.Equal(2048, new HnswIndex(512).BytesPerVector);
        Assert.Equal(1024, new HnswIndex(512, options: new HnswOptions { VectorType = VectorType.Float16 }).BytesPerVector);
        Assert.Equal(516, new HnswIndex(512, options: new HnswOptions { VectorType = VectorType.Int8 }).BytesPerVector);
        Assert.Equal(12, new HnswIndex(5, options: new HnswOptions { VectorType = VectorType.Float16 }).BytesPerVector);
        Assert.Equal(12, new HnswIndex(5, options: new HnswOptions { VectorType = VectorType.Int8 }).BytesPerVector);
        using var index = new HnswIndex(512, options: new HnswOptions { VectorType = VectorType.Int8 });
        index.AddRange(Items(Gaussian(300, 512, seed: 3), 512));
        using var f32 = new HnswIndex(512);
        f32.AddRange(Items(Gaussian(300, 512, seed: 3), 512));
        Assert.True(index.PayloadBytes <= 0.3 * f32.PayloadBytes, $"{index.PayloadBytes} vs {f32.PayloadBytes}");
    }

    [Fact]
    public void Bad_input_is_refused_with_the_argument_named()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new HnswIndex(4, options: new HnswOptions { VectorType = (VectorType)7 }));
        Assert.Equal("options.VectorType", e.ParamName);
        using var half = new HnswIndex(3, options: new HnswOptions { VectorType = VectorType.Float16 });
        var big = Assert.Throws<ArgumentException>(() => half.Add(1, [1, 70000, 0]));
        Assert.Equal("vector", big.ParamName);
        Assert.Contains("65504", big.Message, StringComparison.Ordinal);
        // Cosine normalises first, so large values are fine there.
        using var halfCosine = new HnswIndex(3, DistanceMetric.Cosine, new HnswOptions { VectorType = VectorType.Float16 });
        halfCosine.Add(1, [1, 70000, 0]);
        Assert.Equal(1, halfCosine.Search(new float[] { 0, 1, 0 }, 1)[0].Key);
        using var i8 = new HnswIndex(3, options: new HnswOptions { VectorType = VectorType.Int8 });
        i8.Add(1, [1, 2, 3]);
        Assert.Throws<ArgumentException>(() => i8.SearchAndRerank(new float[3], new SearchHit[1], _ => new float[2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => i8.SearchAndRerank(new float[3], new SearchHit[1], _ => default, rerank: 0));
    }

    [Theory]
    [InlineData(VectorType.Float16)]
    [InlineData(VectorType.Int8)]
    public void Exact_copies_under_compression_stay_findable_and_the_graph_whole(VectorType type)
    {
        const int dim = 8;
        float[] basis = Gaussian(20, dim, seed: 41);
        using var index = new HnswIndex(dim, DistanceMetric.SquaredL2, new HnswOptions { M = 4, EfConstruction = 32, VectorType = type });
        var random = new Random(42);
        for (long key = 0; key < 600; key++)
        {
            index.Add(key, Row(basis, dim, key < 20 ? (int)key : random.Next(20)));
            if (key % 3 == 0 && key > 0)
            {
                index.Remove(key - 1);
            }
        }
        Assert.True(index.CheckIntegrity().IsValid, index.CheckIntegrity().ToString());
        // With ef at least the live count, a search finds every live node (the parent tree guarantees reachability).
        SearchHit[] all = index.Search(new float[dim], index.Count, efSearch: index.Count);
        Assert.Equal(index.Count, all.Length);
    }

    private static HnswIndex BuildSmall(VectorType type, DistanceMetric metric = DistanceMetric.SquaredL2)
    {
        float[] data = Gaussian(700, 12, seed: 51);
        var index = new HnswIndex(12, metric, new HnswOptions { M = 8, EfConstruction = 60, VectorType = type });
        index.AddRange(Items(data, 12));
        for (long key = 0; key < 700; key += 9)
        {
            index.Remove(key);
        }
        return index;
    }

    private static void AssertSameResults(HnswIndex expected, HnswIndex actual)
    {
        Assert.Equal(expected.VectorType, actual.VectorType);
        Assert.Equal(expected.Count, actual.Count);
        Assert.Equal(expected.BytesPerVector, actual.BytesPerVector);
        float[] q = Gaussian(40, 12, seed: 52);
        for (int i = 0; i < 40; i++)
        {
            Assert.Equal(expected.Search(Row(q, 12, i), 10, 30), actual.Search(Row(q, 12, i), 10, 30));
        }
    }

    [Theory]
    [InlineData(VectorType.Float16, DistanceMetric.SquaredL2)]
    [InlineData(VectorType.Int8, DistanceMetric.SquaredL2)]
    [InlineData(VectorType.Int8, DistanceMetric.Cosine)]
    public void Compressed_indexes_round_trip_by_path_stream_and_memory_map(VectorType type, DistanceMetric metric)
    {
        using var dir = new TempDirectory();
        using HnswIndex index = BuildSmall(type, metric);
        string path = dir.File("q.hnsw");
        index.Save(path);
        byte[] bytes = File.ReadAllBytes(path);
        Assert.Equal(HnswIndex.FormatVersion, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8)));
        Assert.Equal((int)type, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(52)));
        using (HnswIndex loaded = HnswIndex.Load(path))
        {
            AssertSameResults(index, loaded);
            loaded.Add(9000, Gaussian(1, 12, seed: 53));
            Assert.Equal(9000, loaded.Search(Gaussian(1, 12, seed: 53), 1)[0].Key);
            Assert.True(loaded.CheckIntegrity().IsValid);
        }
        using (HnswIndex fromStream = HnswIndex.Load(new MemoryStream(bytes)))
        {
            AssertSameResults(index, fromStream);
        }
        using (HnswIndex mapped = HnswIndex.OpenMapped(path))
        {
            Assert.True(mapped.IsReadOnly);
            AssertSameResults(index, mapped);
        }
    }

    [Fact]
    public void Version_1_files_still_load_as_float32()
    {
        // A version-2 float32 file differs from version 1 only in the version number (byte 52 is 0 in both).
        using HnswIndex index = BuildSmall(VectorType.Float32);
        var stream = new MemoryStream();
        index.Save(stream);
        byte[] v1 = stream.ToArray();
        BinaryPrimitives.WriteInt32LittleEndian(v1.AsSpan(8), 1);
        Rehash(v1);
        using HnswIndex loaded = HnswIndex.Load(new MemoryStream(v1));
        Assert.Equal(VectorType.Float32, loaded.VectorType);
        AssertSameResults(index, loaded);
        // Version 1 with a vector type in its reserved field is not a file any writer produced.
        BinaryPrimitives.WriteInt32LittleEndian(v1.AsSpan(52), 2);
        Rehash(v1);
        Assert.Contains("reserved", Assert.Throws<InvalidDataException>(() => HnswIndex.Load(new MemoryStream(v1))).Message, StringComparison.Ordinal);
    }

    private static void Rehash(byte[] bytes)
    {
        ulong hash = System.IO.Hashing.XxHash64.HashToUInt64(bytes.AsSpan(0, bytes.Length - 8));
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(bytes.Length - 8), hash);
    }

    [Theory]
    [InlineData(VectorType.Float16)]
    [InlineData(VectorType.Int8)]
    public void Corrupt_compressed_files_are_rejected(VectorType type)
    {
        using HnswIndex index = BuildSmall(type);
        var stream = new MemoryStream();
        index.Save(stream);
        byte[] bytes = stream.ToArray();
        void Rejected(byte[] b, string? reason = null)
        {
            var e = Assert.Throws<InvalidDataException>(() => HnswIndex.Load(new MemoryStream(b)));
            if (reason is not null)
            {
                Assert.Contains(reason, e.Message, StringComparison.OrdinalIgnoreCase);
            }
        }
        for (int i = 0; i < 16; i++)
        {
            Rejected(bytes[..(int)((long)bytes.Length * i / 16)]);
        }
        var random = new Random(54);
        for (int trial = 0; trial < 100; trial++)
        {
            byte[] copy = (byte[])bytes.Clone();
            copy[trial < 64 ? trial : random.Next(copy.Length)] ^= (byte)(1 << random.Next(8));
            Rejected(copy);
        }
        // Unknown vector type, and a type whose vector size does not fit the length, even with a valid checksum.
        byte[] unknown = (byte[])bytes.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(unknown.AsSpan(52), 9);
        Rehash(unknown);
        Rejected(unknown, "vector type");
        byte[] other = (byte[])bytes.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(other.AsSpan(52), type == VectorType.Int8 ? 1 : 2);
        Rehash(other);
        Rejected(other, "bytes");
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("bad.hnsw"), other);
        Assert.Throws<InvalidDataException>(() => HnswIndex.OpenMapped(dir.File("bad.hnsw")));
    }
}
