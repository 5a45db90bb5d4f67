using System.Diagnostics;
using System.Globalization;
using ImageRetrieval.ML.Datasets;
using ImageRetrieval.Training.Losses;
using ImageRetrieval.Training.Mining;
using ImageRetrieval.Training.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageRetrieval.Benchmarks;

/// <summary>
/// Where one triplet-training step spends its time: forward, distances + mining, loss, backward, Adam —
/// the training loop's own calls, on one real P×K batch of Fashion-MNIST training images, medians over
/// the timed steps (not BenchmarkDotNet: one step is ~0.1–1 s of libtorch work).
/// <c>dotnet run -c Release --project bench/ImageRetrieval.Benchmarks -- training-step-profile [--arch classic] [--miner batch-all] [--p 10] [--k 25] [--threads 1] [--steps 20] [--warmup 3]</c>
/// </summary>
internal static class TrainingStepProfile
{
    public const string Command = "training-step-profile";

    private static readonly string[] Phases = ["forward", "distances + mining", "loss", "backward", "adam"];

    public static int Run(string[] args)
    {
        string arch = ResNetThroughput.Option(args, "--arch", NetworkFactory.Classic);
        var strategy = Enum.Parse<TripletMiningStrategy>(ResNetThroughput.Option(args, "--miner", "batch-all").Replace("-", "", StringComparison.Ordinal), ignoreCase: true);
        int p = int.Parse(ResNetThroughput.Option(args, "--p", "10"), CultureInfo.InvariantCulture);
        int k = int.Parse(ResNetThroughput.Option(args, "--k", "25"), CultureInfo.InvariantCulture);
        int threads = int.Parse(ResNetThroughput.Option(args, "--threads", "1"), CultureInfo.InvariantCulture);
        int steps = int.Parse(ResNetThroughput.Option(args, "--steps", "20"), CultureInfo.InvariantCulture);
        int warmup = int.Parse(ResNetThroughput.Option(args, "--warmup", "3"), CultureInfo.InvariantCulture);
        ImageRetrieval.Training.Runtime.TorchRuntime.SetThreads(threads);
        torch.random.manual_seed(1);

        var train = FashionMnist.Load(FashionMnist.Split.Train, maxItems: 10_000);
        int[] indices = new PKBatchSampler(train.Labels, p, k).Epoch(1).First();
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
        var optimizer = new ImageRetrieval.Training.Training.SafeOptimizers.Adam(network.parameters(), 1e-3);
        ITripletMiner miner = TripletMiners.Create(strategy, 0.2f);
        var loss = new TripletMarginLoss(0.2f);

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
        Console.WriteLine($"{arch}, {strategy}, P×K = {p}×{k} ({indices.Length} images), {threads} thread(s); {warmup} warm-up + {steps} timed steps, medians");
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
