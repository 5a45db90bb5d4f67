using System.CommandLine;
using System.Globalization;
using ImageRetrieval.Cli.Output;
using ImageRetrieval.Cli.Services;
using ImageRetrieval.Datasets;
using ImageRetrieval.ML.Embedding;
using Spectre.Console;

namespace ImageRetrieval.Cli.Commands;

/// <summary><c>imgret bench-embed</c>: the embedding benchmark of <see cref="EmbeddingBenchmark"/>, as a table or JSON.</summary>
internal static class BenchEmbedCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = ModelArgument.Description("Embedding model") };
        var images = new Option<string?>("--images") { Description = "Folder of images (PNG, JPEG, BMP, WebP, GIF; sub-folders included) to embed." };
        var writeMnist = new Option<string?>("--write-fashion-mnist") { Description = "First write the Fashion-MNIST test split (10,000 images) as PNG files into this folder; used as --images when that is not given." };
        var data = new Option<string?>("--data") { Description = $"Fashion-MNIST folder for --write-fashion-mnist (default: ${FashionMnist.DataEnvironmentVariable}, then {FashionMnist.DebianDirectory})." };
        var limit = new Option<int>("--limit") { Description = "Use at most this many images.", DefaultValueFactory = _ => 10_000 };
        var mlnetLimit = new Option<int>("--mlnet-limit") { Description = "Images for the (slow) plain ML.NET chain per run; its rate is images/s either way.", DefaultValueFactory = _ => 2_000 };
        var batch = new Option<int>("--batch-size") { Description = "Images per ONNX Runtime call (batched path).", DefaultValueFactory = _ => ImageEmbedderOptions.Defaults.BatchSize };
        var decodeThreads = new Option<int>("--decode-threads") { Description = "Parallel decode workers (batched path and decode-only).", DefaultValueFactory = _ => ImageEmbedderOptions.Defaults.DecodeParallelism };
        var intraOp = new Option<int>("--intra-op-threads") { Description = "ONNX Runtime intra-op threads (every measure).", DefaultValueFactory = _ => ImageEmbedderOptions.Defaults.IntraOpNumThreads };
        var runs = new Option<int>("--runs") { Description = "Side-by-side runs; medians are reported.", DefaultValueFactory = _ => 3 };
        var gpu = new Option<int?>("--gpu") { Description = "CUDA device id (falls back to the CPU if unavailable)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table." };

        var command = new Command("bench-embed", "Benchmark image embedding: plain ML.NET chain vs batched embedder vs compute-only vs decode-only.")
        {
            model, images, writeMnist, data, limit, mlnetLimit, batch, decodeThreads, intraOp, runs, gpu, json,
        };
        command.SetAction(parse => CliOutput.Run(() =>
        {
            bool asJson = parse.GetValue(json);
            string? folder = parse.GetValue(images);
            string? mnistOut = parse.GetValue(writeMnist);
            if (mnistOut is not null)
            {
                int written = EmbeddingBenchmark.WriteFashionMnist(mnistOut, parse.GetValue(data), parse.GetValue(limit));
                if (!asJson)
                {
                    AnsiConsole.MarkupLineInterpolated($"Wrote {written} Fashion-MNIST test images as PNG to [green]{mnistOut}[/].");
                }
                folder ??= mnistOut;
            }
            string? modelPath = parse.GetValue(model);
            if (modelPath is null)
            {
                if (mnistOut is not null)
                {
                    return 0;
                }
                throw new ArgumentException("--model is required (unless only --write-fashion-mnist is given).");
            }
            if (folder is null)
            {
                throw new ArgumentException("--images (or --write-fashion-mnist) is required.");
            }
            var settings = new EmbeddingBenchmark.Settings(ModelArgument.Resolve(modelPath), folder, parse.GetValue(limit), parse.GetValue(mlnetLimit), parse.GetValue(batch),
                parse.GetValue(decodeThreads), parse.GetValue(intraOp), Math.Max(1, parse.GetValue(runs)), parse.GetValue(gpu));
            EmbeddingBenchmark.Report report = EmbeddingBenchmark.Run(settings, asJson ? null : message => AnsiConsole.MarkupLineInterpolated($"[grey]{message}[/]"));
            if (asJson)
            {
                CliOutput.WriteJson(report, CliJsonContext.Default.Report);
            }
            else
            {
                Print(report);
            }
            return 0;
        }));
        return command;
    }

    private static void Print(EmbeddingBenchmark.Report r)
    {
        var table = new Table().AddColumn("measure").AddColumn(new TableColumn("images/s").RightAligned());
        table.AddRow("plain ML.NET chain (row by row)", r.MlnetImagesPerSecond.ToString("F0", CultureInfo.InvariantCulture));
        table.AddRow("batched embedder (files)", r.BatchedImagesPerSecond.ToString("F0", CultureInfo.InvariantCulture));
        table.AddRow("batched embedder (in-memory bytes)", r.BatchedMemoryImagesPerSecond.ToString("F0", CultureInfo.InvariantCulture));
        table.AddRow("ONNX Runtime compute only", r.ComputeOnlyImagesPerSecond.ToString("F0", CultureInfo.InvariantCulture));
        table.AddRow("decode + resize only", r.DecodeOnlyImagesPerSecond.ToString("F0", CultureInfo.InvariantCulture));
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLineInterpolated(
            $"batched / ML.NET = [green]{r.SpeedupVsMlnet:F2}x[/] (median of per-run ratios); batched / min(compute, decode) = [green]{r.FractionOfBound:P0}[/]; {r.ExecutionProvider}; {r.Cpu}");
    }

}
