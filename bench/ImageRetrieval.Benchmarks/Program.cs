using BenchmarkDotNet.Running;
using ImageRetrieval.Benchmarks;
using ImageRetrieval.Benchmarks.Embedding;
using ImageRetrieval.Benchmarks.Indexing;

// Run with: dotnet run -c Release --project bench/ImageRetrieval.Benchmarks -- --filter '*'
// ResNet-18 training throughput (not BenchmarkDotNet): ... -- resnet18-throughput [--sizes 64,112,224] [--batch 32] [--threads 2]
// Where a triplet-training step spends its time: ... -- training-step-profile [--arch classic] [--miner batch-all] [--threads 1]
// Write the embedding stand-in model: ... -- write-standin-model out.onnx [convnet|gemm]
// A live HNSW index under a long mix of adds, removes and updates: ... -- hnsw-churn [--items 100000] [--ops 1000000] [--dim 64]
// Filtered search in the HNSW VectorData collection (recall@10, queries/s at 50/10/1 %): ... -- filtered-search [--items 100000]
// Reduced-scale decoding of photographs, speed and pixel cost: ... -- photo-decode --images DIR [--size 224] [--runs 3]
// Raw pixels vs ImageNet features vs a head fine-tuned on cached features: ... -- photo-retrieval --images DIR [--steps 300]
if (args.Length > 0 && args[0] == ResNetThroughput.Command)
{
    return ResNetThroughput.Run(args[1..]);
}
if (args.Length > 0 && args[0] == TrainingStepProfile.Command)
{
    return TrainingStepProfile.Run(args[1..]);
}
if (args.Length > 0 && args[0] == HnswChurn.Command)
{
    return HnswChurn.Run(args[1..]);
}
if (args.Length > 0 && args[0] == FilteredSearch.Command)
{
    return await FilteredSearch.Run(args[1..]);
}
if (args.Length > 0 && args[0] == PhotoDecode.Command)
{
    return PhotoDecode.Run(args[1..]);
}
if (args.Length > 0 && args[0] == PhotoRetrieval.Command)
{
    return PhotoRetrieval.Run(args[1..]);
}
if (args is ["write-standin-model", string path, ..])
{
    StandInModel.Write(path, args.Length > 2 ? args[2] : "convnet");
    Console.WriteLine($"Wrote {path}");
    return 0;
}
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
