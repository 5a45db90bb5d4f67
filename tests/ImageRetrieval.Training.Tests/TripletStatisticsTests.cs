using ImageRetrieval.Training;
using ImageRetrieval.Training.Mining;

namespace ImageRetrieval.Training.Tests;

public class TripletStatisticsTests
{
    [Fact]
    public void Separated_classes_have_no_violating_triplets_and_the_distances_are_the_means()
    {
        // Two classes of two: 0.1 apart within a class, 1.0 between classes.
        int[] labels = [0, 0, 1, 1];
        float[] d =
        [
            0, 0.1f, 1, 1,
            0.1f, 0, 1, 1,
            1, 1, 0, 0.1f,
            1, 1, 0.1f, 0,
        ];
        TripletStatistics s = TripletStatisticsAccumulator.Measure(d, labels, 0.2f, TripletDistance.Euclidean)!;
        Assert.Equal(0, s.ViolatingFraction);
        Assert.Equal(0, s.WrongOrderFraction);
        Assert.Equal(0.1, s.MeanPositiveDistance, 6);
        Assert.Equal(1.0, s.MeanNegativeDistance, 6);
        Assert.Equal(0.9, s.DistanceGap, 6);
        // A margin wider than the gap makes every triplet violate it, though the ranking is still right.
        TripletStatistics wide = TripletStatisticsAccumulator.Measure(d, labels, 1.0f, TripletDistance.Euclidean)!;
        Assert.Equal(1, wide.ViolatingFraction);
        Assert.Equal(0, wide.WrongOrderFraction);
    }

    [Fact]
    public void Collapsed_embeddings_have_zero_spread_and_every_triplet_violates()
    {
        int[] labels = [0, 0, 1, 1, 2, 2];
        float[] d = new float[36];
        TripletStatistics s = TripletStatisticsAccumulator.Measure(d, labels, 0.2f, TripletDistance.Euclidean)!;
        Assert.Equal(0, s.Spread);
        Assert.Equal(1, s.ViolatingFraction);
        Assert.Equal(0, s.MeanNegativeDistance);
    }

    [Theory]
    [InlineData(TripletDistance.Euclidean)]
    [InlineData(TripletDistance.Cosine)]
    public void Spread_is_the_rms_distance_of_unit_vectors_from_their_mean_and_fractions_match_enumeration(TripletDistance metric)
    {
        const int n = 24, dim = 5;
        var random = new Random(11);
        var x = new double[n, dim];
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = i % 4;
            double norm = 0;
            for (int k = 0; k < dim; k++)
            {
                // Clustered by label, so the statistics are neither 0 nor 1.
                x[i, k] = (k == labels[i] ? 0.4 : 0) + random.NextDouble() - 0.5;
                norm += x[i, k] * x[i, k];
            }
            for (int k = 0; k < dim; k++)
            {
                x[i, k] /= Math.Sqrt(norm);
            }
        }
        var d = new float[n * n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double dot = 0;
                for (int k = 0; k < dim; k++)
                {
                    dot += x[i, k] * x[j, k];
                }
                d[i * n + j] = metric == TripletDistance.Cosine ? (float)(1 - dot) : (float)Math.Sqrt(Math.Max(0, 2 - 2 * dot));
            }
        }

        TripletStatistics s = TripletStatisticsAccumulator.Measure(d, labels, 0.3f, metric)!;

        double centroidSquared = 0;
        for (int k = 0; k < dim; k++)
        {
            double mean = 0;
            for (int i = 0; i < n; i++)
            {
                mean += x[i, k] / n;
            }
            centroidSquared += mean * mean;
        }
        Assert.Equal(Math.Sqrt(1 - centroidSquared), s.Spread, 4);

        long triplets = 0, violating = 0, wrong = 0;
        for (int a = 0; a < n; a++)
        {
            for (int p = 0; p < n; p++)
            {
                if (p == a || labels[p] != labels[a])
                {
                    continue;
                }
                for (int q = 0; q < n; q++)
                {
                    if (labels[q] == labels[a])
                    {
                        continue;
                    }
                    triplets++;
                    violating += d[a * n + q] < d[a * n + p] + 0.3f ? 1 : 0;
                    wrong += d[a * n + q] < d[a * n + p] ? 1 : 0;
                }
            }
        }
        Assert.InRange(s.ViolatingFraction, 0.01, 0.99);
        Assert.Equal((double)violating / triplets, s.ViolatingFraction, 9);
        Assert.Equal((double)wrong / triplets, s.WrongOrderFraction, 9);
    }

    [Fact]
    public void The_epoch_mean_averages_batches_and_skips_batches_without_triplets()
    {
        var accumulator = new TripletStatisticsAccumulator(0.2f, TripletDistance.Euclidean);
        Assert.Null(accumulator.Mean());
        accumulator.Add(new float[4], [0, 0]);   // one class: no valid triplet
        accumulator.Add([0, 0.1f, 1, 1, 0.1f, 0, 1, 1, 1, 1, 0, 0.1f, 1, 1, 0.1f, 0], [0, 0, 1, 1]);
        accumulator.Add(new float[16], [0, 0, 1, 1]);
        Assert.Equal(2, accumulator.Batches);
        TripletStatistics mean = accumulator.Mean()!;
        Assert.Equal(0.5, mean.ViolatingFraction, 9);
        Assert.Equal(0.05, mean.MeanPositiveDistance, 6);
        Assert.Throws<ArgumentException>(() => accumulator.Add(new float[3], [0, 1]));
    }
}
