using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using ImageRetrieval.ML.Indexing;

namespace ImageRetrieval.Benchmarks.Indexing;

/// <summary>One distance evaluation: our hand-written FMA kernels vs TensorPrimitives vs a scalar loop (784-d = Fashion-MNIST, 128-d = SIFT).</summary>
[MemoryDiagnoser]
public unsafe class DistanceBenchmarks
{
    private float[] _a = [];
    private float[] _b = [];

    [Params(128, 784)]
    public int Dimension { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        _a = Enumerable.Range(0, Dimension).Select(_ => (float)random.NextDouble()).ToArray();
        _b = Enumerable.Range(0, Dimension).Select(_ => (float)random.NextDouble()).ToArray();
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
