using ImageRetrieval.Datasets;
using ImageRetrieval.ML.Imaging;
using SkiaSharp;

namespace ImageRetrieval.Datasets.Tests;

public class ImageFolderDatasetTests
{
    private static readonly ImageDecodeOptions Grey16 = new() { Width = 16, Height = 16, Channels = 1 };

    [Fact]
    public void Folders_become_classes_and_undecodable_files_are_reported_and_left_out()
    {
        using var dir = new TempDirectory();
        Write(dir.File("cat/1.png"), TestImages.Pattern(20, 30, seed: 1));
        Write(dir.File("cat/2.jpg"), TestImages.Pattern(40, 20, SKEncodedImageFormat.Jpeg, seed: 2));
        Write(dir.File("dog/1.png"), TestImages.Pattern(16, 16, seed: 3));
        Write(dir.File("dog/broken.png"), [0x89, (byte)'P', (byte)'N', (byte)'G', 1, 2, 3]);
        Write(dir.File("dog/notes.txt"), "not an image"u8.ToArray());
        Write(dir.File(".hidden/1.png"), TestImages.Pattern(16, 16));

        var result = ImageFolderDataset.Load(dir.Path, Grey16);

        Assert.Equal(["cat", "dog"], result.Images.ClassNames);
        Assert.Equal(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir.Path)), result.Images.Name);
        Assert.Equal([0, 0, 1], result.Images.Labels.ToArray());
        Assert.Equal(16, result.Images.Height);
        var skipped = Assert.Single(result.Skipped);
        Assert.EndsWith(Path.Combine("dog", "broken.png"), skipped.Path, StringComparison.Ordinal);

        var expected = new byte[Grey16.OutputLength];
        ImageDecoder.DecodeFile(dir.File("cat/2.jpg"), Grey16, expected);
        Assert.Equal(expected, result.Images.GetImage(1).ToArray());
    }

    [Fact]
    public void A_test_folder_is_labelled_with_the_training_classes()
    {
        using var train = new TempDirectory();
        using var test = new TempDirectory();
        foreach (string name in new[] { "a", "b", "c" })
        {
            Write(Path.Combine(train.Path, name, "x.png"), TestImages.Pattern(8, 8));
        }
        Write(Path.Combine(test.Path, "c", "y.png"), TestImages.Pattern(8, 8));
        var (trainSet, testSet) = ImageFolderDataset.LoadSplits(train.Path, test.Path, Grey16);
        Assert.Equal(3, trainSet.Images.ClassCount);
        Assert.Equal([2], testSet!.Images.Labels.ToArray());
        Assert.Equal(trainSet.Images.ClassNames, testSet.Images.ClassNames);

        Write(Path.Combine(test.Path, "zebra", "z.png"), TestImages.Pattern(8, 8));
        var error = Assert.Throws<InvalidDataException>(() => ImageFolderDataset.LoadSplits(train.Path, test.Path, Grey16));
        Assert.Contains("zebra", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_empty_and_flat_folders_fail_with_clear_messages()
    {
        using var dir = new TempDirectory();
        Assert.Throws<DirectoryNotFoundException>(() => ImageFolderDataset.Load(dir.File("nope"), Grey16));
        Write(dir.File("flat.png"), TestImages.Pattern(8, 8));
        var flat = Assert.Throws<InvalidDataException>(() => ImageFolderDataset.Load(dir.Path, Grey16));
        Assert.Contains("sub-folder", flat.Message, StringComparison.Ordinal);
        Directory.CreateDirectory(dir.File("empty-class"));
        var empty = Assert.Throws<InvalidDataException>(() => ImageFolderDataset.Load(dir.Path, Grey16));
        Assert.Contains("no image files", empty.Message, StringComparison.Ordinal);
    }

    private static void Write(string path, byte[] bytes)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
    }
}
