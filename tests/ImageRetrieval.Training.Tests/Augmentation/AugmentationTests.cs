using ImageRetrieval.Training.Augmentation;

namespace ImageRetrieval.Training.Tests.Augmentation;

public class AugmentationTests
{
    // 3×3 image 1..9, row-major.
    private static readonly byte[] Image = [1, 2, 3, 4, 5, 6, 7, 8, 9];

    [Theory]
    [InlineData(false, 0, 0, new float[] { 1, 2, 3, 4, 5, 6, 7, 8, 9 })]
    [InlineData(true, 0, 0, new float[] { 3, 2, 1, 6, 5, 4, 9, 8, 7 })]
    [InlineData(false, 1, 0, new float[] { 0, 1, 2, 0, 4, 5, 0, 7, 8 })]
    [InlineData(false, 0, -1, new float[] { 4, 5, 6, 7, 8, 9, 0, 0, 0 })]
    [InlineData(true, 1, 1, new float[] { 0, 0, 0, 0, 3, 2, 0, 6, 5 })]
    public void Flip_then_shift_moves_pixels_and_fills_with_zero(bool flip, int dx, int dy, float[] expected)
    {
        var target = new float[9];
        BatchBuilder.Transform(Image, target, 3, 3, flip, dx, dy);
        Assert.Equal(expected, target);
    }

    [Fact]
    public void Without_augmentation_batches_are_the_raw_pixels()
    {
        var set = new ImageRetrieval.Datasets.LabeledImageSet("t", [.. Image, .. Image.Reverse()], [0, 1], 1, 3, 3, ["a", "b"]);
        var target = new float[18];
        BatchBuilder.Fill(set, [1, 0], target, AugmentationOptions.None, new Random(1));
        Assert.Equal(Image.Reverse().Concat(Image).Select(b => (float)b), target);
    }
}
