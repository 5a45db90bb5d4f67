// Saves an ImageSearchIndex over and over, alternating two known states, until it is killed.
// Usage: ImageRetrieval.CrashSafety.Child <model.onnx> <gallery> <index-directory>
// State "full" holds every PNG of the gallery; state "half" every second one (by ordinal path order).
// Prints "ready" once the first save of this run is complete, then "saved full|half" after each save.
using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Search;

if (args.Length != 3)
{
    Console.Error.WriteLine("usage: ImageRetrieval.CrashSafety.Child <model.onnx> <gallery> <index-directory>");
    return 2;
}
string model = args[0], gallery = args[1], directory = args[2];
var options = new ImageSearchIndexOptions { Embedder = new ImageEmbedderOptions { BatchSize = 64, DecodeParallelism = 1 } };
string[] files = Directory.GetFiles(gallery, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
using var full = ImageSearchIndex.Create(model, gallery, options);
full.AddFiles(files, full.LabelFromFolder);
using var half = ImageSearchIndex.Create(model, gallery, options);
half.AddFiles(files.Where((_, i) => i % 2 == 0).ToArray(), half.LabelFromFolder);
// Start with the state the directory does not hold, so the first save is a real change.
bool nextFull = true;
try
{
    nextFull = ImageSearchIndex.ReadInfo(directory).Count != full.Count;
}
catch (Exception e) when (e is IOException or InvalidDataException)
{
}
for (long i = 0; ; i++)
{
    (nextFull ? full : half).Save(directory);
    Console.Out.WriteLine(i == 0 ? "ready" : nextFull ? "saved full" : "saved half");
    Console.Out.Flush();
    nextFull = !nextFull;
}
