// The smallest complete ImageRetrieval program: embed a folder of images with an ML.NET
// pipeline, put the embeddings in an HNSW index, and find the images most similar to a query.
// Run from the repository root: dotnet run --project samples/QuickStart
using ImageRetrieval.ML.Indexing;
using Microsoft.ML;
using Microsoft.ML.Data;

string model = args.Length > 0 ? args[0] : "models/fashion-mnist-embed.onnx";
string galleryFolder = args.Length > 1 ? args[1] : "samples/data/gallery";
string query = args.Length > 2 ? args[2] : "samples/data/queries/sneaker/test-03003.png";

string[] gallery = Directory.GetFiles(galleryFolder, "*.png", SearchOption.AllDirectories);
var mlContext = new MLContext(seed: 0);

// LoadImages → ResizeImages → ExtractPixels → ApplyOnnxModel, configured from the model's metadata.
var pipeline = mlContext.Transforms.EmbedImages("Embedding", model, inputColumnName: nameof(ImageInput.Path));
var images = mlContext.Data.LoadFromEnumerable(gallery.Select(path => new ImageInput { Path = path }));
ITransformer embedder = pipeline.Fit(images);
float[][] embeddings = embedder.Transform(images).GetColumn<float[]>("Embedding").ToArray();

using var index = new HnswIndex(embeddings[0].Length, DistanceMetric.Cosine);
for (int i = 0; i < embeddings.Length; i++)
{
    index.Add(i, embeddings[i]);
}

var engine = mlContext.Model.CreatePredictionEngine<ImageInput, ImageEmbedding>(embedder);
float[] queryEmbedding = engine.Predict(new ImageInput { Path = query }).Embedding;
Console.WriteLine($"Indexed {index.Count} images. Most similar to {query}:");
foreach (SearchHit hit in index.Search(queryEmbedding, k: 5))
{
    Console.WriteLine($"  {hit.Distance:F4}  {Path.GetRelativePath(galleryFolder, gallery[hit.Key])}");
}

internal sealed class ImageInput
{
    public string Path { get; set; } = "";
}

internal sealed class ImageEmbedding
{
    public float[] Embedding { get; set; } = [];
}
