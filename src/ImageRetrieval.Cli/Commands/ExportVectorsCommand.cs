using System.CommandLine;
using System.Diagnostics;
using ImageRetrieval.Cli.Output;
using ImageRetrieval.Datasets;
using ImageRetrieval.Datasets.Vectors;
using ImageRetrieval.IO;
using Spectre.Console;

namespace ImageRetrieval.Cli.Commands;

/// <summary><c>imgret export-vectors</c>: writes a dataset's raw pixels as TEXMEX <c>.fvecs</c> (what ann-benchmarks' fashion-mnist-784-euclidean holds).</summary>
internal static class ExportVectorsCommand
{
    public static Command Create()
    {
        var dataset = new Option<string>("--dataset") { Description = "Dataset to export.", DefaultValueFactory = _ => "fashion-mnist" };
        dataset.AcceptOnlyFromAmong("fashion-mnist");
        var data = new Option<string?>("--data") { Description = $"Fashion-MNIST folder (default: ${FashionMnist.DataEnvironmentVariable}, then {FashionMnist.DebianDirectory})." };
        var split = new Option<string>("--split") { Description = "train (60,000 images) or test (10,000).", DefaultValueFactory = _ => "train" };
        split.AcceptOnlyFromAmong("train", "test");
        var output = new Option<string>("--out") { Description = "Destination .fvecs file.", Required = true };
        var labels = new Option<string?>("--labels-out") { Description = "Also write the labels, one per line." };
        var limit = new Option<int>("--limit") { Description = "Export only the first N images.", DefaultValueFactory = _ => int.MaxValue };

        var command = new Command("export-vectors", "Write a dataset's raw pixels (0–255 floats, one vector per image) as a TEXMEX .fvecs file.")
        {
            dataset, data, split, output, labels, limit,
        };
        command.SetAction(parse => CliOutput.Run(() =>
        {
            var watch = Stopwatch.StartNew();
            var which = parse.GetValue(split) == "test" ? FashionMnist.Split.Test : FashionMnist.Split.Train;
            LabeledImageSet set = FashionMnist.Load(which, parse.GetValue(data), parse.GetValue(limit));
            var values = new float[(long)set.Count * set.ImageSize];
            ReadOnlySpan<byte> pixels = set.Pixels;
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = pixels[i];
            }
            string path = parse.GetValue(output)!;
            TexmexFormat.WriteFvecs(path, values, set.ImageSize);
            string? labelPath = parse.GetValue(labels);
            if (labelPath is not null)
            {
                AtomicFile.WriteAllLines(labelPath, set.Labels.ToArray().Select(l => l.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            }
            AnsiConsole.MarkupLineInterpolated($"Wrote {set.Count} vectors of {set.ImageSize}-d from {set.Name} to [green]{path}[/] in {watch.Elapsed.TotalSeconds:F1} s.");
            return 0;
        }));
        return command;
    }
}
