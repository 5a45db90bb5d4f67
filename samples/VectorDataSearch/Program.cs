// Image search with the .NET AI building blocks: dependency injection, an IEmbeddingGenerator for images and the
// HNSW VectorData collection. Indexes a folder, filters by a data property, searches by image.
// Run from the repository root: dotnet run --project samples/VectorDataSearch [MODEL GALLERY QUERY]
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.VectorData;

string model = args.ElementAtOrDefault(0) ?? "models/fashion-mnist-embed.onnx";
string gallery = args.ElementAtOrDefault(1) ?? "samples/data/gallery";
string query = args.ElementAtOrDefault(2) ?? "samples/data/queries/sneaker/test-03003.png";

var services = new ServiceCollection().AddLogging();
services.AddImageEmbeddingGenerator(model).UseLogging();   // IEmbeddingGenerator<DataContent, Embedding<float>>
services.AddHnswVectorStore(o => o.Directory = Path.Combine(Path.GetTempPath(), "imageretrieval-sample-store"));
services.AddHnswCollection<string, Product>("products");     // embeds Product.Image with the generator above
using var provider = services.BuildServiceProvider();

var products = provider.GetRequiredService<VectorStoreCollection<string, Product>>();
await products.EnsureCollectionExistsAsync();
await products.UpsertAsync(Directory.GetFiles(gallery, "*.png", SearchOption.AllDirectories).Select(file => new Product
{
    Path = Path.GetRelativePath(gallery, file),
    Category = Path.GetFileName(Path.GetDirectoryName(file))!,
    Image = new DataContent(File.ReadAllBytes(file), "image/png"),
}));

var image = new DataContent(File.ReadAllBytes(query), "image/png");
await foreach (var hit in products.SearchAsync(image, top: 5, new() { Filter = p => p.Category == "sneaker" || p.Category == "sandal" }))
{
    Console.WriteLine($"{hit.Score:F4}  {hit.Record.Path}");
}

public sealed class Product
{
    [VectorStoreKey] public string Path { get; set; } = "";
    [VectorStoreData(IsIndexed = true)] public string Category { get; set; } = "";
    [VectorStoreVector(64)] public DataContent? Image { get; set; }   // the bundled model's 64-d embedding
}
