using BenchmarkDotNet.Attributes;
using ImageRetrieval.Datasets;

namespace ImageRetrieval.Benchmarks;

/// <summary>Cost of loading the Fashion-MNIST test split (gunzip + validation) into memory.</summary>
[MemoryDiagnoser]
public class IdxReadBenchmarks
{
    [Benchmark]
    public int LoadFashionMnistTest() => FashionMnist.Load(FashionMnist.Split.Test).Count;
}
