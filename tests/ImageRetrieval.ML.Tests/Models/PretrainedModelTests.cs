using System.Reflection;
using System.Security.Cryptography;
using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Models;
using ImageRetrieval.ML.Search;
using ImageRetrieval.ML.Tests.Embedding;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using SkiaSharp;

namespace ImageRetrieval.ML.Tests.Models;

/// <summary>Photos of different sizes and formats for the pretrained-model tests (written once per class).</summary>
public sealed class PhotoFixture : IDisposable
{
    private readonly TempDirectory _temp = new();

    public PhotoFixture()
    {
        Folder = Path.Combine(_temp.Path, "photos");
        var files = new List<string>();
        (int W, int H, SKEncodedImageFormat Format, string Class)[] images =
        [
            (224, 224, SKEncodedImageFormat.Png, "a"), (300, 200, SKEncodedImageFormat.Jpeg, "a"), (160, 240, SKEncodedImageFormat.Png, "b"),
            (250, 250, SKEncodedImageFormat.Jpeg, "b"), (224, 300, SKEncodedImageFormat.Jpeg, "c"),
        ];
        for (int i = 0; i < images.Length; i++)
        {
            var (w, h, format, label) = images[i];
            string directory = Path.Combine(Folder, label);
            Directory.CreateDirectory(directory);
            string path = Path.Combine(directory, $"{i}.{(format == SKEncodedImageFormat.Png ? "png" : "jpg")}");
            File.WriteAllBytes(path, TestImages.Pattern(w, h, format, seed: 17 * i));
            files.Add(path);
        }
        Files = files;
        ModelPath = PretrainedModels.ImageNetResNet18.GetModelPath();
    }

    public string Folder { get; }

    public IReadOnlyList<string> Files { get; }

    /// <summary>imagenet-resnet18, built into the test cache (tests/Shared/ModelCache.cs).</summary>
    public string ModelPath { get; }

    public string Scratch(string name) => _temp.File(name);

    public void Dispose() => _temp.Dispose();
}

