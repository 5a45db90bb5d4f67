using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using ImageRetrieval.ML.Indexing;

namespace ImageRetrieval.Benchmarks.Indexing;

/// <summary>One distance evaluation: our hand-written FMA kernels vs TensorPrimitives vs a scalar loop (784-d = Fashion-MNIST, 128-d = SIFT), and the float16 / int8 kernels.</summary>
[MemoryDiagnoser]
public unsafe class DistanceBenchmarks
{
    private float[] _a = [];
    private float[] _b = [];
    private byte[] _halfB = [];
    private byte[] _int8A = [];
    private byte[] _int8B = [];

    [Params(128, 784)]
    public int Dimension { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        _a = Enumerable.Range(0, Dimension).Select(_ => (float)random.NextDouble()).ToArray();
        _b = Enumerable.Range(0, Dimension).Select(_ => (float)random.NextDouble()).ToArray();
        _halfB = new byte[QuantizedDistance.StoredBytes(VectorType.Float16, Dimension)];
        _int8A = new byte[QuantizedDistance.StoredBytes(VectorType.Int8, Dimension)];
        _int8B = new byte[QuantizedDistance.StoredBytes(VectorType.Int8, Dimension)];
        fixed (byte* h = _halfB, ia = _int8A, ib = _int8B)
        {
            QuantizedDistance.EncodeHalf(_b, h);
            QuantizedDistance.EncodeInt8(_a, ia);
            QuantizedDistance.EncodeInt8(_b, ib);
        }
    }

    /// <summary>float32 query against a stored float16 vector (the search kernel of <see cref="VectorType.Float16"/>).</summary>
    [Benchmark]
    public float Float16QueryL2()
    {
        fixed (float* a = _a)
        fixed (byte* b = _halfB)
        {
            return QuantizedDistance.Kernel(VectorType.Float16, DistanceMetric.SquaredL2, query: true, QuantizedDistance.Best)((byte*)a, b, Dimension);
        }
    }

    /// <summary>float32 query against stored int8 codes (the search kernel of <see cref="VectorType.Int8"/>).</summary>
    [Benchmark]
    public float Int8QueryL2()
    {
        fixed (float* a = _a)
        fixed (byte* b = _int8B)
        {
            return QuantizedDistance.Kernel(VectorType.Int8, DistanceMetric.SquaredL2, query: true, QuantizedDistance.Best)((byte*)a, b, Dimension);
        }
    }

    /// <summary>Two stored int8 vectors (the insert kernel: exact integer sums).</summary>
    [Benchmark]
    public float Int8StoredL2()
    {
        fixed (byte* a = _int8A, b = _int8B)
        {
            return QuantizedDistance.Kernel(VectorType.Int8, DistanceMetric.SquaredL2, query: false, QuantizedDistance.Best)(a, b, Dimension);
        }
    }

    [Benchmark(Baseline = true)]
    public float SquaredL2Kernel()
    {
        fixed (float* a = _a, b = _b)
        {
            return VectorDistance.SquaredL2(a, b, Dimension);
        }
    }

    [Benchmark]
    public float TensorPrimitivesDistance()
    {
        float d = TensorPrimitives.Distance(_a, _b);
        return d * d;
    }

    [Benchmark]
    public float Scalar()
    {
        float s = 0;
        for (int i = 0; i < _a.Length; i++)
        {
            float d = _a[i] - _b[i];
            s += d * d;
        }
        return s;
    }

    [Benchmark]
    public float DotKernel()
    {
        fixed (float* a = _a, b = _b)
        {
            return VectorDistance.Dot(a, b, Dimension);
        }
    }

    [Benchmark]
    public float TensorPrimitivesDot() => TensorPrimitives.Dot(_a, _b);
}
