using ImageRetrieval.Datasets;
using ImageRetrieval.Training.Augmentation;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Tests.Augmentation;

[Collection(TorchCollection.Name)]
public class PhotoAugmentationTests
{
    private static readonly PhotoAugmentationOptions NoJitter = new() { OutputSize = 8, Brightness = 0, Contrast = 0, Saturation = 0 };

    // Whole image, no resize (S = H = W), no jitter: only the flip can change anything.
    private static readonly PhotoAugmentationOptions FlipOnly = NoJitter with { MinScale = 1, MaxScale = 1, MinAspectRatio = 1, MaxAspectRatio = 1 };

    /// <summary>A seeded batch of [N, 3, H, W] uint8 photos.</summary>
    private static Tensor Photos(int n, int height, int width, int seed)
    {
        var random = new Random(seed);
        var bytes = new byte[n * 3 * height * width];
        random.NextBytes(bytes);
        return torch.tensor(bytes, [n, 3, height, width]);
    }

    [Fact]
    public void Same_seed_gives_the_same_batch_and_another_seed_a_different_one()
    {
        using var scope = torch.NewDisposeScope();
        var augmentation = new PhotoAugmentation(new PhotoAugmentationOptions { OutputSize = 24 });
        Tensor photos = Photos(4, 40, 56, seed: 1);
        Tensor a = augmentation.Apply(photos, new Random(7));
        Tensor b = augmentation.Apply(photos, new Random(7));
        Tensor c = augmentation.Apply(photos, new Random(8));
        Assert.True(a.equal(b).all().item<bool>());
        Assert.False(a.equal(c).all().item<bool>());
    }

    [Theory]
    [InlineData(40, 56, 24)]
    [InlineData(64, 48, 32)]
    [InlineData(16, 16, 32)] // upscaling from a small stored size
    public void Output_has_the_configured_size_and_stays_in_0_255(int height, int width, int size)
    {
        using var scope = torch.NewDisposeScope();
        var augmentation = new PhotoAugmentation(new PhotoAugmentationOptions { OutputSize = size, Brightness = 0.4, Contrast = 0.4, Saturation = 0.4 });
        Tensor photos = Photos(5, height, width, seed: 2);
        foreach (Tensor output in new[] { augmentation.Apply(photos, new Random(3)), augmentation.Apply(photos.to_type(ScalarType.Float32), new Random(3)), augmentation.ApplyEval(photos) })
        {
            Assert.Equal(new long[] { 5, 3, size, size }, output.shape);
            Assert.Equal(ScalarType.Float32, output.dtype);
            Assert.True(output.min().item<float>() >= 0);
            Assert.True(output.max().item<float>() <= 255);
        }
        // uint8 and float inputs give the same result.
        Assert.True(augmentation.Apply(photos, new Random(3)).allclose(augmentation.Apply(photos.to_type(ScalarType.Float32), new Random(3))));
        Assert.True(photos.equal(Photos(5, height, width, seed: 2)).all().item<bool>(), "the input is not modified");
    }

    [Fact]
    public void Flip_mirrors_a_hand_made_image()
    {
        using var scope = torch.NewDisposeScope();
        // 8×8: left half black, right half white in R; a gradient across columns in G.
        var pixels = new float[3 * 8 * 8];
        for (int y = 0; y < 8; y++)
        {
            for (int x = 0; x < 8; x++)
            {
                pixels[(y * 8) + x] = x < 4 ? 0 : 255;
                pixels[64 + (y * 8) + x] = x * 30;
                pixels[128 + (y * 8) + x] = y * 30;
            }
        }
        Tensor image = torch.tensor(pixels, [1, 3, 8, 8]);

        Tensor flipped = new PhotoAugmentation(FlipOnly with { FlipProbability = 1 }).Apply(image, new Random(1));
        Tensor kept = new PhotoAugmentation(FlipOnly with { FlipProbability = 0 }).Apply(image, new Random(1));

        Assert.True(kept.allclose(image, atol: 1e-3));
        Assert.Equal(255f, flipped[0, 0, 3, 0].item<float>(), 2);
        Assert.Equal(0f, flipped[0, 0, 3, 7].item<float>(), 2);
        Assert.Equal(210f, flipped[0, 1, 5, 0].item<float>(), 2); // green column 7 moved to column 0
        Assert.Equal(150f, flipped[0, 2, 5, 6].item<float>(), 2); // blue (rows) unchanged
        Assert.True(flipped.allclose(image.flip(3), atol: 1e-3));
    }

    [Fact]
    public void Flips_happen_about_half_the_time()
    {
        using var scope = torch.NewDisposeScope();
        Tensor image = torch.arange(0, 64, dtype: ScalarType.Float32).reshape(1, 1, 8, 8).expand(200, 3, 8, 8).contiguous();
        Tensor output = new PhotoAugmentation(FlipOnly).Apply(image, new Random(5));
        int flipped = Enumerable.Range(0, 200).Count(i => output[i, 0, 0, 0].item<float>() == 7f);
        Assert.InRange(flipped, 70, 130);
    }

