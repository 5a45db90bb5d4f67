using ImageRetrieval.Datasets;
using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Imaging;
using Microsoft.Extensions.Logging;
using Microsoft.ML;
using Microsoft.ML.Data;
using SkiaSharp;

namespace ImageRetrieval.ML.Tests.Embedding;

public class ImageEmbedderTests(EmbeddingFixture fixture) : IClassFixture<EmbeddingFixture>
{
    private sealed class PathRow
    {
        public string ImagePath { get; set; } = "";
    }

    private float[][] MLNetChain(string model, IReadOnlyList<string> paths)
    {
        var ml = new MLContext(1);
        IDataView data = ml.Data.LoadFromEnumerable(paths.Select(p => new PathRow { ImagePath = p }));
        using var chain = (TransformerChain<ITransformer>)ml.Transforms.EmbedImages("Embedding", model, inputColumnName: "ImagePath").Fit(data);
        return chain.Transform(data).GetColumn<float[]>("Embedding").ToArray();
    }

    [Fact]
    public void Batched_vectors_equal_the_MLNet_chain_on_real_Fashion_MNIST_pngs()
    {
        float[][] expected = MLNetChain(fixture.GreyModel, fixture.ImagePaths);
        // 64 images, batch 24: two full batches and a partial one, decode overlapping the model.
        using var embedder = new ImageEmbedder(fixture.GreyModel, new ImageEmbedderOptions { BatchSize = 24, DecodeParallelism = 2 });
        var reports = new List<ImageEmbeddingProgress>();
        ImageEmbeddingResult result = embedder.EmbedFiles(fixture.ImagePaths, new SyncProgress(reports));
        Assert.Equal(64, result.Count);
        Assert.Empty(result.Errors);
        for (int i = 0; i < expected.Length; i++)
        {
            VectorAssert.Close(expected[i], result[i]);
        }
        Assert.Equal([24, 48, 64], reports.Select(r => r.Completed));
        Assert.All(reports, r => Assert.Equal(64, r.Total));
    }

    [Fact]
    public void Files_bytes_streams_single_images_and_batch_sizes_agree()
    {
        using var batched = new ImageEmbedder(fixture.GreyModel, new ImageEmbedderOptions { BatchSize = 16, DecodeParallelism = 2 });
        using var single = new ImageEmbedder(fixture.GreyModel, new ImageEmbedderOptions { BatchSize = 1, DecodeParallelism = 1 });
        var paths = fixture.ImagePaths.Take(20).ToArray();
        byte[][] encoded = paths.Select(File.ReadAllBytes).ToArray();

        ImageEmbeddingResult files = batched.EmbedFiles(paths);
        ImageEmbeddingResult bytes = batched.EmbedImages(encoded.Select(b => (ReadOnlyMemory<byte>)b).ToArray());
        ImageEmbeddingResult streams = batched.EmbedStreams(encoded.Select(b => (Stream)new MemoryStream(b)).ToArray());
        ImageEmbeddingResult one = single.EmbedFiles(paths);
        for (int i = 0; i < paths.Length; i++)
        {
            Assert.Equal(files.GetVector(i), bytes.GetVector(i));
            Assert.Equal(files.GetVector(i), streams.GetVector(i));
            VectorAssert.Close(files[i], one[i]);
            VectorAssert.Close(files[i], batched.Embed(paths[i]));
            VectorAssert.Close(files[i], batched.Embed(encoded[i]));
            VectorAssert.Close(files[i], batched.Embed(new MemoryStream(encoded[i])));
        }
    }

    [Fact]
    public void Pre_decoded_pixels_and_labeled_sets_embed_like_the_decoded_pngs()
    {
        using var embedder = new ImageEmbedder(fixture.GreyModel, new ImageEmbedderOptions { BatchSize = 10 });
        float[] fromSet = embedder.EmbedImageSet(fixture.Set);
        ImageEmbeddingResult fromFiles = embedder.EmbedFiles(fixture.ImagePaths);
        VectorAssert.Close(fromFiles.Vectors, fromSet);
        Assert.Equal(fromSet, embedder.EmbedPixels(fixture.Set.Pixels, fixture.Set.Count));
        Assert.Throws<ArgumentException>(() => embedder.EmbedPixels(fixture.Set.Pixels[..100], 1));

        float scale = embedder.Metadata.PixelScale;
        float[] planar = fixture.Set.Pixels.ToArray().Select(b => b * scale).ToArray();
        var destination = new float[fixture.Set.Count * embedder.Dimension];
        embedder.EmbedPixels(planar, fixture.Set.Count, destination);
        Assert.Equal(fromSet, destination);

        var wrongGeometry = new ImageRetrieval.Datasets.LabeledImageSet("rgb", new byte[3 * 28 * 28], [0], 3, 28, 28, ["a"]);
        Assert.Throws<ArgumentException>(() => embedder.EmbedImageSet(wrongGeometry));
    }

