using ImageRetrieval.Training.Mining;

namespace ImageRetrieval.Training.Tests.Mining;

public class PKBatchSamplerTests
{
    [Fact]
    public void Batches_hold_p_distinct_classes_with_k_images_each_and_are_seeded()
    {
        int[] labels = Enumerable.Range(0, 1000).Select(i => i % 7 == 6 ? 6 : i % 5).ToArray();
        var sampler = new PKBatchSampler(labels, 4, 6);
        Assert.Equal(1000 / 24, sampler.BatchesPerEpoch);
        var batches = sampler.Epoch(11).ToList();
        Assert.Equal(sampler.BatchesPerEpoch, batches.Count);
        foreach (int[] batch in batches)
        {
            var groups = batch.GroupBy(i => labels[i]).ToList();
            Assert.Equal(4, groups.Count);
            Assert.All(groups, g => Assert.Equal(6, g.Count()));
            Assert.All(groups, g => Assert.Equal(6, g.Distinct().Count()));
        }
        Assert.Equal(batches, sampler.Epoch(11).ToList());
        Assert.NotEqual(batches, sampler.Epoch(12).ToList());
    }

    [Fact]
    public void Images_of_a_class_are_drawn_without_replacement_until_the_class_is_used_up()
    {
        int[] labels = Enumerable.Range(0, 400).Select(i => i % 2).ToArray();
        var sampler = new PKBatchSampler(labels, 2, 20);
        var drawn = sampler.Epoch(1).SelectMany(b => b).ToList();
        Assert.Equal(400, drawn.Count);
        Assert.Equal(400, drawn.Distinct().Count());
    }

    [Fact]
    public void Impossible_settings_are_refused()
    {
        Assert.Throws<ArgumentException>(() => new PKBatchSampler(new int[10], 2, 2));
        Assert.Throws<ArgumentException>(() => new PKBatchSampler([0, 1, 1], 3, 2));
        Assert.Throws<ArgumentException>(() => new PKBatchSampler([0, 1, 1], 2, 1));
    }
}
