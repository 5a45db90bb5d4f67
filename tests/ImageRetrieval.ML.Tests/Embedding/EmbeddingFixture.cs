using ImageRetrieval.Datasets;
using ImageRetrieval.ML.Models;

namespace ImageRetrieval.ML.Tests.Embedding;

/// <summary>Models and real images shared by the embedding tests (written once per test class).</summary>
public sealed class EmbeddingFixture : IDisposable
{
    private readonly TempDirectory _temp = new();

    public EmbeddingFixture()
    {
        GreyModel = WriteModel("grey-conv.onnx", TinyOnnxModel.ConvNetL2(1, 28, 28, 16, seed: 3, Metadata(1, 28, 28, 16, 1f / 255), widths: [4, 8, 8]));
        GreyGemmModel = WriteModel("grey-gemm.onnx", TinyOnnxModel.FlattenGemmL2(1, 28, 28, 8, seed: 4, Metadata(1, 28, 28, 8, 1f)));
        ColourModel = WriteModel("rgb-conv.onnx", TinyOnnxModel.ConvNetL2(3, 24, 20, 12, seed: 5, Metadata(3, 24, 20, 12, 1f / 255), widths: [4, 8, 8]));

        Set = FashionMnist.Load(FashionMnist.Split.Test, maxItems: 64);
        ImageFolder = System.IO.Path.Combine(_temp.Path, "images");
        Directory.CreateDirectory(ImageFolder);
        var names = new List<string>();
        for (int i = 0; i < Set.Count; i++)
        {
            string name = $"{i:D5}.png";
            File.WriteAllBytes(System.IO.Path.Combine(ImageFolder, name), TestImages.GreyPng(Set.GetImage(i), Set.Width, Set.Height));
            names.Add(name);
        }
        ImageNames = names;
        ImagePaths = names.Select(n => System.IO.Path.Combine(ImageFolder, n)).ToArray();
    }

    public string GreyModel { get; }

    public string GreyGemmModel { get; }

    public string ColourModel { get; }

    /// <summary>The first 64 Fashion-MNIST test images.</summary>
    public LabeledImageSet Set { get; }

    public string ImageFolder { get; }

    public IReadOnlyList<string> ImageNames { get; }

    public IReadOnlyList<string> ImagePaths { get; }

    public string Scratch(string name) => _temp.File(name);

    public string WriteModel(string name, byte[] model)
    {
        string path = _temp.File(name);
        File.WriteAllBytes(path, model);
        return path;
    }

    public static IReadOnlyDictionary<string, string> Metadata(int channels, int height, int width, int dimension, float scale, string input = "input", string output = "embedding") =>
        new EmbeddingModelMetadata
        {
            InputChannels = channels,
            InputHeight = height,
            InputWidth = width,
            EmbeddingDimension = dimension,
            PixelScale = scale,
            InputName = input,
            OutputName = output,
            Architecture = "convnet",
            TrainingDataset = "tests",
        }.ToDictionary();

    public void Dispose() => _temp.Dispose();
}

internal static class VectorAssert
{
    public static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float tolerance = 1e-5f)
    {
        Assert.Equal(expected.Length, actual.Length);
        float max = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            max = Math.Max(max, Math.Abs(expected[i] - actual[i]));
        }
        Assert.True(max <= tolerance, $"max |diff| = {max} > {tolerance}");
    }
}
