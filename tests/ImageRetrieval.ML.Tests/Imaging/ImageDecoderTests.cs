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
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var error = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(bomb, options, new float[784], source: "bomb.png"));
        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - before < 1 << 20);
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

    private sealed class Row
    {
        public string Path { get; set; } = "";
    }
}
