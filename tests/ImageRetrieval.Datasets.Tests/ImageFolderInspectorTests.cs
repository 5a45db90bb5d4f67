using ImageRetrieval.Datasets;
using SkiaSharp;

namespace ImageRetrieval.Datasets.Tests;

public class ImageFolderInspectorTests
{
    [Fact]
    public void Fashion_mnist_exported_as_png_is_inferred_as_28_pixel_grey()
    {
        using var dir = new TempDirectory();
        LabeledImageSet set = FashionMnist.Load(FashionMnist.Split.Test, maxItems: 300);
        ImageFolderWriter.WritePng(set, dir.Path);

        ImageFolderSummary summary = ImageFolderInspector.Inspect(dir.Path);

        Assert.Equal(10, summary.ClassCount);
        Assert.Equal(300, summary.FileCount);
        Assert.Equal(ImageFolderInspector.DefaultSampleSize, summary.SampledCount);
        Assert.Equal((28, 28), (summary.CommonWidth, summary.CommonHeight));
        Assert.Equal(summary.SampledCount, summary.CommonSizeCount);
        Assert.True(summary.AllGrey);
        Assert.Equal(1, summary.SuggestedChannels);
        Assert.Equal(28, summary.SuggestedSide(maxSide: 64));
        Assert.Equal(summary, ImageFolderInspector.Inspect(dir.Path));
    }

    [Fact]
    public void Colour_photos_of_mixed_sizes_suggest_rgb_at_the_common_size_capped()
    {
        using var dir = new TempDirectory();
        Write(dir.File("a/1.png"), TestImages.Pattern(120, 90, seed: 1));
        Write(dir.File("a/2.jpg"), TestImages.Pattern(120, 90, SKEncodedImageFormat.Jpeg, seed: 2));
        Write(dir.File("b/1.png"), TestImages.Pattern(120, 90, seed: 3));
        Write(dir.File("b/2.png"), TestImages.Pattern(40, 40, seed: 4));
        Write(dir.File("b/broken.png"), [0x89, (byte)'P', (byte)'N', (byte)'G', 1, 2, 3]);

        ImageFolderSummary summary = ImageFolderInspector.Inspect(dir.Path);

        Assert.Equal(5, summary.FileCount);
        Assert.Equal(4, summary.SampledCount);
        Assert.Equal((120, 90, 3), (summary.CommonWidth, summary.CommonHeight, summary.CommonSizeCount));
        Assert.Equal(0, summary.GreyCount);
        Assert.Equal(3, summary.SuggestedChannels);
        Assert.Equal(64, summary.SuggestedSide(maxSide: 64));
        Assert.Equal(90, summary.SuggestedSide(maxSide: 224));
        Assert.Equal(32, new ImageFolderSummary("x", 1, 1, 1, 20, 20, 1, 1).SuggestedSide(maxSide: 64, minSide: 32));
    }

    [Fact]
    public void Grey_pixels_stored_as_rgb_count_as_grey()
    {
        Assert.True(ImageFolderInspector.IsGrey([10, 200, 10, 200, 13, 197]));
        Assert.False(ImageFolderInspector.IsGrey([10, 200, 10, 200, 30, 197]));
    }

    [Fact]
    public void A_missing_folder_or_one_without_images_is_a_clear_error()
    {
        using var dir = new TempDirectory();
        Assert.Throws<DirectoryNotFoundException>(() => ImageFolderInspector.Inspect(dir.File("missing")));
        Directory.CreateDirectory(dir.File("empty-class"));
        var e = Assert.Throws<InvalidDataException>(() => ImageFolderInspector.Inspect(dir.Path));
        Assert.Contains("no image files", e.Message, StringComparison.Ordinal);
    }

    private static void Write(string path, byte[] bytes)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
    }
}
