using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ImageRetrieval.ML.Imaging;

namespace ImageRetrieval.Benchmarks.Embedding;

/// <summary>
/// What reduced-scale decoding buys on real photographs, and what it costs in pixels: every file decoded and fitted to
/// SIZE × SIZE (shorter side, centre crop, R, G, B) by <see cref="ImageDecoder"/> with full decoding, and at reduced
/// scale keeping at least 1× and 2× the output size to resample from (the shipped setting is 2×), on one thread,
/// side by side in each run; medians over the runs. The pixel cost is the mean absolute difference (0–255) from the
/// full decode, averaged over the files, and its largest value over the files.
/// <code>dotnet run -c Release --project bench/ImageRetrieval.Benchmarks -- photo-decode --images DIR [--size 224] [--runs 3] [--limit N]</code>
/// The files are read into memory first, so the file system is not measured. Prints one JSON line.
/// </summary>
internal static class PhotoDecode
{
    public const string Command = "photo-decode";

    public static int Run(string[] args)
    {
        string Arg(string name, string fallback)
        {
            int i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }
        string folder = Arg("--images", "");
        int size = int.Parse(Arg("--size", "224"), CultureInfo.InvariantCulture);
        int runs = int.Parse(Arg("--runs", "3"), CultureInfo.InvariantCulture);
        int limit = int.Parse(Arg("--limit", "100000"), CultureInfo.InvariantCulture);
        string[] files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(f => ImageDecoder.FileExtensions.Contains(Path.GetExtension(f))).Order(StringComparer.Ordinal).Take(limit).ToArray();
        byte[][] encoded = files.Select(File.ReadAllBytes).ToArray();
        var options = new ImageDecodeOptions { Width = size, Height = size, Channels = 3 };
        var full = options with { ReducedScaleDecoding = false };
        (string Name, ImageDecodeOptions Options, double Oversampling)[] settings =
            [("full", full, 2), ("reduced-1x", options, 1), ("reduced-2x", options, 2)];

        byte[][] reference = Decode(encoded, full);
        var differences = new Dictionary<string, (double Mean, double Max)>();
        var decodedMegapixels = new Dictionary<string, double>();
        foreach (var (name, o, oversampling) in settings.Skip(1))
        {
            ImageDecoder.ReducedScaleOversampling = oversampling;
            byte[][] pixels = Decode(encoded, o);
            double[] perFile = pixels.Select((p, i) => p.Zip(reference[i], (a, b) => (double)Math.Abs(a - b)).Average()).ToArray();
            differences[name] = (perFile.Average(), perFile.Max());
            decodedMegapixels[name] = encoded.Average(e => { var (w, h) = ImageDecoder.DecodedSize(e, o); return w * (double)h / 1e6; });
        }
        decodedMegapixels["full"] = encoded.Average(e => { var (w, h) = ImageDecoder.DecodedSize(e, full); return w * (double)h / 1e6; });

        var rates = settings.ToDictionary(s => s.Name, _ => new List<double>());
        for (int run = 0; run < runs; run++)
        {
            foreach (var (name, o, oversampling) in settings)
            {
                ImageDecoder.ReducedScaleOversampling = oversampling;
                GC.Collect();
                var watch = Stopwatch.StartNew();
                Decode(encoded, o);
                rates[name].Add(encoded.Length / watch.Elapsed.TotalSeconds);
            }
        }
        ImageDecoder.ReducedScaleOversampling = 2;
        double Median(List<double> v) => v.Order().ElementAt(v.Count / 2);
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            images = files.Length,
            mean_file_megabytes = encoded.Average(e => e.Length) / 1e6,
            size,
            runs,
            images_per_second = rates.ToDictionary(p => p.Key, p => Median(p.Value)),
            speedup_reduced_2x = Median(rates["reduced-2x"]) / Median(rates["full"]),
            speedup_reduced_1x = Median(rates["reduced-1x"]) / Median(rates["full"]),
            decoded_megapixels = decodedMegapixels,
            mean_abs_difference = differences.ToDictionary(p => p.Key, p => p.Value.Mean),
            max_file_mean_abs_difference = differences.ToDictionary(p => p.Key, p => p.Value.Max),
            per_run = rates,
        }));
        return 0;
    }

    private static byte[][] Decode(byte[][] encoded, ImageDecodeOptions options)
    {
        var result = new byte[encoded.Length][];
        for (int i = 0; i < encoded.Length; i++)
        {
            result[i] = new byte[options.OutputLength];
            ImageDecoder.Decode(encoded[i], options, result[i], $"#{i}");
        }
        return result;
    }
}
