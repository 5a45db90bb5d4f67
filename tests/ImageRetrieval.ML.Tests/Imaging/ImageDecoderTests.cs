using ImageRetrieval.ML.Imaging;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using SkiaSharp;

namespace ImageRetrieval.ML.Tests.Imaging;

public class ImageDecoderTests
{
    [Theory]
    [InlineData(SKEncodedImageFormat.Png, 3, ImageResizeMode.IsoCrop, 64, 40)]
    [InlineData(SKEncodedImageFormat.Jpeg, 3, ImageResizeMode.IsoCrop, 37, 90)]
    [InlineData(SKEncodedImageFormat.Png, 1, ImageResizeMode.IsoCrop, 50, 50)]
    [InlineData(SKEncodedImageFormat.Jpeg, 1, ImageResizeMode.Fill, 80, 33)]
    [InlineData(SKEncodedImageFormat.Png, 3, ImageResizeMode.IsoPad, 64, 40)]
    public void Produces_exactly_the_pixels_of_the_MLNet_chain(SKEncodedImageFormat format, int channels, ImageResizeMode mode, int width, int height)
    {
        using var temp = new TempDirectory();
        string path = temp.File("image" + (format == SKEncodedImageFormat.Png ? ".png" : ".jpg"));
        File.WriteAllBytes(path, TestImages.Pattern(width, height, format, seed: 5));
        var options = new ImageDecodeOptions { Width = 28, Height = 24, Channels = channels, ResizeMode = mode };

        var ours = new float[options.OutputLength];
        ImageDecoder.DecodeFile(path, options, ours);

        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable([new Row { Path = path }]);
        var kind = mode switch
        {
            ImageResizeMode.Fill => ImageResizingEstimator.ResizingKind.Fill,
            ImageResizeMode.IsoPad => ImageResizingEstimator.ResizingKind.IsoPad,
            _ => ImageResizingEstimator.ResizingKind.IsoCrop,
        };
        IEstimator<ITransformer> chain = ml.Transforms.LoadImages("image", null, nameof(Row.Path))
            .Append(ml.Transforms.ResizeImages("image", 28, 24, resizing: kind));
        if (channels == 1)
        {
            chain = chain.Append(ml.Transforms.ConvertToGrayscale("image"))
                .Append(ml.Transforms.ExtractPixels("pixels", "image", ImagePixelExtractingEstimator.ColorBits.Red));
        }
        else
        {
            chain = chain.Append(ml.Transforms.ExtractPixels("pixels", "image"));
        }
        float[] theirs = chain.Fit(data).Transform(data).GetColumn<VBuffer<float>>("pixels").Single().DenseValues().ToArray();

        Assert.Equal(theirs.Length, ours.Length);
        Assert.Equal(theirs, ours);
    }

    [Fact]
    public void Bytes_streams_and_files_decode_alike()
    {
        byte[] png = TestImages.Pattern(30, 20, seed: 9);
        var options = new ImageDecodeOptions { Width = 16, Height = 16, Channels = 3 };
        var fromBytes = new float[options.OutputLength];
        var fromStream = new float[options.OutputLength];
        var asBytes = new byte[options.OutputLength];
        ImageDecoder.Decode(png, options, fromBytes);
        ImageDecoder.Decode(new MemoryStream(png), options, fromStream);
        ImageDecoder.Decode(png, options, asBytes);
        Assert.Equal(fromBytes, fromStream);
        Assert.Equal(fromBytes, asBytes.Select(b => (float)b).ToArray());
    }

