using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ImageRetrieval.Datasets.Evaluation;
using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Imaging;
using ImageRetrieval.ML.Indexing;
using ImageRetrieval.ML.Models;
using ImageRetrieval.Training;
using ImageRetrieval.Training.Losses;
using ImageRetrieval.Training.Mining;

namespace ImageRetrieval.Benchmarks.Embedding;

/// <summary>
/// Retrieval quality on a colour image collection laid out as <c>DIR/queries/CLASS/*.png</c> and <c>DIR/gallery/CLASS/*.png</c>
/// (bench/photos/make_icons.py writes one from Debian's icon themes): raw pixels (R, G, B 0–255 at SIZE × SIZE, squared L2)
/// against ImageNet ResNet-18 features (<see cref="PretrainedModels.ImageNetResNet18"/>, cosine) against a head fine-tuned
/// on those features, cached: the backbone runs once over every image, then only the head trains.
/// <para>The classes are split in two by a seeded shuffle. The head — a 512 × 512 linear map that starts as the identity
/// (<see cref="FeatureHead.Identity"/>), so before training it gives exactly the ImageNet features, then L2 normalisation —
/// is trained by the library's cached-feature trainer (<see cref="TripletTrainer.TrainHead"/>: the project's triplet loss
/// <see cref="TripletMarginLoss"/>, batch-hard mining, P × K batches, Euclidean distance, margin 0.2) on the
/// queries and gallery of the training classes only, and every method is scored on the held-out classes (queries against
/// gallery; P@1 and MAP@R from <see cref="RetrievalMetrics"/>). Raw pixels and ImageNet features are also scored on all
/// classes.</para>
/// <code>dotnet run -c Release --project bench/ImageRetrieval.Benchmarks -- photo-retrieval --images DIR [--steps 300] [--seed 16] [--size 64] [--threads 2] [--torch-threads 1] [--cache FILE]</code>
/// <c>--steps</c> is rounded up to whole epochs of the trainer's P × K sampler. Prints one JSON line.
/// </summary>
internal static class PhotoRetrieval
{
    public const string Command = "photo-retrieval";

    public static int Run(string[] args)
    {
        string Arg(string name, string fallback)
        {
            int i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }
        string root = Arg("--images", "");
        int steps = int.Parse(Arg("--steps", "300"), CultureInfo.InvariantCulture);
        int seed = int.Parse(Arg("--seed", "16"), CultureInfo.InvariantCulture);
        int size = int.Parse(Arg("--size", "64"), CultureInfo.InvariantCulture);
        int threads = int.Parse(Arg("--threads", "2"), CultureInfo.InvariantCulture);
        // The head's matrices are small: on this shared machine 2 libtorch threads spent ~15x longer per step than 1
        // (OpenMP workers waiting for each other under load), so the head trains on one thread unless told otherwise.
        int torchThreads = int.Parse(Arg("--torch-threads", "1"), CultureInfo.InvariantCulture);   // set by TripletTrainer.TrainHead through TorchRuntime

        var (queryFiles, queryClasses) = Folder(Path.Combine(root, "queries"));
        var (galleryFiles, galleryClasses) = Folder(Path.Combine(root, "gallery"));
        string[] classes = [.. queryClasses.Concat(galleryClasses).Distinct().Order(StringComparer.Ordinal)];
        int[] queryLabels = [.. queryClasses.Select(c => Array.IndexOf(classes, c))];
        int[] galleryLabels = [.. galleryClasses.Select(c => Array.IndexOf(classes, c))];
        var shuffled = classes.Select((_, i) => i).ToArray();
        new Random(seed).Shuffle(shuffled);
        var trainClasses = shuffled.Take(classes.Length / 2).ToHashSet();

        // Raw pixels.
        var watch = Stopwatch.StartNew();
        var pixelOptions = new ImageDecodeOptions { Width = size, Height = size, Channels = 3, ResizeMode = ImageResizeMode.IsoPad };
        float[] rawQueries = RawPixels(queryFiles, pixelOptions), rawGallery = RawPixels(galleryFiles, pixelOptions);
        double rawSeconds = watch.Elapsed.TotalSeconds;
        int rawDimension = pixelOptions.OutputLength;

        // ImageNet features, once for every image (the cache the head trains on).
        // With --cache FILE they are kept on disk between runs (float32, queries then gallery; rebuilt when the count differs).
        const int Dimension = 512;
        watch.Restart();
        float[] netQueries, netGallery;
        string? cache = Arg("--cache", "") is { Length: > 0 } c ? c : null;
        bool cached = cache is not null && File.Exists(cache) && new FileInfo(cache).Length == (queryFiles.Length + galleryFiles.Length) * Dimension * 4L;
        if (cached)
        {
            float[] all = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(cache!)).ToArray();
            netQueries = all[..(queryFiles.Length * Dimension)];
            netGallery = all[(queryFiles.Length * Dimension)..];
        }
        else
        {
            using var embedder = new ImageEmbedder(PretrainedModels.ImageNetResNet18, new ImageEmbedderOptions { IntraOpNumThreads = threads, DecodeParallelism = threads });
            netQueries = embedder.EmbedFiles(queryFiles).Vectors;
            netGallery = embedder.EmbedFiles(galleryFiles).Vectors;
            if (cache is not null)
            {
                File.WriteAllBytes(cache, System.Runtime.InteropServices.MemoryMarshal.AsBytes<float>([.. netQueries, .. netGallery]).ToArray());
            }
        }
        double featureSeconds = watch.Elapsed.TotalSeconds;