    [Fact]
    public void Crops_stay_inside_the_image_and_respect_the_scale_and_ratio_ranges()
    {
        var augmentation = new PhotoAugmentation();
        var random = new Random(11);
        int fallbacks = 0;
        for (int trial = 0; trial < 5000; trial++)
        {
            int height = random.Next(1, 600), width = random.Next(1, 600);
            CropBox box = augmentation.SampleCrop(height, width, random);
            Assert.InRange(box.Height, 1, height);
            Assert.InRange(box.Width, 1, width);
            Assert.InRange(box.Top, 0, height - box.Height);
            Assert.InRange(box.Left, 0, width - box.Width);
            double area = (double)box.Height * box.Width / ((double)height * width);
            double ratio = (double)box.Width / box.Height;
            bool centred = box.Top == (height - box.Height) / 2 && box.Left == (width - box.Width) / 2;
            if (height >= 50 && width >= 50 && !(centred && (box.Width == width || box.Height == height)))
            {
                // A sampled crop: rounding to whole pixels aside, inside the torchvision ranges.
                Assert.InRange(area, 0.08 * 0.9, 1.0);
                Assert.InRange(ratio, 0.75 * 0.9, (4.0 / 3.0) * 1.1);
            }
            else
            {
                fallbacks++;
            }
        }
        Assert.True(fallbacks < 5000, "most crops are sampled, not the fallback");
    }

    [Fact]
    public void Jitter_changes_colours_but_keeps_grey_pixels_grey()
    {
        using var scope = torch.NewDisposeScope();
        var grey = torch.linspace(20, 230, 64).reshape(1, 1, 8, 8).expand(1, 3, 8, 8).contiguous();
        var options = FlipOnly with { FlipProbability = 0, Brightness = 0.3, Contrast = 0.3, Saturation = 0.3 };
        Tensor output = new PhotoAugmentation(options).Apply(grey, new Random(4));
        Assert.False(output.allclose(grey, atol: 0.5));
        Assert.True(output[0, 0].allclose(output[0, 1], atol: 1e-3) && output[0, 1].allclose(output[0, 2], atol: 1e-3));
        // Light: a factor of at most 1.3 on each of three adjustments.
        Assert.True((output - grey).abs().max().item<float>() < 160);
    }

    [Fact]
    public void Eval_transform_resizes_the_shorter_side_and_crops_the_centre()
    {
        using var scope = torch.NewDisposeScope();
        var augmentation = new PhotoAugmentation(NoJitter with { OutputSize = 8, EvalResizeRatio = 1 });
        Tensor square = Photos(2, 8, 8, seed: 3);
        Assert.True(augmentation.ApplyEval(square).equal(square.to_type(ScalarType.Float32)).all().item<bool>());

        // 8 rows × 16 columns: the shorter side is already 8, so the result is columns 4..11.
        Tensor wide = Photos(2, 8, 16, seed: 4);
        Tensor centre = wide.narrow(3, 4, 8).to_type(ScalarType.Float32);
        Assert.True(augmentation.ApplyEval(wide).equal(centre).all().item<bool>());
        Assert.True(augmentation.ApplyEval(wide).equal(augmentation.ApplyEval(wide)).all().item<bool>());
    }

    [Fact]
    public void ToTensor_copies_images_of_a_labeled_set()
    {
        using var scope = torch.NewDisposeScope();
        var pixels = Enumerable.Range(0, 3 * 3 * 2 * 2).Select(i => (byte)i).ToArray();
        var set = new LabeledImageSet("t", pixels, [0, 1, 0], 3, 2, 2, ["a", "b"]);
        Tensor batch = PhotoAugmentation.ToTensor(set, [2, 0]);
        Assert.Equal(new long[] { 2, 3, 2, 2 }, batch.shape);
        Assert.Equal(24, batch[0, 0, 0, 0].item<byte>());
        Assert.Equal(0, batch[1, 0, 0, 0].item<byte>());
    }

    [Fact]
    public void Bad_settings_and_batches_are_refused()
    {
        Assert.Throws<ArgumentException>(() => new PhotoAugmentation(new PhotoAugmentationOptions { MinScale = 0 }));
        Assert.Throws<ArgumentException>(() => new PhotoAugmentation(new PhotoAugmentationOptions { MinAspectRatio = 2, MaxAspectRatio = 1 }));
        Assert.Throws<ArgumentException>(() => new PhotoAugmentation(new PhotoAugmentationOptions { Brightness = 2 }));
        using var scope = torch.NewDisposeScope();
        Assert.Throws<ArgumentException>(() => new PhotoAugmentation().Apply(torch.zeros(3, 8, 8), new Random(1)));
        Assert.Throws<ArgumentException>(() => new PhotoAugmentation().Apply(torch.zeros(1, 4, 8, 8), new Random(1)));
    }
}