    [Fact]
    public void Bad_images_throw_naming_the_file_or_are_skipped_and_reported()
    {
        using var temp = new TempDirectory();
        byte[] png = TestImages.Pattern(64, 64);
        byte[] jpeg = TestImages.Pattern(64, 64, SKEncodedImageFormat.Jpeg);
        var bad = new Dictionary<string, Action<string>>
        {
            ["missing.png"] = _ => { },
            ["empty.png"] = p => File.WriteAllBytes(p, []),
            ["text.jpg"] = p => File.WriteAllText(p, "not an image, just text named .jpg"),
            ["truncated.png"] = p => File.WriteAllBytes(p, png[..(png.Length / 2)]),
            ["truncated.jpg"] = p => File.WriteAllBytes(p, jpeg[..(jpeg.Length / 2)]),
            ["bomb.png"] = p => File.WriteAllBytes(p, TestImages.PngDeclaring(50_000, 50_000)),
        };
        var paths = new List<string>();
        var badIndices = new List<int>();
        int next = 0;
        foreach (var (name, write) in bad)
        {
            paths.Add(fixture.ImagePaths[next++]);
            paths.Add(fixture.ImagePaths[next++]);
            string path = temp.File(name);
            write(path);
            badIndices.Add(paths.Count);
            paths.Add(path);
        }

        using var throwing = new ImageEmbedder(fixture.GreyModel, new ImageEmbedderOptions { BatchSize = 4, DecodeParallelism = 2 });
        var error = Assert.Throws<ImageDecodeException>(() => throwing.EmbedFiles(paths));
        Assert.Equal(paths[badIndices[0]], error.ImageSource);
        Assert.Contains("missing.png", error.Message, StringComparison.Ordinal);

        using var skipping = new ImageEmbedder(fixture.GreyModel, new ImageEmbedderOptions { BatchSize = 4, DecodeParallelism = 2, OnError = ImageErrorPolicy.Skip });
        ImageEmbeddingResult result = skipping.EmbedFiles(paths);
        Assert.Equal(badIndices.Select(i => (long)i), result.Errors.Select(e => e.Index));
        Assert.Equal(badIndices.Select(i => paths[i]), result.Errors.Select(e => e.Source));
        Assert.Contains("does not exist", result.Errors[0].Reason, StringComparison.Ordinal);
        Assert.Contains("empty", result.Errors[1].Reason, StringComparison.Ordinal);
        Assert.Contains("truncated", result.Errors[3].Reason, StringComparison.Ordinal);
        Assert.Contains("50000x50000", result.Errors[5].Reason, StringComparison.Ordinal);
        Assert.Equal(paths.Count - bad.Count, result.SucceededCount);
        for (int i = 0; i < paths.Count; i++)
        {
            if (badIndices.Contains(i))
            {
                Assert.False(result.Succeeded(i));
                Assert.All(result.GetVector(i), v => Assert.Equal(0f, v));
            }
            else
            {
                Assert.True(result.Succeeded(i));
                VectorAssert.Close(skipping.Embed(paths[i]), result[i]);
            }
        }
    }

