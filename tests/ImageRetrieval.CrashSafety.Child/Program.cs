// Saves an ImageSearchIndex over and over, alternating two known states, until it is killed.
// Usage: ImageRetrieval.CrashSafety.Child <model.onnx> <gallery> <index-directory>
// State "full" holds every PNG of the gallery; state "half" every second one (the even ones, by ordinal path order).
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
string[] odd = files.Where((_, i) => i % 2 == 1).ToArray();
// One index (one ONNX session, one embedding pass: child start-up dominates a trial). The "half" state is
// reached by removing the odd files, the "full" state by adding them back (re-embedded: the model is tiny).
using var index = ImageSearchIndex.Create(model, gallery, options);
index.AddFiles(files, index.LabelFromFolder);
bool full = true;
try
{
    // Start with the state the directory does not hold, so the first save is a real change.
    if (ImageSearchIndex.ReadInfo(directory).Count == files.Length)
    {
        RemoveOdd();
        full = false;
    }
}
catch (Exception e) when (e is IOException or InvalidDataException)
{
}
for (long i = 0; ; i++)
{
    index.Save(directory);
    Console.Out.WriteLine(i == 0 ? "ready" : full ? "saved full" : "saved half");
    Console.Out.Flush();
    if (full)
    {
        RemoveOdd();
    }
    else
    {
        index.AddFiles(odd, index.LabelFromFolder);
    }
    full = !full;
}

void RemoveOdd()
{
    foreach (string file in odd)
    {
        index.Remove(Path.GetRelativePath(gallery, file).Replace(Path.DirectorySeparatorChar, '/'));
    }
}
