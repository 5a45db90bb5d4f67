using ImageRetrieval.Datasets;
using ImageRetrieval.ML.Imaging;
using SkiaSharp;

namespace ImageRetrieval.Datasets.Tests;

public class Oxford102FlowersTests
{
    // Labels of images 1..12 in the scipy fixtures; splits: trnid 1,3,5,7 / valid 2,4,9 / tstid 6,8,10,11,12.
    private static readonly int[] FixtureLabels = [1, 1, 2, 2, 3, 3, 50, 50, 102, 102, 7, 7];

    // Encoded once: colour JPEGs of varied sizes and aspect ratios.
    private static readonly Lazy<byte[][]> Jpegs = new(() => Enumerable.Range(1, 12)
        .Select(id => TestImages.Pattern(24 + (id * 5), 20 + ((13 - id) * 3), SKEncodedImageFormat.Jpeg, seed: id * 17))
        .ToArray());

    /// <summary>A miniature Oxford 102 folder: 12 colour JPEGs of varied sizes plus the scipy-written MAT-files.</summary>
    private static TempDirectory MakeFolder(bool compressedMat = true)
    {
        var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File("jpg"));
        for (int id = 1; id <= 12; id++)
        {
            File.WriteAllBytes(Oxford102Flowers.ImagePath(dir.Path, id), Jpegs.Value[id - 1]);
        }
        string suffix = compressedMat ? "compressed" : "uncompressed";
        File.Copy(MatFile.MatFileReaderTests.Fixture($"imagelabels_{suffix}.mat"), dir.File("imagelabels.mat"));
        File.Copy(MatFile.MatFileReaderTests.Fixture($"setid_{suffix}.mat"), dir.File("setid.mat"));
        return dir;
    }

    [Theory]
    [InlineData(Oxford102Split.Train, new[] { 1, 3, 5, 7 })]
    [InlineData(Oxford102Split.Validation, new[] { 2, 4, 9 })]
    [InlineData(Oxford102Split.Test, new[] { 6, 8, 10, 11, 12 })]
    [InlineData(Oxford102Split.TrainValidation, new[] { 1, 3, 5, 7, 2, 4, 9 })]
    public void Loads_the_standard_splits_with_decoded_pixels_and_0_based_labels(Oxford102Split split, int[] expectedIds)
    {
        using var dir = MakeFolder();
        Oxford102Set result = Oxford102Flowers.Load(dir.Path, split, imageSize: 16, maxDegreeOfParallelism: 2);

        Assert.Empty(result.Skipped);
        Assert.Equal(expectedIds, result.ImageIds);
        LabeledImageSet set = result.Images;
        Assert.Equal(expectedIds.Length, set.Count);
        Assert.Equal((3, 16, 16), (set.Channels, set.Height, set.Width));
        Assert.Equal(102, set.ClassCount);
        var options = new ImageDecodeOptions { Width = 16, Height = 16, Channels = 3 };
        var expected = new byte[options.OutputLength];
        for (int i = 0; i < expectedIds.Length; i++)
        {
            Assert.Equal(FixtureLabels[expectedIds[i] - 1] - 1, set.GetLabel(i));
            Assert.Equal(FixtureLabels[expectedIds[i] - 1].ToString(System.Globalization.CultureInfo.InvariantCulture), set.ClassNames[set.GetLabel(i)]);
            ImageDecoder.DecodeFile(Oxford102Flowers.ImagePath(dir.Path, expectedIds[i]), options, expected);
            Assert.True(expected.AsSpan().SequenceEqual(set.GetImage(i)), $"pixels of image {expectedIds[i]}");
        }
    }

    [Fact]
    public void Uncompressed_mat_files_grey_output_maxItems_and_progress()
    {
        using var dir = MakeFolder(compressedMat: false);
        var reports = new List<int>();
        var progress = new SynchronousProgress(reports);
        Oxford102Set result = Oxford102Flowers.Load(dir.Path, Oxford102Split.Test, 8, channels: 1, ImageResizeMode.Fill, progress, maxItems: 3);
        Assert.Equal([6, 8, 10], result.ImageIds);
        Assert.Equal(1, result.Images.Channels);
        Assert.Equal(3 * 8 * 8, result.Images.Pixels.Length);
        Assert.Equal(3, reports.Max());
    }

    [Fact]
    public void Parallel_and_sequential_decoding_give_identical_sets()
    {
        using var dir = MakeFolder();
        var one = Oxford102Flowers.Load(dir.Path, Oxford102Split.Test, 20, maxDegreeOfParallelism: 1).Images;
        var two = Oxford102Flowers.Load(dir.Path, Oxford102Split.Test, 20, maxDegreeOfParallelism: 2).Images;
        Assert.True(one.Pixels.SequenceEqual(two.Pixels));
        Assert.True(one.Labels.SequenceEqual(two.Labels));
    }

    [Fact]
    public void Undecodable_and_missing_jpegs_are_reported_and_left_out()
    {
        using var dir = MakeFolder();
        string broken = Oxford102Flowers.ImagePath(dir.Path, 3);
        File.WriteAllBytes(broken, [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]); // a JPEG that stops after its marker
        string missing = Oxford102Flowers.ImagePath(dir.Path, 5);
        File.Delete(missing);

        Oxford102Set result = Oxford102Flowers.Load(dir.Path, Oxford102Split.Train, 12);

        Assert.Equal([1, 7], result.ImageIds);
        Assert.Equal([0, 49], result.Images.Labels.ToArray());
        Assert.Equal([broken, missing], result.Skipped.Select(s => s.Path));
        Assert.All(result.Skipped, s => Assert.False(string.IsNullOrEmpty(s.Reason)));
        var expected = new byte[3 * 12 * 12];
        ImageDecoder.DecodeFile(Oxford102Flowers.ImagePath(dir.Path, 7), new ImageDecodeOptions { Width = 12, Height = 12, Channels = 3 }, expected);
        Assert.True(expected.AsSpan().SequenceEqual(result.Images.GetImage(1)), "image 7 moved into slot 1");
    }

    [Theory]
    [InlineData("imagelabels.mat")]
    [InlineData("setid.mat")]
    public void Missing_mat_files_say_what_is_expected_where(string file)
    {
        using var dir = MakeFolder();
        File.Delete(dir.File(file));
        var error = Assert.Throws<FileNotFoundException>(() => Oxford102Flowers.Load(dir.Path, Oxford102Split.Train, 8));
        Assert.Contains(dir.File(file), error.Message, StringComparison.Ordinal);
        Assert.Contains("jpg/image_00001.jpg", error.Message, StringComparison.Ordinal);
        Assert.Throws<DirectoryNotFoundException>(() => Oxford102Flowers.ResolveDirectory(dir.Path));
    }

    [Fact]
    public void Missing_jpg_folder_says_what_is_expected()
    {
        using var dir = MakeFolder();
        Directory.Delete(dir.File("jpg"), recursive: true);
        var error = Assert.Throws<DirectoryNotFoundException>(() => Oxford102Flowers.Load(dir.Path, Oxford102Split.Train, 8));
        Assert.Contains(dir.File("jpg"), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ResolveDirectory_finds_the_folder_or_a_known_sub_folder()
    {
        using var dir = MakeFolder();
        Assert.Equal(dir.Path, Oxford102Flowers.ResolveDirectory(dir.Path));
        using var parent = new TempDirectory();
        Directory.Move(dir.Path, parent.File("oxford102"));
        Directory.CreateDirectory(dir.Path); // so the TempDirectory cleanup has something to delete
        Assert.Equal(parent.File("oxford102"), Oxford102Flowers.ResolveDirectory(parent.Path));
    }

    public static TheoryData<string, byte[], string> BadMetadata() => new()
    {
        { "setid.mat", Splits([1, 3, 5, 13], [2, 4, 9], [6, 8, 10, 11, 12, 7]), "image id 13 at index 3, outside 1..12" },
        { "setid.mat", Splits([1, 3, 5, 0], [2, 4, 9], [6, 8, 10, 11, 12, 7]), "image id 0" },
        { "setid.mat", Splits([1, 3, 5, 7], [2, 4, 9], [6, 8, 10, 11, 12, 1]), "image id 1 appears more than once" },
        { "setid.mat", Splits([1, 3, 5, 7], [2, 4, 9], [6, 8, 10, 11]), "lists 11 images (4 + 3 + 4)" },
        { "setid.mat", Splits([1, 3, 5, 7.5], [2, 4, 9], [6, 8, 10, 11, 12]), "7.5" },
        { "setid.mat", MatBuilder.File(MatBuilder.Matrix("trnid", [1, 1], 1)), "no variable 'valid'" },
        { "setid.mat", MatBuilder.File(MatBuilder.Matrix("trnid", [2, 2], 1, 2, 3, 4), MatBuilder.Matrix("valid", [1, 1], 5), MatBuilder.Matrix("tstid", [1, 1], 6)), "expected a numeric vector" },
        { "imagelabels.mat", MatBuilder.File(MatBuilder.Matrix("labels", [1, 12], 1, 1, 2, 2, 3, 3, 50, 50, 103, 102, 7, 7)), "label 103 of image 9 is outside 1..102" },
        { "imagelabels.mat", MatBuilder.File(MatBuilder.Matrix("labels", [1, 12], 1, 1, 2, 2, 0, 3, 50, 50, 102, 102, 7, 7)), "label 0 of image 5" },
        { "imagelabels.mat", MatBuilder.File(MatBuilder.Matrix("labels", [1, 11], 1, 1, 2, 2, 3, 3, 50, 50, 102, 102, 7)), "image id 12" },
        { "imagelabels.mat", MatBuilder.File(MatBuilder.Matrix("labels", [1, 0])), "'labels' is empty" },
        { "imagelabels.mat", [1, 2, 3], "MAT file" },
    };

    [Theory]
    [MemberData(nameof(BadMetadata))]
    public void Inconsistent_metadata_is_an_InvalidDataException_naming_the_file(string file, byte[] content, string expected)
    {
        using var dir = MakeFolder();
        File.WriteAllBytes(dir.File(file), content);
        var error = Assert.Throws<InvalidDataException>(() => Oxford102Flowers.Load(dir.Path, Oxford102Split.Train, 8));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains(dir.Path, error.Message, StringComparison.Ordinal);
    }

    private static byte[] Splits(double[] train, double[] validation, double[] test) => MatBuilder.File(
        MatBuilder.Compressed(MatBuilder.Matrix("trnid", [1, train.Length], train)),
        MatBuilder.Compressed(MatBuilder.Matrix("valid", [1, validation.Length], validation)),
        MatBuilder.Compressed(MatBuilder.Matrix("tstid", [1, test.Length], test)));

    private sealed class SynchronousProgress(List<int> reports) : IProgress<int>
    {
        public void Report(int value)
        {
            lock (reports)
            {
                reports.Add(value);
            }
        }
    }
}
