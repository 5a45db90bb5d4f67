using ImageRetrieval.Datasets;
using ImageRetrieval.Training;

namespace ImageRetrieval.Training.Tests;

public class ValidationSplitTests
{
    [Fact]
    public void Ten_classes_hold_out_two_whole_classes_split_into_queries_and_gallery()
    {
        LabeledImageSet set = TrainingData.Train;   // 2,000 Fashion-MNIST images, 10 classes

        ValidationSplit split = ValidationSplit.Create(set);

        Assert.Equal(ValidationSplitKind.HeldOutClasses, split.Kind);
        Assert.Equal(2, split.HeldOutClasses.Count);
        int[] heldOut = split.HeldOutClasses.Select(name => set.ClassNames.ToList().IndexOf(name)).ToArray();
        Assert.DoesNotContain(split.Train.Labels.ToArray(), heldOut.Contains);
        Assert.All(split.Queries.Labels.ToArray(), l => Assert.Contains(l, heldOut));
        Assert.All(split.Gallery!.Labels.ToArray(), l => Assert.Contains(l, heldOut));
        int heldOutImages = set.Labels.ToArray().Count(heldOut.Contains);
        Assert.Equal(set.Count - heldOutImages, split.Train.Count);
        // Every held-out image is a query or in the gallery (fewer than the 2,000-image cap); about a fifth are queries.
        Assert.Equal(heldOutImages, split.Queries.Count + split.Gallery.Count);
        Assert.InRange(split.Queries.Count, heldOutImages / 5 - 2, heldOutImages / 5 + 2);
        Assert.Equal(set.ClassNames, split.Train.ClassNames);
        Assert.Empty(QueryImagesAlsoIn(split.Queries, split.Gallery));

        ValidationSplit again = ValidationSplit.Create(set);
        Assert.Equal(split.HeldOutClasses, again.HeldOutClasses);
        Assert.Equal(split.Queries.Pixels.ToArray(), again.Queries.Pixels.ToArray());
        ValidationSplit other = ValidationSplit.Create(set, new ValidationSplitOptions { Seed = 2 });
        Assert.NotEqual(split.Queries.Pixels.ToArray(), other.Queries.Pixels.ToArray());
    }

    [Fact]
    public void Five_classes_hold_out_a_tenth_of_each_class_as_queries_against_the_rest()
    {
        LabeledImageSet five = TrainingData.Train.Select(
            Enumerable.Range(0, TrainingData.Train.Count).Where(i => TrainingData.Train.GetLabel(i) >= 5).ToArray());

        ValidationSplit split = ValidationSplit.Create(five);

        Assert.Equal(ValidationSplitKind.HeldOutImages, split.Kind);
        Assert.Empty(split.HeldOutClasses);
        Assert.Null(split.Gallery);
        Assert.Equal(five.Count, split.Train.Count + split.Queries.Count);
        int[] trainCounts = split.Train.CountPerClass(), queryCounts = split.Queries.CountPerClass(), counts = five.CountPerClass();
        for (int c = 5; c < 10; c++)
        {
            Assert.Equal((int)Math.Round(counts[c] * 0.1), queryCounts[c]);
            Assert.Equal(counts[c] - queryCounts[c], trainCounts[c]);
        }
        // Asked for explicitly, five classes do hold out classes: two, leaving three to train on.
        ValidationSplit byClass = ValidationSplit.Create(five, new ValidationSplitOptions { Kind = ValidationSplitKind.HeldOutClasses });
        Assert.Equal(2, byClass.HeldOutClasses.Count);
        Assert.Equal(3, byClass.Train.CountPerClass().Count(c => c > 0));
    }

    [Fact]
    public void Too_few_classes_are_a_clear_error()
    {
        LabeledImageSet three = TrainingData.Train.Select(
            Enumerable.Range(0, TrainingData.Train.Count).Where(i => TrainingData.Train.GetLabel(i) < 3).ToArray());
        var e = Assert.Throws<ArgumentException>(() => ValidationSplit.Create(three, new ValidationSplitOptions { Kind = ValidationSplitKind.HeldOutClasses }));
        Assert.Contains("at least 4", e.Message, StringComparison.Ordinal);
        LabeledImageSet one = TrainingData.Train.Select(
            Enumerable.Range(0, TrainingData.Train.Count).Where(i => TrainingData.Train.GetLabel(i) == 0).ToArray());
        Assert.Throws<ArgumentException>(() => ValidationSplit.Create(one));
    }

    // Images of the query set whose pixels also appear in the gallery (a split must not put one image in both).
    private static IEnumerable<int> QueryImagesAlsoIn(LabeledImageSet queries, LabeledImageSet gallery)
    {
        var galleryImages = Enumerable.Range(0, gallery.Count).Select(i => Convert.ToBase64String(gallery.GetImage(i))).ToHashSet();
        return Enumerable.Range(0, queries.Count).Where(i => galleryImages.Contains(Convert.ToBase64String(queries.GetImage(i))));
    }
}
