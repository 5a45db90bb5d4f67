using ImageRetrieval.Datasets;
using ImageRetrieval.ML.Imaging;

namespace ImageRetrieval.Datasets.Tests;

public class ImageFolderWriterTests
{
    [Fact]
    public void Written_pngs_decode_back_to_the_exact_fashion_mnist_pixels()
    {
        using var temp = new TempDirectory();
        LabeledImageSet set = FashionMnist.Load(FashionMnist.Split.Test, maxItems: 50);
        var paths = ImageFolderWriter.WritePng(set, temp.Path, filePrefix: "test-");

        Assert.Equal(50, paths.Count);
        var options = new ImageDecodeOptions { Width = 28, Height = 28, Channels = 1 };
        var pixels = new byte[784];
        for (int i = 0; i < set.Count; i++)
        {
            Assert.Equal(ImageFolderWriter.Slug(set.ClassNames[set.GetLabel(i)]), Path.GetFileName(Path.GetDirectoryName(paths[i])));
            ImageDecoder.DecodeFile(paths[i], options, pixels);
            Assert.True(set.GetImage(i).SequenceEqual(pixels), $"image {i} differs after the PNG round trip");
        }
    }

    [Theory]
    [InlineData("T-shirt/top", "t-shirt-top")]
    [InlineData("Ankle boot", "ankle-boot")]
    [InlineData("../../etc", "etc")]
    [InlineData("///", "class")]
    public void Slugs_are_safe_folder_names(string name, string expected) => Assert.Equal(expected, ImageFolderWriter.Slug(name));
}
