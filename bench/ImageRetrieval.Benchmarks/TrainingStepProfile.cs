using System.Diagnostics;
using System.Globalization;
using ImageRetrieval.Datasets;
using ImageRetrieval.Training.Losses;
using ImageRetrieval.Training.Mining;
using ImageRetrieval.Training.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageRetrieval.Benchmarks;

/// <summary>
/// Where one triplet-training step spends its time: forward, distances + mining, loss, backward, Adam —
/// the training loop's own calls (the network of NetworkFactory, SafeOptimizers.Adam, the process set up by
/// TorchRuntime), on one real batch of Fashion-MNIST training images, medians over the timed steps (not
/// BenchmarkDotNet: one step is ~0.05–1 s of libtorch work). A P×K batch for the in-batch miners; with
/// <c>--miner random</c>, the classic recipe's batch of P·K whole-dataset random triplets (3·P·K images).
/// <c>dotnet run -c Release --project bench/ImageRetrieval.Benchmarks -- training-step-profile [--arch classic] [--miner batch-all] [--p 10] [--k 25] [--margin 0.2] [--threads 1] [--steps 20] [--warmup 3]</c>
/// </summary>
internal static class TrainingStepProfile
{
    public const string Command = "training-step-profile";

    private static readonly string[] Phases = ["forward", "distances + mining", "loss", "zero_grad + backward", "adam"];

    public static int Run(string[] args)
    {
        string arch = ResNetThroughput.Option(args, "--arch", NetworkFactory.Classic);
        var strategy = Enum.Parse<TripletMiningStrategy>(ResNetThroughput.Option(args, "--miner", "batch-all").Replace("-", "", StringComparison.Ordinal), ignoreCase: true);
        int p = int.Parse(ResNetThroughput.Option(args, "--p", "10"), CultureInfo.InvariantCulture);
        int k = int.Parse(ResNetThroughput.Option(args, "--k", "25"), CultureInfo.InvariantCulture);
        int threads = int.Parse(ResNetThroughput.Option(args, "--threads", "1"), CultureInfo.InvariantCulture);
        int steps = int.Parse(ResNetThroughput.Option(args, "--steps", "20"), CultureInfo.InvariantCulture);
        int warmup = int.Parse(ResNetThroughput.Option(args, "--warmup", "3"), CultureInfo.InvariantCulture);
        float margin = float.Parse(ResNetThroughput.Option(args, "--margin", strategy == TripletMiningStrategy.Random ? "1.0" : "0.2"), CultureInfo.InvariantCulture);
        ImageRetrieval.Training.Runtime.TorchRuntime.SetThreads(threads);
        torch.random.manual_seed(1);

        var train = FashionMnist.Load(FashionMnist.Split.Train, maxItems: 10_000);
        IBatchSampler sampler = strategy == TripletMiningStrategy.Random
            ? new RandomTripletSampler(train.Labels, p * k)
            : new PKBatchSampler(train.Labels, p, k);
        int[] indices = sampler.Epoch(1).First();
        var pixels = new float[indices.Length * train.ImageSize];
        for (int i = 0; i < indices.Length; i++)
        {
            var image = train.GetImage(indices[i]);
            for (int j = 0; j < image.Length; j++)
            {
                pixels[(i * train.ImageSize) + j] = image[j];
            }
        }
        using var input = torch.tensor(pixels, [indices.Length, train.Channels, train.Height, train.Width]);
        using var labels = torch.tensor(indices.Select(i => (long)train.Labels[i]).ToArray());
        using var network = NetworkFactory.Create(new NetworkSpec(arch, 1, 28, 28, 64, [72.9f], [90.0f]));
        network.train();
        var optimizer = new ImageRetrieval.Training.SafeOptimizers.Adam(network.parameters(), 1e-3);
        ITripletMiner miner = TripletMiners.Create(strategy, margin);
        var loss = new TripletMarginLoss(margin);

        var timings = Phases.Select(_ => new List<double>()).ToArray();
        var watch = new Stopwatch();
        for (int step = 0; step < warmup + steps; step++)
        {
            using var scope = torch.NewDisposeScope();
            var marks = new double[Phases.Length + 1];
            watch.Restart();
            var embeddings = network.forward(input);
            marks[1] = watch.Elapsed.TotalMilliseconds;
            var distances = PairwiseDistances.Compute(embeddings, TripletDistance.Euclidean);
            var triplets = miner.Mine(distances, labels);
            marks[2] = watch.Elapsed.TotalMilliseconds;
            var value = loss.Compute(distances, triplets);
            marks[3] = watch.Elapsed.TotalMilliseconds;
            optimizer.zero_grad();
            value.Loss.backward();
            marks[4] = watch.Elapsed.TotalMilliseconds;
            optimizer.step();
            marks[5] = watch.Elapsed.TotalMilliseconds;
            if (step >= warmup)
            {
                for (int phase = 0; phase < Phases.Length; phase++)
                {
                    timings[phase].Add(marks[phase + 1] - marks[phase]);
                }
            }
        }

        double[] medians = timings.Select(Median).ToArray();
        double total = medians.Sum();
        Console.WriteLine($"{arch}, {strategy}, P×K = {p}×{k} ({indices.Length} images), margin {margin.ToString(CultureInfo.InvariantCulture)}, {threads} thread(s); {warmup} warm-up + {steps} timed steps, medians");
        Console.WriteLine($"runtime: {ImageRetrieval.Training.Runtime.TorchRuntime.Initialize().Description}");
        Console.WriteLine($"load average at start: {ResNetThroughput.LoadAverage()}");
        Console.WriteLine("| phase | median ms | share |");
        Console.WriteLine("|---|---:|---:|");
        for (int phase = 0; phase < Phases.Length; phase++)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {Phases[phase]} | {medians[phase]:F1} | {medians[phase] / total:P0} |"));
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| step (sum of medians) | {total:F1} | {indices.Length / total * 1000:F0} images/s |"));
        return 0;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
