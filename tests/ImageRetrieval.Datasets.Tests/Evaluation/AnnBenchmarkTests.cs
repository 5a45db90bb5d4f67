using ImageRetrieval.Datasets.Evaluation;
using ImageRetrieval.ML.Indexing;
using Xunit;

namespace ImageRetrieval.Datasets.Tests.Evaluation;

public sealed class AnnBenchmarkTests
{
    private static float[] Gaussian(int count, int dimension, int seed)
    {
        var random = new Random(seed);
        var values = new float[count * dimension];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        }
        return values;
    }

    [Fact]
    public void Exact_ground_truth_puts_a_base_vector_first_for_its_own_copy()
    {
        float[] base_ = Gaussian(300, 8, 1);
        float[] queries = base_.AsSpan(0, 8 * 20).ToArray();
        int[] gt = AnnBenchmark.ExactGroundTruth(base_, queries, 8, 5, DistanceMetric.SquaredL2, 2);
        Assert.Equal(20 * 5, gt.Length);
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(i, gt[i * 5]);
        }
    }

    [Fact]
    public void Recall_rises_with_ef_and_reaches_one_when_the_beam_covers_the_set()
    {
        float[] base_ = Gaussian(2_000, 16, 2);
        float[] queries = Gaussian(100, 16, 3);
        int[] gt = AnnBenchmark.ExactGroundTruth(base_, queries, 16, 10, DistanceMetric.SquaredL2, 2);
        var options = new AnnBenchmarkOptions { K = 10, EfSearch = [10, 2_000], Rerank = 20, Index = new HnswOptions { M = 4, EfConstruction = 20, Seed = 7 } };
        AnnBenchmarkReport report = AnnBenchmark.Run(base_, queries, 16, gt, 10, options);
        Assert.Equal([10, 2_000], report.Runs.Select(r => r.Ef));
        Assert.True(report.Runs[0].Recall < 1.0, $"M 4 / ef 10 should miss some neighbours; recall {report.Runs[0].Recall}");
        Assert.Equal(1.0, report.Runs[1].Recall);
        Assert.Equal(2, report.RerankedRuns.Count);
        Assert.True(report.PayloadBytes > 2_000L * 16 * sizeof(float));
    }

    [Fact]
    public void A_ground_truth_narrower_than_k_is_refused()
    {
        float[] base_ = Gaussian(50, 4, 4);
        int[] gt = AnnBenchmark.ExactGroundTruth(base_, base_, 4, 3, DistanceMetric.SquaredL2, 1);
        var error = Assert.Throws<ArgumentException>(() => AnnBenchmark.Run(base_, base_, 4, gt, 3, new AnnBenchmarkOptions { K = 10, EfSearch = [10] }));
        Assert.Contains("3 neighbours", error.Message);
    }
}