    [Theory]
    [InlineData("rgb16.png")]
    [InlineData("palette.png")]
    [InlineData("rgba16-alpha.png")]
    [InlineData("grey.jpg")]
    [InlineData("cmyk.jpg")]
    public void Unusual_encodings_embed_like_the_MLNet_chain(string name)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "fixtures", "images", name);
        Assert.True(File.Exists(path), path);
        float[] expected = MLNetChain(fixture.ColourModel, [path])[0];
        // ML.NET's chain leaves premultiplied colours (transparency on black); the embedder composites onto white unless told otherwise.
        using var embedder = new ImageEmbedder(fixture.ColourModel, new ImageEmbedderOptions { Background = RgbColor.Black });
        VectorAssert.Close(expected, embedder.Embed(path));
        VectorAssert.Close(expected, embedder.EmbedFiles([path])[0]);
    }

    [Fact]
    public void Cancellation_stops_the_run()
    {
        using var embedder = new ImageEmbedder(fixture.GreyModel, new ImageEmbedderOptions { BatchSize = 4 });
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => embedder.EmbedFiles(fixture.ImagePaths, cancellationToken: cts.Token));
        Assert.Equal(0, embedder.EmbedFiles([]).Count);
    }

    [Fact]
    public void A_batch_scored_while_the_run_is_cancelled_is_still_handed_over()
    {
        using var embedder = new ImageEmbedder(fixture.GreyModel, new ImageEmbedderOptions { BatchSize = 4, DecodeParallelism = 1 });
        using var cts = new CancellationTokenSource();
        var delivered = new List<int>();
        // Batch 2 is decoded while batch 1 is being scored; cancelling there must not throw batch 1's embeddings away.
        void Decode(int index, Span<float> destination)
        {
            if (index == 8)
            {
                cts.Cancel();
            }
            destination.Fill(index / 100f);
        }
        Assert.ThrowsAny<OperationCanceledException>(() =>
            embedder.Run(20, i => "#" + i, Decode, null, batch => delivered.Add(batch.Start), cts.Token));
        Assert.Equal([0, 4], delivered);
    }

    [Fact]
    public void Requesting_a_GPU_falls_back_to_the_CPU_once_or_throws_when_fallback_is_off()
    {
        ExecutionProviderInfo probe = ExecutionProviders.Resolve(0, fallbackToCpu: true);
        if (probe.IsGpu)
        {
            // A machine with CUDA 13 + cuDNN 9 and a GPU: the CUDA provider is used.
            using var gpu = new ImageEmbedder(fixture.GreyModel, new ImageEmbedderOptions { GpuDeviceId = 0 });
            Assert.True(gpu.ExecutionProvider.IsGpu);
            return;
        }
        Assert.Equal(ExecutionProviderInfo.Cpu, probe.Name);
        Assert.True(probe.FellBack);
        Assert.Contains("Exception", probe.FallbackReason!, StringComparison.Ordinal);

        // Every embedder (and ML.NET estimator) that falls back says so once, as a warning, to the logger it was given.
        var log = new ListLogger();
        using (var a = new ImageEmbedder(fixture.GreyModel, new ImageEmbedderOptions { GpuDeviceId = 7 }, log))
        using (var b = new ImageEmbedder(fixture.GreyModel, new ImageEmbedderOptions { GpuDeviceId = 7 }))
        {
            var ml = new MLContext(1);
            var estimator = ml.Transforms.EmbedImages(new ImageEmbeddingOptions
            {
                OutputColumnName = "Embedding",
                ModelPath = fixture.GreyModel,
                ImageFolder = fixture.ImageFolder,
                InputColumnName = "ImagePath",
                GpuDeviceId = 7,
                Logger = log,
            });
            IDataView data = ml.Data.LoadFromEnumerable([new PathRow { ImagePath = fixture.ImageNames[0] }]);
            using var chain = (TransformerChain<ITransformer>)estimator.Fit(data);
            float[] viaMLNet = chain.Transform(data).GetColumn<float[]>("Embedding").Single();

            Assert.Equal(2, log.Entries.Count);   // a and the estimator; b has no logger
            Assert.All(log.Entries, e =>
            {
                Assert.Equal(LogLevel.Warning, e.Level);
                Assert.Contains("GPU 7 unavailable", e.Message, StringComparison.Ordinal);
            });
            Assert.Equal(ExecutionProviderInfo.Cpu, a.ExecutionProvider.Name);
            Assert.True(a.ExecutionProvider.FellBack);
            Assert.True(b.ExecutionProvider.FellBack);
            Assert.Equal(ExecutionProviderInfo.Cpu, estimator.ExecutionProvider!.Name);
            VectorAssert.Close(viaMLNet, a.Embed(fixture.ImagePaths[0]));
        }

        var error = Assert.Throws<InvalidOperationException>(() => new ImageEmbedder(fixture.GreyModel, new ImageEmbedderOptions { GpuDeviceId = 7, FallbackToCpu = false }));
        Assert.Contains("fallbackToCpu = false", error.Message, StringComparison.Ordinal);
        var ml2 = new MLContext(1);
        IDataView rows = ml2.Data.LoadFromEnumerable([new PathRow { ImagePath = fixture.ImagePaths[0] }]);
        Assert.Throws<InvalidOperationException>(() => ml2.Transforms.EmbedImages("Embedding", fixture.GreyModel, inputColumnName: "ImagePath", gpuDeviceId: 7, fallbackToCpu: false).Fit(rows));
    }

    /// <summary>IProgress that reports synchronously (Progress&lt;T&gt; posts to the thread pool).</summary>
    private sealed class SyncProgress(List<ImageEmbeddingProgress> reports) : IProgress<ImageEmbeddingProgress>
    {
        public void Report(ImageEmbeddingProgress value) => reports.Add(value);
    }

    /// <summary>An ILogger that keeps what it is told.</summary>
    private sealed class ListLogger : ILogger
    {
        public List<(LogLevel Level, string Message)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Add((logLevel, formatter(state, exception)));
    }
}