public class PretrainedModelTests(PhotoFixture fixture) : IClassFixture<PhotoFixture>
{
    private static string FeaturizerDirectory()
    {
        string? package = typeof(PretrainedModelTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "ResNet18PackageDirectory")?.Value;
        return Path.Combine(package ?? Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(
            ResNet18FeaturizerPackage.Require(ResNet18FeaturizerPackage.ModelPathInPackage)))!)!, "tools", "DnnImageModels");
    }

    [Fact]
    public void The_built_model_has_the_metadata_and_only_the_batch_dimension_dynamic()
    {
        EmbeddingModelMetadata metadata = EmbeddingModelMetadata.ReadFromOnnx(fixture.ModelPath);
        Assert.Equal(PretrainedModels.ImageNetResNet18.Metadata, metadata);
        Assert.Equal((224, 224, 3, 512, "cosine", "resnet18"), (metadata.InputWidth, metadata.InputHeight, metadata.InputChannels, metadata.EmbeddingDimension, metadata.Metric, metadata.Architecture));
        using var session = new InferenceSession(fixture.ModelPath);
        Assert.Equal(new[] { -1, 3, 224, 224 }, session.InputMetadata[metadata.InputName].Dimensions);
        Assert.Equal(new[] { -1, 512 }, session.OutputMetadata[metadata.OutputName].Dimensions);
        Assert.Equal("imagenet-resnet18.onnx", Path.GetFileName(fixture.ModelPath));
        Assert.StartsWith(ModelCache.Directory, fixture.ModelPath, StringComparison.Ordinal);
    }

    [Fact]
    public void Embeddings_equal_MLNets_own_ResNet18_featurizer_L2_normalised()
    {
        // The reference: ML.NET's DnnFeaturizeImage (ResNetPreprocess.onnx then ResNet18.onnx), fed by ML.NET's image transforms.
        var ml = new MLContext(1);
        IDataView rows = ml.Data.LoadFromEnumerable(fixture.Files.Select(f => new PathRow { ImagePath = f }));
        var featurizer = ml.Transforms.LoadImages("image", null, nameof(PathRow.ImagePath))
            .Append(ml.Transforms.ResizeImages("image", 224, 224, "image"))
            .Append(ml.Transforms.ExtractPixels("pixels", "image"))
            .Append(ml.Transforms.DnnFeaturizeImage("features", m => m.ModelSelector.ResNet18(ml, m.OutputColumn, m.InputColumn, FeaturizerDirectory()), "pixels"));
        float[][] expected = featurizer.Fit(rows).Transform(rows).GetColumn<float[]>("features").ToArray();

        using var embedder = new ImageEmbedder(PretrainedModels.ImageNetResNet18, new ImageEmbedderOptions { BatchSize = 4, DecodeParallelism = 2 });
        ImageEmbeddingResult ours = embedder.EmbedFiles(fixture.Files);
        Assert.Empty(ours.Errors);
        for (int i = 0; i < fixture.Files.Count; i++)
        {
            Assert.Equal(512, expected[i].Length);
            double norm = Math.Sqrt(expected[i].Sum(v => (double)v * v));
            VectorAssert.Close(expected[i].Select(v => (float)(v / norm)).ToArray(), ours[i], 1e-5f);
        }
    }

    [Fact]
    public void Building_is_deterministic_and_a_cached_model_is_reused()
    {
        string first = PretrainedModels.ImageNetResNet18.GetModelPath(fixture.Scratch("cache-a"));
        string second = PretrainedModels.ImageNetResNet18.GetModelPath(fixture.Scratch("cache-b"));
        Assert.Equal(SHA256.HashData(File.ReadAllBytes(first)), SHA256.HashData(File.ReadAllBytes(second)));
        Assert.Equal(SHA256.HashData(File.ReadAllBytes(first)), SHA256.HashData(File.ReadAllBytes(fixture.ModelPath)));
        DateTime written = File.GetLastWriteTimeUtc(first);
        Assert.Equal(first, PretrainedModels.ImageNetResNet18.GetModelPath(fixture.Scratch("cache-a")));
        Assert.Equal(written, File.GetLastWriteTimeUtc(first));
        Assert.Empty(Directory.EnumerateFiles(Path.GetDirectoryName(first)!, "*.tmp", SearchOption.TopDirectoryOnly).Concat(
            Directory.EnumerateFiles(Path.GetDirectoryName(first)!, ".*", SearchOption.TopDirectoryOnly)));
    }

    [Fact]
    public void Names_and_paths_resolve_and_an_unknown_name_lists_the_known_ones()
    {
        Assert.Same(PretrainedModels.ImageNetResNet18, PretrainedModels.Find("ImageNet-ResNet18"));
        Assert.Same(PretrainedModels.ImageNetResNet18, PretrainedModels.Find("imagenet-resnet18.onnx"));
        Assert.Null(PretrainedModels.Find("imagenet-resnet50"));
        Assert.Equal(fixture.ModelPath, PretrainedModels.ResolvePath("imagenet-resnet18"));
        Assert.Equal(fixture.Files[0], PretrainedModels.ResolvePath(fixture.Files[0]));
        var error = Assert.Throws<FileNotFoundException>(() => PretrainedModels.ResolvePath("imagenet-resnet50"));
        Assert.Contains("imagenet-resnet18", error.Message, StringComparison.Ordinal);
        Assert.Throws<FileNotFoundException>(() => PretrainedModels.ResolvePath("some/dir/imagenet-resnet18"));
    }

    [Fact]
    public void ImageSearchIndex_and_EmbedImages_accept_the_pretrained_model()
    {
        using var index = ImageSearchIndex.Create(PretrainedModels.ImageNetResNet18, fixture.Folder,
            new ImageSearchIndexOptions { Embedder = new ImageEmbedderOptions { BatchSize = 4, DecodeParallelism = 1 } });
        Assert.Equal(fixture.Files.Count, index.AddFolder().Added);
        var hits = index.Search(fixture.Files[3], 2, exact: true);
        Assert.Equal(Path.GetRelativePath(fixture.Folder, fixture.Files[3]), hits[0].Path);
        Assert.True(hits[0].Distance < 1e-5f);

        var ml = new MLContext(1);
        IDataView rows = ml.Data.LoadFromEnumerable(fixture.Files.Take(2).Select(f => new PathRow { ImagePath = f }));
        using var chain = (TransformerChain<ITransformer>)ml.Transforms.EmbedImages("Embedding", PretrainedModels.ImageNetResNet18, inputColumnName: nameof(PathRow.ImagePath)).Fit(rows);
        float[][] vectors = chain.Transform(rows).GetColumn<float[]>("Embedding").ToArray();
        using var embedder = new ImageEmbedder(fixture.ModelPath);
        VectorAssert.Close(vectors[1], embedder.Embed(fixture.Files[1]));
    }

    private sealed class PathRow
    {
        public string ImagePath { get; set; } = "";
    }
}
