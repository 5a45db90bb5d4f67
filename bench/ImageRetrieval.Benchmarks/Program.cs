using BenchmarkDotNet.Running;
using ImageRetrieval.Benchmarks.Embedding;

// Run with: dotnet run -c Release --project bench/ImageRetrieval.Benchmarks -- --filter '*'
// Write the embedding stand-in model: dotnet run -c Release --project bench/ImageRetrieval.Benchmarks -- write-standin-model out.onnx [convnet|gemm]
if (args is ["write-standin-model", string path, ..])
{
    StandInModel.Write(path, args.Length > 2 ? args[2] : "convnet");
    Console.WriteLine($"Wrote {path}");
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
