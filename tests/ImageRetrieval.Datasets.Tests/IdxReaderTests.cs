using System.Buffers.Binary;
using System.IO.Compression;
using ImageRetrieval.Datasets;

namespace ImageRetrieval.Datasets.Tests;

public class IdxReaderTests
{
    [Fact]
    public void Reads_the_real_fashion_mnist_train_and_test_splits()
    {
        LabeledImageSet train = FashionMnist.Load(FashionMnist.Split.Train);
        LabeledImageSet test = FashionMnist.Load(FashionMnist.Split.Test);

        Assert.Equal(60_000, train.Count);
        Assert.Equal(10_000, test.Count);
        Assert.Equal((1, 28, 28), (train.Channels, train.Height, train.Width));
        // The first labels of the train split, as published: Ankle boot, T-shirt, T-shirt, Dress, T-shirt, Pullover, Sneaker, ...
        Assert.Equal([9, 0, 0, 3, 0, 2, 7, 2, 5, 5], train.Labels[..10].ToArray());
        Assert.Equal([9, 2, 1, 1, 6, 1, 4, 6, 5, 7], test.Labels[..10].ToArray());
        Assert.All(train.CountPerClass(), c => Assert.Equal(6_000, c));
        Assert.All(test.CountPerClass(), c => Assert.Equal(1_000, c));
        // Real images: not blank, full 0..255 range used.
        Assert.Contains(train.GetImage(0).ToArray(), b => b == 255 || b > 200);
        Assert.Equal("Ankle boot", train.ClassNames[train.GetLabel(0)]);
    }

    [Fact]
    public void Reads_a_prefix_with_maxItems()
    {
        LabeledImageSet part = FashionMnist.Load(FashionMnist.Split.Test, maxItems: 100);
        LabeledImageSet full = FashionMnist.Load(FashionMnist.Split.Test);
        Assert.Equal(100, part.Count);
        Assert.True(part.Pixels.SequenceEqual(full.Pixels[..(100 * 784)]));
    }

    [Fact]
    public void Plain_and_gzipped_files_read_the_same()
    {
        using var temp = new TempDirectory();
        string gz = Path.Combine(FashionMnist.ResolveDirectory(), FashionMnist.FileName(FashionMnist.Split.Test, images: false));
        string plain = temp.File("labels.idx1-ubyte");
        using (var input = new GZipStream(File.OpenRead(gz), CompressionMode.Decompress))
        using (var output = File.Create(plain))
        {
            input.CopyTo(output);
        }
        Assert.Equal(IdxReader.ReadLabels(gz), IdxReader.ReadLabels(plain));
    }

    public static TheoryData<string, string> CorruptCases => new()
    {
        { "wrong-magic", "magic number" },
        { "labels-as-images", "magic number" },
        { "truncated-header", "truncated" },
        { "truncated-data", "truncated" },
        { "trailing-bytes", "unexpected bytes" },
        { "absurd-dimensions", "image size" },
        { "absurd-count", "item count" },
        { "negative-count", "item count" },
        { "gzip-bomb-header", "gzip file can hold" },
        { "truncated-gzip", "IDX file" },
        { "garbage-gzip", "IDX file" },
        { "empty", "truncated" },
    };

    [Theory]
    [MemberData(nameof(CorruptCases))]
    public void Corrupt_image_files_raise_InvalidDataException_naming_the_file(string kind, string expected)
    {
        using var temp = new TempDirectory();
        string path = temp.File(kind + ".idx3-ubyte" + (kind.Contains("gzip", StringComparison.Ordinal) ? ".gz" : ""));
        File.WriteAllBytes(path, MakeCorrupt(kind));

        // The work is bounded by what the reader allocates (on this thread): a lying header must not make it allocate
        // or read what the file cannot hold.
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.True(allocated < 8 << 20, $"allocated {allocated} bytes for a tiny corrupt file");
    }

