using System.Diagnostics;
using System.Globalization;
using ImageRetrieval.Cli.Output;
using ImageRetrieval.Datasets;
using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Imaging;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace ImageRetrieval.Cli.Services;

/// <summary>
/// <c>imgret bench-embed</c>'s measurement: images per second of the plain ML.NET chain (row by row), the batched embedder
/// (files and in-memory bytes), ONNX Runtime compute alone (pre-decoded tensors) and decode + resize alone, measured side
/// by side in each run; medians over the runs.
/// </summary>
internal static class EmbeddingBenchmark
{
    public sealed record Settings(string Model, string Images, int Limit, int MLNetLimit, int BatchSize, int DecodeThreads, int IntraOpThreads, int Runs, int? Gpu);

    public sealed record Report(
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

    public static Report Run(Settings s, Action<string>? log)
    {
        // Recursive, so a gallery in the one-sub-folder-per-class layout (imgret export-images) works as is.
        string[] files = Directory.EnumerateFiles(s.Images, "*", SearchOption.AllDirectories)
            .Where(f => ImageDecoder.FileExtensions.Contains(Path.GetExtension(f)))
            .Order(StringComparer.Ordinal).Take(s.Limit).ToArray();
        if (files.Length == 0)
        {
            throw new ArgumentException($"No image files ({string.Join(", ", ImageDecoder.FileExtensions.Order(StringComparer.Ordinal))}) in '{s.Images}' or its sub-folders.");
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
        using var embedder = new ImageEmbedder(s.Model, options, ConsoleLogger.Instance);
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

    /// <summary>Writes the Fashion-MNIST test split as 8-bit grey PNG files named <c>00000.png</c>... (one flat folder).</summary>
    public static int WriteFashionMnist(string folder, string? dataDirectory, int limit)
    {
        LabeledImageSet set = FashionMnist.Load(FashionMnist.Split.Test, dataDirectory, limit);
        Directory.CreateDirectory(folder);
        Parallel.For(0, set.Count, i =>
            File.WriteAllBytes(Path.Combine(folder, i.ToString("D5", CultureInfo.InvariantCulture) + ".png"), ImageFolderWriter.EncodePng(set, i)));
        return set.Count;
    }

    private sealed class PathRow
    {
        public string ImagePath { get; set; } = "";
    }
}
