using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ImageRetrieval.Datasets.Evaluation;
using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Imaging;
using ImageRetrieval.ML.Indexing;
using ImageRetrieval.ML.Models;
using ImageRetrieval.Training.Losses;
using ImageRetrieval.Training.Mining;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageRetrieval.Benchmarks.Embedding;

/// <summary>
/// Retrieval quality on a colour image collection laid out as <c>DIR/queries/CLASS/*.png</c> and <c>DIR/gallery/CLASS/*.png</c>
/// (bench/photos/make_icons.py writes one from Debian's icon themes): raw pixels (R, G, B 0–255 at SIZE × SIZE, squared L2)
/// against ImageNet ResNet-18 features (<see cref="PretrainedModels.ImageNetResNet18"/>, cosine) against a head fine-tuned
/// on those features, cached: the backbone runs once over every image, then only the head trains.
/// <para>The classes are split in two by a seeded shuffle. The head — a 512 × 512 linear map that starts as the identity,
/// so before training it gives exactly the ImageNet features, then L2 normalisation — is trained with the project's
/// triplet loss (<see cref="TripletMarginLoss"/>, batch-hard mining, P × K batches, Euclidean distance, margin 0.2) on the
/// queries and gallery of the training classes only, and every method is scored on the held-out classes (queries against
/// gallery; P@1 and MAP@R from <see cref="RetrievalMetrics"/>). Raw pixels and ImageNet features are also scored on all
/// classes.</para>
/// <code>dotnet run -c Release --project bench/ImageRetrieval.Benchmarks -- photo-retrieval --images DIR [--steps 300] [--seed 16] [--size 64] [--threads 2] [--torch-threads 1] [--cache FILE]</code>
/// Prints one JSON line.
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
        int torchThreads = int.Parse(Arg("--torch-threads", "1"), CultureInfo.InvariantCulture);
        ImageRetrieval.Training.Runtime.TorchRuntime.SetThreads(torchThreads);   // with the process settings (malloc thresholds, OMP_WAIT_POLICY=PASSIVE)

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
        watch.Restart();
        var (head, losses) = TrainHead(trainFeatures, trainLabels, Dimension, steps, seed);
        double headSeconds = watch.Elapsed.TotalSeconds;
        float[] headQueries = Apply(head, netQueries, Dimension), headGallery = Apply(head, netGallery, Dimension);
        head.Dispose();

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
            head_training = new { steps, train_images = trainLabels.Length, seconds = headSeconds, loss_first_10 = losses.Take(10).Average(), loss_last_10 = losses.TakeLast(10).Average() },
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

    private static (nn.Module<Tensor, Tensor> Head, List<float> Losses) TrainHead(float[] features, int[] labels, int dimension, int steps, int seed)
    {
        torch.random.manual_seed(seed);
        var linear = nn.Linear(dimension, dimension);
        using (torch.no_grad())
        {
            linear.weight!.copy_(torch.eye(dimension));
            linear.bias!.zero_();
        }
        var optimizer = optim.Adam(linear.parameters(), lr: 1e-4, weight_decay: 0);
        var loss = new TripletMarginLoss(0.2f);
        ITripletMiner miner = TripletMiners.Create(TripletMiningStrategy.BatchHard, 0.2f);
        var sampler = new PKBatchSampler(labels, classesPerBatch: 16, samplesPerClass: 4);
        using var all = torch.tensor(features, [labels.Length, dimension]);
        using var allLabels = torch.tensor(labels.Select(l => (long)l).ToArray());
        var losses = new List<float>();
        linear.train();
        for (int epoch = 0; losses.Count < steps; epoch++)
        {
            foreach (int[] batch in sampler.Epoch(seed + epoch))
            {
                if (losses.Count == steps)
                {
                    break;
                }
                using var scope = torch.NewDisposeScope();
                var index = torch.tensor(batch.Select(b => (long)b).ToArray());
                var embedded = nn.functional.normalize(linear.forward(all.index_select(0, index)), p: 2, dim: 1);
                var batchLabels = allLabels.index_select(0, index);
                var distances = PairwiseDistances.Compute(embedded, TripletDistance.Euclidean);
                TripletIndices triplets;
                using (torch.no_grad())
                {
                    triplets = miner.Mine(distances.detach(), batchLabels);
                }
                var value = loss.Compute(distances, triplets);
                optimizer.zero_grad();
                value.Loss.backward();
                optimizer.step();
                losses.Add(value.Loss.item<float>());
            }
        }
        linear.eval();
        return (linear, losses);
    }

    private static float[] Apply(nn.Module<Tensor, Tensor> head, float[] features, int dimension)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var output = nn.functional.normalize(head.forward(torch.tensor(features, [features.Length / dimension, dimension])), p: 2, dim: 1);
        return output.data<float>().ToArray();
    }
}
