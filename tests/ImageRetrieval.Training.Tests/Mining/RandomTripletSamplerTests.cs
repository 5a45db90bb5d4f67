using CsCheck;
using ImageRetrieval.Training.Mining;
using TorchSharp;

namespace ImageRetrieval.Training.Tests.Mining;

public class RandomTripletSamplerTests
{
    private static readonly Gen<int[]> Labels = Gen.Int[0, 5].Array[2, 60];

    [Fact]
    public void Every_anchor_once_per_epoch_with_a_valid_positive_and_negative()
    {
        Labels.Where(l => l.Distinct().Count() >= 2 && l.GroupBy(x => x).Any(g => g.Count() >= 2))
            .Select(Gen.Int[1, 16], Gen.Int)
            .Sample((labels, t, seed) =>
            {
                var sampler = new RandomTripletSampler(labels, t);
                var anchors = new List<int>();
                int batches = 0;
                foreach (int[] batch in sampler.Epoch(seed))
                {
                    batches++;
                    Assert.Equal(0, batch.Length % 3);
                    int n = batch.Length / 3;
                    Assert.InRange(n, 1, t);
                    for (int i = 0; i < n; i++)
                    {
                        int a = batch[i], p = batch[n + i], neg = batch[(2 * n) + i];
                        Assert.NotEqual(a, p);
                        Assert.Equal(labels[a], labels[p]);
                        Assert.NotEqual(labels[a], labels[neg]);
                        anchors.Add(a);
                    }
                }
                Assert.Equal(sampler.BatchesPerEpoch, batches);
                // Each image whose class has another image is an anchor exactly once; singletons never.
                var expected = Enumerable.Range(0, labels.Length).Where(i => labels.Count(l => l == labels[i]) >= 2);
                Assert.Equal(expected, anchors.Order());
            }, iter: 200);
    }

    [Fact]
    public void Epochs_are_deterministic_per_seed_and_resampled_between_seeds()
    {
        int[] labels = Enumerable.Range(0, 300).Select(i => i % 10).ToArray();
        var sampler = new RandomTripletSampler(labels, 64);
        var first = sampler.Epoch(3).SelectMany(b => b).ToArray();
        Assert.Equal(first, sampler.Epoch(3).SelectMany(b => b).ToArray());
        Assert.NotEqual(first, sampler.Epoch(4).SelectMany(b => b).ToArray());
    }

    [Fact]
    public void Data_without_two_classes_or_without_any_pair_is_refused()
    {
        Assert.Throws<ArgumentException>(() => new RandomTripletSampler(new[] { 1, 1, 1 }, 4));
        var error = Assert.Throws<ArgumentException>(() => new RandomTripletSampler(new[] { 0, 1, 2 }, 4));
        Assert.Contains("at least 2 images", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new RandomTripletSampler(new[] { 0, 0, 1 }, 0));
    }

    [Fact]
    public void Fixed_miner_reads_anchor_positive_negative_blocks()
    {
        using var scope = torch.NewDisposeScope();
        var t = new RandomTripletMiner().Mine(torch.zeros(9, 9), torch.tensor(new long[] { 0, 1, 2, 0, 1, 2, 1, 2, 0 }));
        Assert.Equal(new long[] { 0, 1, 2 }, t.Anchors.data<long>().ToArray());
        Assert.Equal(new long[] { 3, 4, 5 }, t.Positives.data<long>().ToArray());
        Assert.Equal(new long[] { 6, 7, 8 }, t.Negatives.data<long>().ToArray());
        Assert.Throws<ArgumentException>(() => new RandomTripletMiner().Mine(torch.zeros(4, 4), torch.tensor(new long[] { 0, 1, 0, 1 })));
    }
}