    [Fact]
    public void Missing_file_is_FileNotFoundException_with_the_path()
    {
        var error = Assert.Throws<FileNotFoundException>(() => IdxReader.ReadLabels("/nonexistent/labels.gz"));
        Assert.Contains("/nonexistent/labels.gz", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Image_and_label_counts_that_disagree_are_rejected()
    {
        using var temp = new TempDirectory();
        File.WriteAllBytes(Path.Combine(temp.Path, FashionMnist.FileName(FashionMnist.Split.Train, true)), Gzip(Images(3, 28, 28)));
        File.WriteAllBytes(Path.Combine(temp.Path, FashionMnist.FileName(FashionMnist.Split.Train, false)), Gzip(Labels(2)));
        File.WriteAllBytes(Path.Combine(temp.Path, FashionMnist.FileName(FashionMnist.Split.Test, true)), Gzip(Images(1, 28, 28)));
        var error = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(FashionMnist.Split.Train, temp.Path));
        Assert.Contains("3 images", error.Message, StringComparison.Ordinal);
        Assert.Contains("2 labels", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_dataset_says_how_to_install_it()
    {
        using var temp = new TempDirectory();
        var error = Assert.Throws<DirectoryNotFoundException>(() => FashionMnist.ResolveDirectory(temp.Path));
        Assert.Contains(temp.Path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Environment_variable_points_at_the_data()
    {
        using var temp = new TempDirectory();
        string nested = Path.Combine(temp.Path, "fashion-mnist");
        Directory.CreateDirectory(nested);
        foreach (var split in new[] { FashionMnist.Split.Train, FashionMnist.Split.Test })
        {
            File.WriteAllBytes(Path.Combine(nested, FashionMnist.FileName(split, true)), Gzip(Images(2, 28, 28)));
            File.WriteAllBytes(Path.Combine(nested, FashionMnist.FileName(split, false)), Gzip(Labels(2)));
        }
        string? old = Environment.GetEnvironmentVariable(FashionMnist.DataEnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(FashionMnist.DataEnvironmentVariable, temp.Path);
            Assert.Equal(nested, FashionMnist.ResolveDirectory());
            Assert.Equal(2, FashionMnist.Load(FashionMnist.Split.Test).Count);
        }
        finally
        {
            Environment.SetEnvironmentVariable(FashionMnist.DataEnvironmentVariable, old);
        }
    }

    private static byte[] MakeCorrupt(string kind)
    {
        byte[] good = Images(4, 28, 28);
        switch (kind)
        {
            case "wrong-magic":
                good[2] = 0x09;
                return good;
            case "labels-as-images":
                return Labels(4);
            case "truncated-header":
                return good[..10];
            case "truncated-data":
                return good[..(good.Length - 100)];
            case "trailing-bytes":
                return [.. good, 1, 2, 3];
            case "absurd-dimensions":
                BinaryPrimitives.WriteInt32BigEndian(good.AsSpan(8), 100_000);
                return good;
            case "absurd-count":
                BinaryPrimitives.WriteInt32BigEndian(good.AsSpan(4), int.MaxValue);
                return good;
            case "negative-count":
                BinaryPrimitives.WriteInt32BigEndian(good.AsSpan(4), -5);
                return good;
            case "gzip-bomb-header":
                // 40 million images of 28x28 declared in a file of a few hundred bytes.
                BinaryPrimitives.WriteInt32BigEndian(good.AsSpan(4), 40_000_000);
                return Gzip(good);
            case "truncated-gzip":
                byte[] gz = Gzip(Images(200, 28, 28, random: true));
                return gz[..(gz.Length / 2)];
            case "garbage-gzip":
                byte[] g = Gzip(Images(200, 28, 28, random: true));
                for (int i = 30; i < g.Length - 8; i += 7)
                {
                    g[i] ^= 0x5A;
                }
                return g;
            case "empty":
                return [];
            default:
                throw new ArgumentOutOfRangeException(nameof(kind));
        }
    }

    internal static byte[] Images(int count, int rows, int cols, bool random = false)
    {
        var bytes = new byte[16 + count * rows * cols];
        BinaryPrimitives.WriteInt32BigEndian(bytes, 0x803);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(12), cols);
        if (random)
        {
            new Random(7).NextBytes(bytes.AsSpan(16));
        }
        return bytes;
    }

    internal static byte[] Labels(int count)
    {
        var bytes = new byte[8 + count];
        BinaryPrimitives.WriteInt32BigEndian(bytes, 0x801);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), count);
        return bytes;
    }

    internal static byte[] Gzip(byte[] data)
    {
        using var memory = new MemoryStream();
        using (var gzip = new GZipStream(memory, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(data);
        }
        return memory.ToArray();
    }
}
