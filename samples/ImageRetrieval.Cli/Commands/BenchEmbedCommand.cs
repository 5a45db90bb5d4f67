using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using ImageRetrieval.ML.Datasets;
using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Imaging;
using Microsoft.ML;
using Microsoft.ML.Data;
using SkiaSharp;
using Spectre.Console;

namespace ImageRetrieval.Cli.Commands;

/// <summary>
/// <c>imgret bench-embed</c>: images per second of the plain ML.NET chain (row by row), the batched embedder
/// (files and in-memory bytes), ONNX Runtime compute alone (pre-decoded tensors) and decode + resize alone,
/// measured side by side in each run; medians over the runs.
/// </summary>
internal static class BenchEmbedCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "ONNX embedding model with imageretrieval.* metadata." };
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
                int written = WriteFashionMnist(mnistOut, parse.GetValue(data), parse.GetValue(limit));
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
            var settings = new Settings(modelPath, folder, parse.GetValue(limit), parse.GetValue(mlnetLimit), parse.GetValue(batch),
                parse.GetValue(decodeThreads), parse.GetValue(intraOp), Math.Max(1, parse.GetValue(runs)), parse.GetValue(gpu));
            Report report = Run(settings, asJson ? null : message => AnsiConsole.MarkupLineInterpolated($"[grey]{message}[/]"));
            if (asJson)
            {
                CliOutput.WriteJson(report);
            }
            else
            {
                Print(report);
            }
            return 0;
        }));
        return command;
    }

    internal sealed record Settings(string Model, string Images, int Limit, int MLNetLimit, int BatchSize, int DecodeThreads, int IntraOpThreads, int Runs, int? Gpu);

    internal sealed record Report(
        double MlnetImagesPerSecond,
        double BatchedImagesPerSecond,
        double BatchedMemoryImagesPerSecond,
        double ComputeOnlyImagesPerSecond,
        double DecodeOnlyImagesPerSecond,
        double SpeedupVsMlnet,
        double FractionOfBound,
        string ExecutionProvider,
        string? GpuFallbackReason,
        string Model,
        int Images,
        int MlnetImages,
        int BatchSize,
        int DecodeThreads,
        int IntraOpThreads,
        int Runs,
        string Cpu,
        double[][] PerRun);

    internal static Report Run(Settings s, Action<string>? log)
    {
        // Recursive, so a gallery in the one-sub-folder-per-class layout (imgret export-images) works as is.
        string[] files = Directory.EnumerateFiles(s.Images, "*", SearchOption.AllDirectories)
            .Where(f => ImageRetrieval.ML.Datasets.ImageFolderDataset.Extensions.Contains(Path.GetExtension(f)))
            .Order(StringComparer.Ordinal).Take(s.Limit).ToArray();
        if (files.Length == 0)
        {
            throw new ArgumentException($"No image files ({string.Join(", ", ImageRetrieval.ML.Datasets.ImageFolderDataset.Extensions.Order(StringComparer.Ordinal))}) in '{s.Images}' or its sub-folders.");
        }
        string[] mlnetFiles = files.Take(Math.Max(1, s.MLNetLimit)).ToArray();
        var options = new ImageEmbedderOptions
        {
            BatchSize = s.BatchSize,
            DecodeParallelism = s.DecodeThreads,
            IntraOpNumThreads = s.IntraOpThreads,
            InterOpNumThreads = 1,
            GpuDeviceId = s.Gpu,
        };
        using var embedder = new ImageEmbedder(s.Model, options);
        byte[][] encoded = files.Select(File.ReadAllBytes).ToArray();
        ReadOnlyMemory<byte>[] memory = encoded.Select(b => (ReadOnlyMemory<byte>)b).ToArray();
        log?.Invoke($"{files.Length} images, model {Path.GetFileName(s.Model)} ({embedder.Metadata.InputChannels}x{embedder.Metadata.InputHeight}x{embedder.Metadata.InputWidth} -> {embedder.Dimension}), {embedder.ExecutionProvider}, batch {embedder.BatchSize}, decode threads {s.DecodeThreads}, ORT intra-op {s.IntraOpThreads}");

        // Pre-decoded tensors for compute-only, decoded once outside the timings.
        int length = embedder.ImageLength;
        var pixels = new float[(long)files.Length * length];
        Parallel.For(0, files.Length, new ParallelOptions { MaxDegreeOfParallelism = s.DecodeThreads },
            i => ImageDecoder.Decode(encoded[i], embedder.DecodeOptions, pixels.AsSpan(i * length, length), embedder.Metadata.PixelScale, files[i]));
        var vectors = new float[(long)files.Length * embedder.Dimension];

        var ml = new MLContext(1);
        IDataView rows = ml.Data.LoadFromEnumerable(mlnetFiles.Select(f => new PathRow { ImagePath = f }));
        using var chain = (TransformerChain<ITransformer>)ml.Transforms.EmbedImages(new ImageEmbeddingOptions
        {
            OutputColumnName = "Embedding",
            InputColumnName = nameof(PathRow.ImagePath),
            ModelPath = s.Model,
            IntraOpNumThreads = s.IntraOpThreads,
            InterOpNumThreads = 1,
            GpuDeviceId = s.Gpu,
        }).Fit(rows);

        // Warm-up: JIT, ORT allocations, file cache.
        Rate(() => Consume(chain.Transform(ml.Data.TakeRows(rows, 50))), 50);
        embedder.EmbedFiles(files.Take(Math.Min(files.Length, 4 * s.BatchSize)).ToArray());
        embedder.EmbedPixels(pixels.AsSpan(0, Math.Min(files.Length, 4 * s.BatchSize) * length), Math.Min(files.Length, 4 * s.BatchSize), vectors);

        var perRun = new List<double[]>();
        for (int run = 0; run < s.Runs; run++)
        {
            double mlnet = Rate(() => Consume(chain.Transform(rows)), mlnetFiles.Length);
            double batched = Rate(() => embedder.EmbedFiles(files), files.Length);
            double batchedMemory = Rate(() => embedder.EmbedImages(memory), files.Length);
            double compute = Rate(() => embedder.EmbedPixels(pixels, files.Length, vectors), files.Length);
            double decode = Rate(() => DecodeOnly(files, embedder, s.DecodeThreads, s.BatchSize), files.Length);
            perRun.Add([mlnet, batched, batchedMemory, compute, decode]);
            log?.Invoke(string.Create(CultureInfo.InvariantCulture,
                $"run {run + 1}/{s.Runs}: ML.NET {mlnet:F0}/s, batched {batched:F0}/s (memory {batchedMemory:F0}/s), compute-only {compute:F0}/s, decode-only {decode:F0}/s"));
        }
        double Median(int k) => MedianOf(perRun.Select(r => r[k]));
        double bound = Math.Min(Median(3), Median(4));
        return new Report(
            Median(0), Median(1), Median(2), Median(3), Median(4),
            MedianOf(perRun.Select(r => r[1] / r[0])),
            Median(1) / bound,
            embedder.ExecutionProvider.Name,
            embedder.ExecutionProvider.FallbackReason,
            Path.GetFileName(s.Model),
            files.Length,
            mlnetFiles.Length,
            embedder.BatchSize,
            s.DecodeThreads,
            s.IntraOpThreads,
            s.Runs,
            CpuModel(),
            [.. perRun]);
    }

    /// <summary>Decode + resize alone: the batched path's decode stage (same workers, same per-batch buffers), without the model.</summary>
    private static void DecodeOnly(string[] files, ImageEmbedder embedder, int threads, int batchSize)
    {
        int length = embedder.ImageLength;
        var buffer = new float[batchSize * length];
        for (int start = 0; start < files.Length; start += batchSize)
        {
            int n = Math.Min(batchSize, files.Length - start);
            int first = start;
            Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = threads },
                i => ImageDecoder.DecodeFile(files[first + i], embedder.DecodeOptions, buffer.AsSpan(i * length, length), embedder.Metadata.PixelScale));
        }
    }

    private static void Consume(IDataView view)
    {
        using DataViewRowCursor cursor = view.GetRowCursor([view.Schema["Embedding"]]);
        ValueGetter<VBuffer<float>> get = cursor.GetGetter<VBuffer<float>>(view.Schema["Embedding"]);
        VBuffer<float> value = default;
        while (cursor.MoveNext())
        {
            get(ref value);
        }
    }

    private static double Rate(Action action, int images)
    {
        // Settle the previous measure's garbage first: ML.NET's chain leaves images to finalizers, which would
        // otherwise run during (and be billed to) the next measure.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var watch = Stopwatch.StartNew();
        action();
        return images / watch.Elapsed.TotalSeconds;
    }

    private static double MedianOf(IEnumerable<double> values)
    {
        double[] sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static string CpuModel()
    {
        try
        {
            string? line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return $"{line?.Split(':', 2)[1].Trim() ?? "unknown"} x {Environment.ProcessorCount}";
        }
        catch (IOException)
        {
            return $"unknown x {Environment.ProcessorCount}";
        }
    }

    /// <summary>Writes the Fashion-MNIST test split as 8-bit grey PNG files named <c>00000.png</c>...</summary>
    internal static int WriteFashionMnist(string folder, string? dataDirectory, int limit)
    {
        LabeledImageSet set = FashionMnist.Load(FashionMnist.Split.Test, dataDirectory, limit);
        Directory.CreateDirectory(folder);
        Parallel.For(0, set.Count, i =>
        {
            using var bitmap = new SKBitmap(new SKImageInfo(set.Width, set.Height, SKColorType.Gray8, SKAlphaType.Opaque));
            byte[] image = set.GetImage(i).ToArray();
            for (int y = 0; y < set.Height; y++)
            {
                System.Runtime.InteropServices.Marshal.Copy(image, y * set.Width, bitmap.GetPixels() + (y * bitmap.RowBytes), set.Width);
            }
            using SKData png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(Path.Combine(folder, i.ToString("D5", CultureInfo.InvariantCulture) + ".png"), png.ToArray());
        });
        return set.Count;
    }

    private static void Print(Report r)
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

    private sealed class PathRow
    {
        public string ImagePath { get; set; } = "";
    }
}