    [Fact]
    public void A_png_declaring_fifty_thousand_squared_pixels_is_refused_before_allocation()
    {
        byte[] bomb = TestImages.PngDeclaring(50_000, 50_000);
        Assert.True(bomb.Length < 200);
        var options = new ImageDecodeOptions { Width = 28, Height = 28, Channels = 1 };
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(bomb, options, new float[784], source: "bomb.png"));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        Assert.Contains("bomb.png", error.Message, StringComparison.Ordinal);
        Assert.Contains("50000x50000", error.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string> BadInputs => ["empty", "text", "truncated-png", "truncated-jpeg", "missing", "directory"];

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void Bad_files_raise_ImageDecodeException_naming_the_file(string kind)
    {
        using var temp = new TempDirectory();
        string path = temp.File(kind + ".jpg");
        byte[] png = TestImages.Pattern(64, 64, SKEncodedImageFormat.Png);
        byte[] jpeg = TestImages.Pattern(64, 64, SKEncodedImageFormat.Jpeg);
        switch (kind)
        {
            case "empty": File.WriteAllBytes(path, []); break;
            case "text": File.WriteAllText(path, "this is not an image, just text named .jpg"); break;
            case "truncated-png": File.WriteAllBytes(path, png[..(png.Length / 2)]); break;
            case "truncated-jpeg": File.WriteAllBytes(path, jpeg[..(jpeg.Length / 2)]); break;
            case "directory": Directory.CreateDirectory(path); break;
        }
        var options = new ImageDecodeOptions { Width = 28, Height = 28, Channels = 3 };
        var error = Assert.Throws<ImageDecodeException>(() => ImageDecoder.DecodeFile(path, options, new float[options.OutputLength]));
        Assert.Equal(path, error.ImageSource);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", "images", name);

    private static byte[] Decoded(string path, ImageDecodeOptions options)
    {
        var pixels = new byte[options.OutputLength];
        ImageDecoder.DecodeFile(path, options, pixels);
        return pixels;
    }

    private static double MeanAbsoluteDifference(byte[] a, byte[] b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Average();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public void EXIF_orientation_turns_the_stored_pixels_upright(int orientation)
    {
        // orientation-N.jpg: the upright picture's pixels turned by ImageMagick as orientation N requires, tagged N by Pillow
        // (make_images.sh checks each file back with Pillow's exif_transpose). Fill at the upright size copies pixels unchanged.
        var options = new ImageDecodeOptions { Width = 48, Height = 32, Channels = 3, ResizeMode = ImageResizeMode.Fill };
        byte[] upright = Decoded(Fixture("orientation-upright.png"), options);
        byte[] shown = Decoded(Fixture($"orientation-{orientation}.jpg"), options);
        Assert.True(MeanAbsoluteDifference(upright, shown) < 4, $"orientation {orientation}: mean |difference| {MeanAbsoluteDifference(upright, shown):F2}");

        // Ignoring the tag leaves the stored pixels: turned (and for 5–8 of the other aspect ratio, so stretched) unless N = 1.
        byte[] stored = Decoded(Fixture($"orientation-{orientation}.jpg"), options with { ApplyExifOrientation = false });
        Assert.Equal(orientation == 1, MeanAbsoluteDifference(upright, stored) < 4);
    }

    [Fact]
    public void A_large_JPEG_is_decoded_at_reduced_scale_for_a_small_output_at_a_small_pixel_cost()
    {
        using var temp = new TempDirectory();
        string path = temp.File("large.jpg");
        File.WriteAllBytes(path, TestImages.Pattern(1600, 1200, SKEncodedImageFormat.Jpeg, seed: 3));
        var options = new ImageDecodeOptions { Width = 64, Height = 64, Channels = 3 };
        // 64 px from the 1200-px side, at least twice over: 1/8 (150 px) is enough.
        Assert.Equal((200, 150), ImageDecoder.DecodedSize(File.ReadAllBytes(path), options));
        Assert.Equal((1600, 1200), ImageDecoder.DecodedSize(File.ReadAllBytes(path), options with { ReducedScaleDecoding = false }));
        Assert.Equal((600, 450), ImageDecoder.DecodedSize(File.ReadAllBytes(path), options with { Width = 224, Height = 224 })); // 3/8: 450 ≥ 2 × 224
        double difference = MeanAbsoluteDifference(Decoded(path, options), Decoded(path, options with { ReducedScaleDecoding = false }));
        Assert.True(difference < 2.5, $"mean |difference| {difference:F2} of 255");
        // A small image is decoded in full, so ML.NET's pixels are kept.
        File.WriteAllBytes(path, TestImages.Pattern(100, 90, SKEncodedImageFormat.Jpeg, seed: 3));
        Assert.Equal((100, 90), ImageDecoder.DecodedSize(File.ReadAllBytes(path), options));
    }

    [Fact]
    public void Transparency_is_composited_onto_the_background()
    {
        using var temp = new TempDirectory();
        string path = temp.File("translucent.png");
        File.WriteAllBytes(path, TestImages.Pattern(16, 16, alpha: 64));
        var options = new ImageDecodeOptions { Width = 16, Height = 16, Channels = 3, ResizeMode = ImageResizeMode.Fill };
        using var original = SKBitmap.Decode(path).Copy(SKColorType.Rgba8888);
        original.SetImmutable();
        byte[] white = Decoded(path, options), black = Decoded(path, options with { Background = RgbColor.Black });
        byte[] blue = Decoded(path, options with { Background = new RgbColor(0, 128, 255) });
        for (int i = 0; i < 256; i++)
        {
            SKColor c = original.GetPixel(i % 16, i / 16); // unpremultiplied colour, alpha 64
            byte[] rgb = [c.Red, c.Green, c.Blue];
            byte[] backgroundBlue = [0, 128, 255];
            for (int channel = 0; channel < 3; channel++)
            {
                double a = c.Alpha / 255.0;
                Assert.InRange(white[(channel * 256) + i], (rgb[channel] * a) + (255 * (1 - a)) - 2, (rgb[channel] * a) + (255 * (1 - a)) + 2);
                Assert.InRange(black[(channel * 256) + i], (rgb[channel] * a) - 2, (rgb[channel] * a) + 2);
                Assert.InRange(blue[(channel * 256) + i], (rgb[channel] * a) + (backgroundBlue[channel] * (1 - a)) - 2, (rgb[channel] * a) + (backgroundBlue[channel] * (1 - a)) + 2);
            }
        }
    }

    [Fact]
    public void WebP_and_the_first_frame_of_an_animated_GIF_decode()
    {
        var options = new ImageDecodeOptions { Width = 40, Height = 30, Channels = 3, ResizeMode = ImageResizeMode.Fill };
        Assert.Equal(Decoded(Fixture("lossless-reference.png"), options), Decoded(Fixture("lossless.webp"), options));
        byte[] gif = Decoded(Fixture("animated.gif"), options with { Width = 32, Height = 24 });
        Assert.All(gif.Take(32 * 24), r => Assert.True(r > 240)); // frame 1 is red; frames 2 and 3 (green, blue) are not used
        Assert.All(gif.Skip(32 * 24), gb => Assert.True(gb < 15));
    }

    [Theory]
    [InlineData("rgb16.png", false)]
    [InlineData("cmyk.jpg", false)]
    [InlineData("grey.jpg", true)]
    public void Sixteen_bit_PNG_CMYK_and_grey_JPEG_give_the_colours_of_the_picture(string name, bool grey)
    {
        // make_images.sh draws each from ImageMagick's 48 × 40 'gradient:red-blue': row y is red 255 (1 − y/39), blue 255 y/39;
        // the grey JPEG is its luma (Rec. 709 weights, as ImageMagick's -colorspace Gray).
        var options = new ImageDecodeOptions { Width = 48, Height = 40, Channels = 3, ResizeMode = ImageResizeMode.Fill };
        byte[] pixels = Decoded(Fixture(name), options);
        var expected = new byte[pixels.Length];
        for (int y = 0; y < 40; y++)
        {
            double red = 255 * (1 - (y / 39.0)), blue = 255 * y / 39.0, luma = (0.2126 * red) + (0.0722 * blue);
            for (int x = 0; x < 48; x++)
            {
                int i = (y * 48) + x;
                expected[i] = (byte)Math.Round(grey ? luma : red);
                expected[(48 * 40) + i] = (byte)Math.Round(grey ? luma : 0);
                expected[(2 * 48 * 40) + i] = (byte)Math.Round(grey ? luma : blue);
            }
        }
        Assert.True(MeanAbsoluteDifference(expected, pixels) < 3, $"{name}: mean |difference| {MeanAbsoluteDifference(expected, pixels):F2}");
    }

    [Theory]
    [InlineData("photo.heic", "HEIC")]
    [InlineData("photo.tiff", "TIFF")]
    public void Unsupported_formats_fail_per_file_saying_which_format(string name, string format)
    {
        var error = Assert.Throws<ImageDecodeException>(() => Decoded(Fixture(name), new ImageDecodeOptions { Width = 8, Height = 8, Channels = 3 }));
        Assert.Contains($"a {format} image", error.Reason, StringComparison.Ordinal);
        Assert.Contains("convert it to JPEG or PNG", error.Reason, StringComparison.Ordinal);
        Assert.Contains(".heic", ImageDecoder.FileExtensions);
    }

    [Fact]
    public void A_ten_by_sixteen_thousand_pixel_PNG_is_decoded_in_averaged_blocks_instead_of_refused()
    {
        // 10,000 × 16,000 grey PNG (160 megapixels, 2.5 times the default budget), made here: the top half black, the bottom
        // half white, deflated to a few hundred KB.
        using var temp = new TempDirectory();
        string path = temp.File("scan.png");
        const int Width = 10_000, Height = 16_000;
        using (var file = File.Create(path))
        {
            file.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
            var ihdr = new byte[13];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr, Width);
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), Height);
            ihdr[8] = 8; // 8-bit grey
            Chunk(file, "IHDR", ihdr);
            using var compressed = new MemoryStream();
            using (var zlib = new System.IO.Compression.ZLibStream(compressed, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
            {
                var row = new byte[Width + 1]; // filter byte 0, then the pixels
                for (int y = 0; y < Height; y++)
                {
                    row.AsSpan(1).Fill(y < Height / 2 ? (byte)0 : (byte)255);
                    zlib.Write(row);
                }
            }
            Chunk(file, "IDAT", compressed.ToArray());
            Chunk(file, "IEND", []);
        }
        var options = new ImageDecodeOptions { Width = 20, Height = 32, Channels = 3, ResizeMode = ImageResizeMode.Fill };
        (int w, int h) = ImageDecoder.DecodedSize(File.ReadAllBytes(path), options);
        Assert.True((long)w * h <= options.MaxPixels && w == 5000 && h == 8000, $"{w}x{h}");
        byte[] pixels = Decoded(path, options);
        Assert.All(pixels.Take(20 * 15), p => Assert.Equal(0, p));          // top rows of the R plane
        Assert.All(pixels.Skip(20 * 17).Take(20 * 15), p => Assert.Equal(255, p));

        // Within a smaller budget an interlaced PNG cannot be read row by row: refused, saying so.
        var small = new ImageDecodeOptions { Width = 8, Height = 8, Channels = 3, MaxPixels = 1000 };
        var error = Assert.Throws<ImageDecodeException>(() => Decoded(Fixture("interlaced.png"), small));
        Assert.Contains("interlaced", error.Reason, StringComparison.Ordinal);
        Assert.Contains("1000-pixel limit", error.Reason, StringComparison.Ordinal);

        static void Chunk(Stream stream, string type, byte[] data)
        {
            Span<byte> length = stackalloc byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
            stream.Write(length);
            byte[] typeBytes = System.Text.Encoding.ASCII.GetBytes(type);
            stream.Write(typeBytes);
            stream.Write(data);
            var crc = new System.IO.Hashing.Crc32();
            crc.Append(typeBytes);
            crc.Append(data);
            Span<byte> sum = stackalloc byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(sum, crc.GetCurrentHashAsUInt32());
            stream.Write(sum);
        }
    }

    [Fact]
    public void A_JPEG_beyond_the_memory_budget_is_decoded_at_reduced_scale_even_when_reduced_decoding_is_off()
    {
        using var temp = new TempDirectory();
        string path = temp.File("big.jpg");
        File.WriteAllBytes(path, TestImages.Pattern(2000, 1500, SKEncodedImageFormat.Jpeg, seed: 8));
        var options = new ImageDecodeOptions { Width = 32, Height = 32, Channels = 3, MaxPixels = 200_000, ReducedScaleDecoding = false };
        Assert.Equal((500, 375), ImageDecoder.DecodedSize(File.ReadAllBytes(path), options));
        Assert.Equal(options.OutputLength, Decoded(path, options).Length);
        var error = Assert.Throws<ImageDecodeException>(() => Decoded(path, options with { MaxPixels = 10_000 }));
        Assert.Contains("even at 1/8 scale", error.Reason, StringComparison.Ordinal);
        error = Assert.Throws<ImageDecodeException>(() => Decoded(path, options with { MaxSourcePixels = 1_000_000 }));
        Assert.Contains("1000000-pixel limit", error.Reason, StringComparison.Ordinal);
    }

    private sealed class Row
    {
        public string Path { get; set; } = "";
    }
}
