using System.CommandLine;
using System.Diagnostics;
using ImageRetrieval.Cli.Output;
using ImageRetrieval.Datasets;
using Spectre.Console;

namespace ImageRetrieval.Cli.Commands;

/// <summary><c>imgret export-images</c>: writes dataset images as PNG files in one-folder-per-class layout (galleries and query sets for <c>index</c>, <c>search</c>, <c>eval</c>).</summary>
internal static class ExportImagesCommand
{
    public static Command Create()
    {
        var data = new Option<string?>("--data") { Description = $"Fashion-MNIST folder (default: ${FashionMnist.DataEnvironmentVariable}, then {FashionMnist.DebianDirectory})." };
        var split = new Option<string>("--split") { Description = "train (60,000 images) or test (10,000).", DefaultValueFactory = _ => "test" };
        split.AcceptOnlyFromAmong("train", "test");
        var output = new Option<string>("--out") { Description = "Destination folder (one sub-folder per class).", Required = true };
        var start = new Option<int>("--start") { Description = "First image index to consider.", DefaultValueFactory = _ => 0 };
        var count = new Option<int>("--count") { Description = "Number of images to consider from --start.", DefaultValueFactory = _ => int.MaxValue };
        var perClass = new Option<int>("--per-class") { Description = "Write at most N images of each class (the first ones in range).", DefaultValueFactory = _ => int.MaxValue };

        var command = new Command("export-images", "Write Fashion-MNIST images as PNG files, one sub-folder per class.")
        {
            data, split, output, start, count, perClass,
        };
        command.SetAction(parse => CliOutput.Run(() =>
        {
            var watch = Stopwatch.StartNew();
            var which = parse.GetValue(split) == "test" ? FashionMnist.Split.Test : FashionMnist.Split.Train;
            LabeledImageSet set = FashionMnist.Load(which, parse.GetValue(data));
            int first = Math.Clamp(parse.GetValue(start), 0, set.Count);
            int end = (int)Math.Min((long)first + parse.GetValue(count), set.Count);
            int limit = parse.GetValue(perClass);
            var taken = new int[set.ClassCount];
            var indices = new List<int>();
            for (int i = first; i < end; i++)
            {
                int label = set.GetLabel(i);
                if (taken[label] < limit)
                {
                    taken[label]++;
                    indices.Add(i);
                }
            }
            string prefix = which == FashionMnist.Split.Test ? "test-" : "train-";
            var paths = ImageFolderWriter.WritePng(set, parse.GetValue(output)!, indices, prefix);
            AnsiConsole.MarkupLineInterpolated($"Wrote {paths.Count} PNG files from {set.Name} to [green]{parse.GetValue(output)}[/] in {watch.Elapsed.TotalSeconds:F1} s.");
            return 0;
        }));
        return command;
    }
}
