using BenchmarkDotNet.Running;
using ImageRetrieval.Benchmarks;

// Run with: dotnet run -c Release --project bench/ImageRetrieval.Benchmarks -- --filter '*'
// ResNet-18 training throughput (not BenchmarkDotNet): ... -- resnet18-throughput [--sizes 64,112,224] [--batch 32] [--threads 2]
if (args.Length > 0 && args[0] == ResNetThroughput.Command)
{
    return ResNetThroughput.Run(args[1..]);
}
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
