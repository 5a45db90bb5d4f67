using BenchmarkDotNet.Attributes;
using ImageRetrieval.ML.Indexing;

namespace ImageRetrieval.Benchmarks.Indexing;

/// <summary>
/// One k=10 query against 20,000 random 128-d vectors (M = 16, efConstruction = 100): HNSW through the span overload
/// (should allocate nothing), through the array overload, and the exact scan for scale.
/// </summary>
[MemoryDiagnoser]
public class HnswSearchBenchmarks
{
    private const int Dim = 128;
    private HnswIndex _index = null!;
    private BruteForceIndex _exact = null!;
    private float[] _queries = [];
    private readonly SearchHit[] _hits = new SearchHit[10];
    private int _next;

    [Params(16, 64)]
    public int Ef { get; set; }

    [Params(VectorType.Float32, VectorType.Float16, VectorType.Int8)]
    public VectorType Type { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(7);
        float[] data = new float[20_000 * Dim];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (float)random.NextDouble();
        }
        _queries = new float[256 * Dim];
        for (int i = 0; i < _queries.Length; i++)
        {
            _queries[i] = (float)random.NextDouble();
        }
        var items = Enumerable.Range(0, 20_000).Select(i => ((long)i, (ReadOnlyMemory<float>)data.AsMemory(i * Dim, Dim))).ToArray();
        _index = new HnswIndex(Dim, DistanceMetric.SquaredL2, new HnswOptions { M = 16, EfConstruction = 100, VectorType = Type });
        _index.AddRange(items, maxDegreeOfParallelism: 2);
        _exact = new BruteForceIndex(Dim, DistanceMetric.SquaredL2, maxDegreeOfParallelism: 1);
        _exact.AddRange(items);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _index.Dispose();
        _exact.Dispose();
    }

    private ReadOnlySpan<float> NextQuery() => _queries.AsSpan((_next++ & 255) * Dim, Dim);

    [Benchmark(Baseline = true)]
    public int HnswSpan() => _index.Search(NextQuery(), _hits, Ef);

    [Benchmark]
    public int HnswArray() => _index.Search(NextQuery(), 10, Ef).Length;

    [Benchmark]
    public int HnswFiltered() => _index.Search(NextQuery(), _hits, Ef, static key => (key & 1) == 0);

    [Benchmark]
    public int BruteForce() => _exact.Search(NextQuery(), _hits);
}
