using BenchmarkDotNet.Attributes;
using ImageRetrieval.Datasets.Evaluation;

namespace ImageRetrieval.Benchmarks;

/// <summary>
/// Exact-search evaluation at Fashion-MNIST scale: 10,000 queries against a 60,000-image gallery,
/// 64-d, 10 balanced classes (R = 6,000 per query).
/// </summary>
[MemoryDiagnoser]
public class RetrievalMetricsBenchmarks
{
    private float[] _queries = [];
    private float[] _gallery = [];
    private int[] _queryLabels = [];
    private int[] _galleryLabels = [];

    [Params(1000, 10000)]
    public int Queries { get; set; }

    [Params(64)]
    public int Dimension { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        (_queries, _queryLabels) = Clustered(random, Queries);
        (_gallery, _galleryLabels) = Clustered(random, 60000);
    }

    [Benchmark]
    public RetrievalMetricsResult Compute() =>
        RetrievalMetrics.Compute(_queries, _queryLabels, _gallery, _galleryLabels, Dimension);

    // Unit vectors scattered around 10 class centres, so the ranking has realistic structure.
    private (float[] Vectors, int[] Labels) Clustered(Random random, int count)
    {
        var centres = new Random(7);
        var centre = new float[10 * Dimension];
        for (int i = 0; i < centre.Length; i++)
        {
            centre[i] = (float)centres.NextDouble() - 0.5f;
        }
        var vectors = new float[count * Dimension];
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            labels[i] = i % 10;
            Span<float> row = vectors.AsSpan(i * Dimension, Dimension);
            for (int k = 0; k < Dimension; k++)
            {
                row[k] = centre[labels[i] * Dimension + k] + 0.3f * ((float)random.NextDouble() - 0.5f);
            }
            System.Numerics.Tensors.TensorPrimitives.Divide(row, System.Numerics.Tensors.TensorPrimitives.Norm(row), row);
        }
        return (vectors, labels);
    }
}
