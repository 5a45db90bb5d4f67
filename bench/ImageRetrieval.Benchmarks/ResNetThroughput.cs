using System.Diagnostics;
using System.Globalization;
using ImageRetrieval.Training.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageRetrieval.Benchmarks;

/// <summary>
/// ResNet-18 training throughput (issue 8): images/s for forward + backward + Adam step on random
/// RGB batches with a triplet loss, at several input sizes. Not a BenchmarkDotNet benchmark — one
/// 224 px step takes seconds on 2 cores, so it times a few steps per size and reports the median of
/// wall time and of process CPU time (the latter is robust when other processes share the cores:
/// on an idle machine, wall images/s ≈ images per CPU-second × the effective parallelism ≤ threads).
/// </summary>
/// <remarks>
/// <c>dotnet run -c Release --project bench/ImageRetrieval.Benchmarks -- resnet18-throughput [--sizes 64,112,224] [--batch 32] [--threads 2] [--steps 5] [--warmup 1]</c>
/// </remarks>
internal static class ResNetThroughput
{
    public const string Command = "resnet18-throughput";

    public static int Run(string[] args)
    {
        int[] sizes = Option(args, "--sizes", "64,112,224").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        int batch = int.Parse(Option(args, "--batch", "32"), CultureInfo.InvariantCulture);
        int threads = int.Parse(Option(args, "--threads", "2"), CultureInfo.InvariantCulture);
        int steps = int.Parse(Option(args, "--steps", "5"), CultureInfo.InvariantCulture);
        int warmup = int.Parse(Option(args, "--warmup", "1"), CultureInfo.InvariantCulture);
        if (batch < 2)
        {
            Console.Error.WriteLine("--batch must be at least 2.");
            return 2;
        }

        ImageRetrieval.Training.Runtime.TorchRuntime.SetThreads(threads);
        torch.random.manual_seed(1);
        Console.WriteLine($"ResNet-18 (blocks {string.Join(",", ResNet18.BlocksPerStage)}, 512->128 head), batch {batch}, {threads} threads, Adam lr 1e-4, triplet loss; {warmup} warm-up + {steps} timed steps per size");
        Console.WriteLine($"load average at start: {LoadAverage()}");
        Console.WriteLine("| input | median images/s (wall) | min | max | median s/step (wall) | median CPU-s/step | images per CPU-s |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (int side in sizes)
        {
            using var network = NetworkFactory.Create(ResNet18Weights.CreateSpec(side, side, 128));
            network.train();
            using var optimizer = new ImageRetrieval.Training.SafeOptimizers.Adam(network.parameters(), 1e-4);
            var seconds = new List<double>();
            var cpuSeconds = new List<double>();
            using var process = Process.GetCurrentProcess();
            for (int step = 0; step < warmup + steps; step++)
            {
                using var scope = torch.NewDisposeScope();
                var images = torch.randint(0, 256, [batch, 3, side, side]).to_type(ScalarType.Float32);
                process.Refresh();
                var cpuBefore = process.TotalProcessorTime;
                var watch = Stopwatch.StartNew();
                optimizer.zero_grad();
                var embeddings = network.forward(images);
                // Every row is an anchor; its positive / negative are the next rows (all rows get gradients).
                var positive = embeddings.roll(1, 0);
                var negative = embeddings.roll(2, 0);
                var loss = nn.functional.relu((embeddings - positive).pow(2).sum(1) - (embeddings - negative).pow(2).sum(1) + 0.2).mean();
                loss.backward();
                optimizer.step();
                watch.Stop();
                process.Refresh();
                if (step >= warmup)
                {
                    seconds.Add(watch.Elapsed.TotalSeconds);
                    cpuSeconds.Add((process.TotalProcessorTime - cpuBefore).TotalSeconds);
                }
            }
            seconds.Sort();
            cpuSeconds.Sort();
            double median = Median(seconds);
            double cpuMedian = Median(cpuSeconds);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {side}x{side} | {batch / median:F1} | {batch / seconds[^1]:F1} | {batch / seconds[0]:F1} | {median:F2} | {cpuMedian:F2} | {batch / cpuMedian:F2} |"));
        }
        Console.WriteLine($"load average at end: {LoadAverage()}");
        return 0;
    }

    private static double Median(List<double> sorted) => sorted.Count % 2 == 1
        ? sorted[sorted.Count / 2]
        : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;

    internal static string Option(string[] args, string name, string fallback)
    {
        int index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : fallback;
    }

    internal static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