        // The head, trained on the training classes' cached features.
        int[] trainRows = [.. Enumerable.Range(0, queryLabels.Length).Where(i => trainClasses.Contains(queryLabels[i]))];
        int[] trainGalleryRows = [.. Enumerable.Range(0, galleryLabels.Length).Where(i => trainClasses.Contains(galleryLabels[i]))];
        float[] trainFeatures = [.. trainRows.SelectMany(i => netQueries.AsSpan(i * Dimension, Dimension).ToArray()),
            .. trainGalleryRows.SelectMany(i => netGallery.AsSpan(i * Dimension, Dimension).ToArray())];
        int[] trainLabels = [.. trainRows.Select(i => queryLabels[i]), .. trainGalleryRows.Select(i => galleryLabels[i])];
        // The library's cached-feature trainer (TripletTrainer.TrainHead, the loop imgret train uses for a frozen backbone);
        // --steps is rounded up to whole epochs of P × K batches.
        var recipe = HeadRecipe(seed, torchThreads) with { Epochs = 1 };
        int batchesPerEpoch = TrainingBatches.Sampler(trainLabels, recipe).BatchesPerEpoch;   // P clamped to the classes, as the trainer does
        recipe = recipe with { Epochs = Math.Max(1, (steps + batchesPerEpoch - 1) / batchesPerEpoch) };
        watch.Restart();
        using var head = FeatureHead.Identity(Dimension);
        IReadOnlyList<EpochSummary> history = TripletTrainer.TrainHead(head, trainFeatures, trainLabels, recipe);
        double headSeconds = watch.Elapsed.TotalSeconds;
        float[] headQueries = head.Embed(netQueries), headGallery = head.Embed(netGallery);

