using ImageRetrieval.ML.Imaging;
using SkiaSharp;

namespace ImageRetrieval.ML.Tests.Reliability;

/// <summary>
/// The hostile-image corpus: every case must end in a decoded image or an <see cref="ImageDecodeException"/>
/// naming the file — no crash, no decode before the size checks, no allocation far beyond the file's
/// legitimate decoded size. Expected outcomes are pinned so a behaviour change is noticed.
/// </summary>
public class HostileImageTests
{
    private static readonly ImageDecodeOptions Options = new() { Width = 28, Height = 28, Channels = 3 };

    public static TheoryData<string, bool> Fixtures => new()
    {
        // file in tests/fixtures/images (made by make_images.sh), decodes?
        { "rgb16.png", true },
        { "palette.png", true },
        { "grey-alpha.png", true },
        { "rgba16-alpha.png", true },
        { "grey.jpg", true },
        { "cmyk.jpg", true },
        { "progressive.jpg", true },
        { "animated.gif", true },
        { "negative-height.bmp", true },
        { "exif-rotated.jpg", true },
        { "header-only.jpg", false },
        { "garbage-after-header.jpg", true }, // libjpeg conceals corrupt scan data (documented in docs/reliability.md)
        { "orientation-6.jpg", true },
        { "lossless.webp", true },
        { "interlaced.png", true },
        { "photo.heic", false },
        { "photo.tiff", false },
    };

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Fixture_images_decode_or_fail_cleanly(string name, bool decodes)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "fixtures", "images", name);
        Assert.True(File.Exists(path), $"fixture {path} missing");
        AssertOutcome(path, decodes);
    }

    public static TheoryData<string, bool> Generated => new()
    {
        { "empty.png", false },
        { "text.jpg", false },
        { "png-truncated-8.png", false },
        { "png-truncated-33.png", false },
        { "png-truncated-half.png", false },
        { "png-truncated-end.png", true }, // only the IEND trailer and a CRC lost: every row is there
        { "jpeg-truncated-2.jpg", false },
        { "jpeg-truncated-200.jpg", false },
        { "jpeg-truncated-half.jpg", false },
        { "png-bad-crc.png", false },
        { "png-50000x50000.png", false },
        { "png-65535x65535.png", false },
        { "png-1x2000000000.png", false },
        { "directory.png", false },
        { "symlink-loop.png", false },
        { "random-bytes.jpg", false },
    };

    [Theory]
    [MemberData(nameof(Generated))]
    public void Generated_hostile_inputs_decode_or_fail_cleanly(string name, bool decodes)
    {
        using var temp = new TempDirectory();
        string path = temp.File(name);
        Make(path, name);
        AssertOutcome(path, decodes);
    }

    private static void AssertOutcome(string path, bool decodes)
    {
        var destination = new float[Options.OutputLength];
        Warm.Up();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Exception? error = Record.Exception(() => ImageDecoder.DecodeFile(path, Options, destination));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // Work is bounded, not timed: the declared size is checked against MaxPixels before Skia allocates or decodes
        // (the bombs below fail that check), and managed allocations stay near the encoded size (SkiaSharp's pixel
        // buffers are native and capped by MaxPixels).
        Assert.True(allocated < (4L << 20), $"{path} allocated {allocated} managed bytes");
        if (decodes)
        {
            Assert.Null(error);
        }
        else
        {
            var decodeError = Assert.IsType<ImageDecodeException>(error);
            Assert.Equal(path, decodeError.ImageSource);
            Assert.Contains(path, decodeError.Message, StringComparison.Ordinal);
        }
    }

    private static class Warm
    {
        static Warm() => ImageDecoder.Decode(TestImages.Pattern(4, 4), Options, new float[Options.OutputLength]);

        public static void Up()
        {
        }
    }

    private static void Make(string path, string name)
    {
        byte[] png = TestImages.Pattern(64, 48, SKEncodedImageFormat.Png, seed: 3);
        byte[] jpeg = TestImages.Pattern(64, 48, SKEncodedImageFormat.Jpeg, seed: 3);
        switch (name)
        {
            case "empty.png": File.WriteAllBytes(path, []); break;
            case "text.jpg": File.WriteAllText(path, "GIF89a? no: this is a text file named .jpg\n"); break;
            case "png-truncated-8.png": File.WriteAllBytes(path, png[..8]); break;
            case "png-truncated-33.png": File.WriteAllBytes(path, png[..33]); break;
            case "png-truncated-half.png": File.WriteAllBytes(path, png[..(png.Length / 2)]); break;
            case "png-truncated-end.png": File.WriteAllBytes(path, png[..(png.Length - 20)]); break;
            case "jpeg-truncated-2.jpg": File.WriteAllBytes(path, jpeg[..2]); break;
            case "jpeg-truncated-200.jpg": File.WriteAllBytes(path, jpeg[..200]); break;
            case "jpeg-truncated-half.jpg": File.WriteAllBytes(path, jpeg[..(jpeg.Length / 2)]); break;
            case "png-bad-crc.png":
                byte[] bad = (byte[])png.Clone();
                bad[29] ^= 0xFF; // the IHDR chunk's CRC: Skia refuses the header
                File.WriteAllBytes(path, bad);
                break;
            case "png-50000x50000.png": File.WriteAllBytes(path, TestImages.PngDeclaring(50_000, 50_000)); break;
            case "png-65535x65535.png": File.WriteAllBytes(path, TestImages.PngDeclaring(65_535, 65_535)); break;
            case "png-1x2000000000.png": File.WriteAllBytes(path, TestImages.PngDeclaring(1, 2_000_000_000)); break;
            case "directory.png": Directory.CreateDirectory(path); break;
            case "symlink-loop.png":
                File.CreateSymbolicLink(path, path + ".b");
                File.CreateSymbolicLink(path + ".b", path);
                break;
            case "random-bytes.jpg":
                var random = new byte[5000];
                new Random(11).NextBytes(random);
                random[0] = 0xFF;
                random[1] = 0xD8;
                File.WriteAllBytes(path, random);
                break;
            default: throw new ArgumentOutOfRangeException(nameof(name));
        }
    }
}
