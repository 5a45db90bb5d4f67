using CsCheck;
using ImageRetrieval.Training.Mining;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Tests.Mining;

[Collection(TorchCollection.Name)]
public class TripletMinerTests
{
    private const float Margin = 0.2f;

    [Fact]
    public void Batch_hard_takes_the_farthest_positive_and_closest_negative()
    {
        // Labels 0,0,0,1,1: anchor 0's positives 1 (d=0.5), 2 (d=0.9); negatives 3 (d=0.7), 4 (d=0.4).
        float[,] d =
        {
            { 0, .5f, .9f, .7f, .4f },
            { .5f, 0, .3f, .2f, .8f },
            { .9f, .3f, 0, .6f, .1f },
            { .7f, .2f, .6f, 0, .5f },
            { .4f, .8f, .1f, .5f, 0 },
        };
        using var scope = torch.NewDisposeScope();
        var t = new BatchHardMiner().Mine(torch.tensor(d), torch.tensor(new long[] { 0, 0, 0, 1, 1 }));
        Assert.Equal(new long[] { 0, 1, 2, 3, 4 }, t.Anchors.data<long>().ToArray());
        Assert.Equal(new long[] { 2, 0, 0, 4, 3 }, t.Positives.data<long>().ToArray());
        Assert.Equal(new long[] { 4, 3, 4, 1, 2 }, t.Negatives.data<long>().ToArray());
    }

    [Fact]
    public void Batch_all_returns_exactly_the_margin_violating_valid_triplets()
    {
        Cases().Sample((labels, d) =>
        {
            using var scope = torch.NewDisposeScope();
            var mined = Set(new BatchAllMiner(Margin).Mine(Tensor(d), torch.tensor(labels)));
            var expected = new HashSet<(long, long, long)>();
            foreach (var (a, p, n) in Valid(labels))
            {
                if (d[a, p] - d[a, n] + Margin > 0)
                {
                    expected.Add((a, p, n));
                }
            }
            Assert.Equal(expected.Order(), mined.Order());
        }, iter: 100);
    }

    [Fact]
    public void Semi_hard_picks_the_closest_negative_beyond_the_positive_else_the_farthest()
    {
        Cases().Sample((labels, d) =>
        {
            using var scope = torch.NewDisposeScope();
            var mined = new SemiHardMiner().Mine(Tensor(d), torch.tensor(labels));
            var a = mined.Anchors.data<long>().ToArray();
            var p = mined.Positives.data<long>().ToArray();
            var n = mined.Negatives.data<long>().ToArray();
            int pairs = 0;
            for (int i = 0; i < labels.Length; i++)
            {
                for (int j = 0; j < labels.Length; j++)
                {
                    if (i != j && labels[i] == labels[j] && labels.Any(l => l != labels[i]))
                    {
                        pairs++;
                    }
                }
            }
            Assert.Equal(pairs, a.Length);
            for (int t = 0; t < a.Length; t++)
            {
                var negatives = Enumerable.Range(0, labels.Length).Where(k => labels[k] != labels[a[t]]).ToArray();
                var beyond = negatives.Where(k => d[a[t], k] > d[a[t], p[t]]).ToArray();
                float expected = beyond.Length > 0 ? beyond.Min(k => d[a[t], k]) : negatives.Max(k => d[a[t], k]);
                Assert.Equal(labels[a[t]], labels[p[t]]);
                Assert.Equal(expected, d[a[t], n[t]]);
            }
        }, iter: 100);
    }

    [Fact]
    public void Random_triplets_are_valid_and_seeded()
    {
        long[] labels = [0, 0, 1, 1, 2, 2, 2, 3];  // label 3 has no positive: never an anchor
        using var scope = torch.NewDisposeScope();
        var d = torch.zeros(8, 8);
        var first = Set(new RandomInBatchMiner(new Generator(7)).Mine(d, torch.tensor(labels)));
        var second = Set(new RandomInBatchMiner(new Generator(7)).Mine(d, torch.tensor(labels)));
        Assert.Equal(first.Order(), second.Order());
        Assert.Equal(7, first.Count);
        Assert.All(first, t =>
        {
            Assert.NotEqual(t.Item1, t.Item2);
            Assert.Equal(labels[t.Item1], labels[t.Item2]);
            Assert.NotEqual(labels[t.Item1], labels[t.Item3]);
        });
    }

    [Fact]
    public void Pairwise_distances_match_the_definitions_on_unit_vectors()
    {
        using var scope = torch.NewDisposeScope();
        var e = torch.tensor(new float[,] { { 1, 0 }, { 0, 1 }, { -1, 0 } });
        var euclidean = PairwiseDistances.Compute(e, TripletDistance.Euclidean);
        var cosine = PairwiseDistances.Compute(e, TripletDistance.Cosine);
        Assert.Equal(MathF.Sqrt(2), euclidean[0, 1].item<float>(), 5);
        Assert.Equal(2f, euclidean[0, 2].item<float>(), 5);
        Assert.Equal(1f, cosine[0, 1].item<float>(), 5);
        Assert.Equal(2f, cosine[0, 2].item<float>(), 5);
        Assert.True(euclidean[0, 0].item<float>() < 1e-5);
    }

    internal static Gen<(long[] Labels, float[,] D)> Cases() =>
        Gen.Int[3, 9].SelectMany(n => Gen.Select(
            Gen.Long[0, 2].Array[n],
            Gen.Int[0, 20].Array[n * n],
            (labels, values) =>
            {
                var d = new float[n, n];
                for (int i = 0; i < n; i++)
                {
                    for (int j = i + 1; j < n; j++)
                    {
                        d[i, j] = d[j, i] = values[i * n + j] / 10f;
                    }
                }
                return (labels, d);
            }));

    private static Tensor Tensor(float[,] d) => torch.tensor(d);

    private static IEnumerable<(long, long, long)> Valid(long[] labels)
    {
        for (int a = 0; a < labels.Length; a++)
        {
            for (int p = 0; p < labels.Length; p++)
            {
                for (int n = 0; n < labels.Length; n++)
                {
                    if (a != p && labels[a] == labels[p] && labels[a] != labels[n])
                    {
                        yield return (a, p, n);
                    }
                }
            }
        }
    }

    private static HashSet<(long, long, long)> Set(TripletIndices t)
    {
        var a = t.Anchors.data<long>().ToArray();
        var p = t.Positives.data<long>().ToArray();
        var n = t.Negatives.data<long>().ToArray();
        return Enumerable.Range(0, a.Length).Select(i => (a[i], p[i], n[i])).ToHashSet();
    }
}