        // Scores: held-out classes for all three, all classes for raw pixels and ImageNet features.
        int[] testQueries = [.. Enumerable.Range(0, queryLabels.Length).Where(i => !trainClasses.Contains(queryLabels[i]))];
        int[] testGallery = [.. Enumerable.Range(0, galleryLabels.Length).Where(i => !trainClasses.Contains(galleryLabels[i]))];
        object Score(float[] q, float[] g, int dimension, DistanceMetric metric, bool heldOut)
        {
            int[] qi = heldOut ? testQueries : [.. Enumerable.Range(0, queryLabels.Length)];
            int[] gi = heldOut ? testGallery : [.. Enumerable.Range(0, galleryLabels.Length)];
            RetrievalMetricsResult r = RetrievalMetrics.Compute(Rows(q, qi, dimension), [.. qi.Select(i => queryLabels[i])], Rows(g, gi, dimension),
                [.. gi.Select(i => galleryLabels[i])], dimension, metric, maxDegreeOfParallelism: threads);
            return new { p_at_1 = r.PrecisionAt1, map_at_r = r.MapAtR, recall_at_5 = r.RecallAt5, queries = r.QueryCount, skipped = r.SkippedQueries, gallery = gi.Length };
        }
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            classes = classes.Length,
            train_classes = trainClasses.Count,
            queries = queryFiles.Length,
            gallery = galleryFiles.Length,
            all_classes = new
            {
                raw_pixels = Score(rawQueries, rawGallery, rawDimension, DistanceMetric.SquaredL2, false),
                imagenet_resnet18 = Score(netQueries, netGallery, Dimension, DistanceMetric.Cosine, false),
            },
            held_out_classes = new
            {
                raw_pixels = Score(rawQueries, rawGallery, rawDimension, DistanceMetric.SquaredL2, true),
                imagenet_resnet18 = Score(netQueries, netGallery, Dimension, DistanceMetric.Cosine, true),
                fine_tuned_head = Score(headQueries, headGallery, Dimension, DistanceMetric.SquaredL2, true),
            },
            raw_pixel_size = size,
            head_training = new
            {
                steps = recipe.Epochs * batchesPerEpoch, epochs = recipe.Epochs, train_images = trainLabels.Length, seconds = headSeconds,
                loss_first_epoch = history[0].Loss, loss_last_epoch = history[^1].Loss,
            },
            seconds = new { raw_pixels = rawSeconds, imagenet_features = featureSeconds, head = headSeconds },
            feature_images_per_second = cached ? (double?)null : (queryFiles.Length + galleryFiles.Length) / featureSeconds,
            features_from_cache = cached,
            threads,
            torch_threads = torchThreads,
            seed,
        }));
        return 0;
    }

    private static (string[] Files, string[] Classes) Folder(string folder)
    {
        var files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(f => ImageDecoder.FileExtensions.Contains(Path.GetExtension(f))).Order(StringComparer.Ordinal).ToArray();
        return (files, [.. files.Select(f => Path.GetFileName(Path.GetDirectoryName(f))!)]);
    }

    private static float[] RawPixels(string[] files, ImageDecodeOptions options)
    {
        var result = new float[files.Length * options.OutputLength];
        var pixels = new byte[options.OutputLength];
        for (int i = 0; i < files.Length; i++)
        {
            ImageDecoder.DecodeFile(files[i], options, pixels);
            for (int j = 0; j < pixels.Length; j++)
            {
                result[(i * pixels.Length) + j] = pixels[j];
            }
        }
        return result;
    }

    private static float[] Rows(float[] vectors, int[] rows, int dimension) => [.. rows.SelectMany(i => vectors.AsSpan(i * dimension, dimension).ToArray())];

    /// <summary>
    /// The head's recipe: the project's triplet loss with batch-hard mining, P × K = 16 × 4, margin 0.2 on Euclidean distance,
    /// Adam at a constant 1e-4 (no decay), no weight decay.
    /// </summary>
    private static TrainingOptions HeadRecipe(int seed, int threads) => new()
    {
        Miner = TripletMiningStrategy.BatchHard,
        Distance = TripletDistance.Euclidean,
        Margin = 0.2f,
        ClassesPerBatch = 16,
        SamplesPerClass = 4,
        LearningRate = 1e-4,
        Schedule = LearningRateSchedule.Step,
        LearningRateStepEpochs = 0,
        Seed = seed,
        Threads = threads,
    };
}
