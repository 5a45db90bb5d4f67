using ImageRetrieval.Datasets;
using SkiaSharp;

namespace ImageRetrieval.Tests;

/// <summary>
/// A miniature Oxford 102 Flowers folder in a temporary directory: 3 classes (numbers 1–3) of 9 colour
/// JPEGs each (4 in trnid, 2 in valid, 3 in tstid), of varied sizes, with imagelabels.mat and setid.mat
/// written as uncompressed Level 5 MAT-files by <see cref="MatBuilder"/>. One training image is not a JPEG.
/// </summary>
internal sealed class TinyOxford102 : IDisposable
{
    public const int Classes = 3;
    public const int PerClass = 9;
    public const int TrainPerClass = 4;
    public const int ValidationPerClass = 2;

    /// <summary>The training image whose bytes are not an image (class 2's first).</summary>
    public const int CorruptId = PerClass + 1;

    private readonly TempDirectory _directory = new();

    private TinyOxford102()
    {
    }

    public string Path => _directory.Path;

    public string CorruptPath => Oxford102Flowers.ImagePath(Path, CorruptId);

    public string File(string name) => _directory.File(name);

    public static TinyOxford102 Create()
    {
        var layout = new TinyOxford102();
        Directory.CreateDirectory(layout.File(Oxford102Flowers.ImageFolder));
        var random = new Random(11);
        var labels = new List<double>();
        var train = new List<double>();
        var validation = new List<double>();
        var test = new List<double>();
        SKColor[] colours = [new(200, 50, 40), new(40, 170, 60), new(50, 60, 200)];
        for (int c = 0; c < Classes; c++)
        {
            for (int j = 0; j < PerClass; j++)
            {
                int id = (c * PerClass) + j + 1;
                labels.Add(c + 1);
                (j < TrainPerClass ? train : j < TrainPerClass + ValidationPerClass ? validation : test).Add(id);
                string path = Oxford102Flowers.ImagePath(layout.Path, id);
                if (id == CorruptId)
                {
                    System.IO.File.WriteAllText(path, "not a JPEG");
                    continue;
                }
                System.IO.File.WriteAllBytes(path, Jpeg(48 + (j * 4), 40 + ((PerClass - j) * 3), colours[c], random));
            }
        }
        System.IO.File.WriteAllBytes(layout.File(Oxford102Flowers.LabelsFile), MatBuilder.File(Vector("labels", labels)));
        System.IO.File.WriteAllBytes(layout.File(Oxford102Flowers.SplitsFile), MatBuilder.File(Vector("trnid", train), Vector("valid", validation), Vector("tstid", test)));
        return layout;
    }

    public void Dispose() => _directory.Dispose();

    // A 1×N double row vector, as scipy.io.savemat and MATLAB write imagelabels.mat and setid.mat.
    private static byte[] Vector(string name, List<double> values) => MatBuilder.Matrix(name, [1, values.Count], [.. values]);

    // A noisy field of the class colour with a lighter disc whose place varies: distinct classes, varied images.
    private static byte[] Jpeg(int width, int height, SKColor colour, Random random)
    {
        using var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        int cx = random.Next(width), cy = random.Next(height), radius = Math.Min(width, height) / 3;
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int lift = ((x - cx) * (x - cx)) + ((y - cy) * (y - cy)) < radius * radius ? 50 : 0;
                bitmap.SetPixel(x, y, new SKColor(
                    Channel(colour.Red + lift, random), Channel(colour.Green + lift, random), Channel(colour.Blue + lift, random)));
            }
        }
        using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, 90);
        return data.ToArray();
    }

    private static byte Channel(int value, Random random) => (byte)Math.Clamp(value + random.Next(-30, 31), 0, 255);
}
