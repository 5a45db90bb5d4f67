using System.Reflection;
using ImageRetrieval.Datasets;
using ImageRetrieval.Training.Networks;
using ImageRetrieval.Training.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace ImageRetrieval.Training.Tests.Onnx;

/// <summary>Shared helpers of the ONNX parity tests: run TorchSharp and ONNX Runtime on the same inputs and compare.</summary>
internal static class Parity
{
    public const double MaxAbsDiff = 1e-4;
    public const double MinCosine = 0.99999;

    /// <summary>The Microsoft.ML.DnnImageFeaturizer.ResNet18 package folder (from the build's GeneratePathProperty, else the NuGet cache).</summary>
    public static string PackageFile(string pathInPackage)
    {
        string? directory = typeof(Parity).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "ResNet18PackageDirectory")?.Value;
        string? path = !string.IsNullOrEmpty(directory) ? Path.Combine(directory, pathInPackage) : null;
        path = path is not null && File.Exists(path) ? path : ImageRetrieval.ML.Models.ResNet18FeaturizerPackage.Find(pathInPackage);
        return path ?? throw new FileNotFoundException(
            $"'{pathInPackage}' of NuGet package {ResNet18Weights.PackageId} {ResNet18Weights.PackageVersion} was not found; restore the test project.");
    }

    public static InferenceSession Session(byte[] model) =>
        new(model, new SessionOptions { IntraOpNumThreads = 2, InterOpNumThreads = 1 });

    public static InferenceSession Session(string path) =>
        new(path, new SessionOptions { IntraOpNumThreads = 2, InterOpNumThreads = 1 });

    public static float[] RunOrt(InferenceSession session, Tensor input)
    {
        var data = input.detach().cpu().contiguous().data<float>().ToArray();
        var dims = input.shape.Select(d => (int)d).ToArray();
        string name = session.InputMetadata.Keys.Single();
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(data, dims))]);
        return results.First().AsEnumerable<float>().ToArray();
    }

    public static float[] RunTorch(EmbeddingNetwork network, Tensor input)
    {
        network.eval();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        return network.forward(input).contiguous().data<float>().ToArray();
    }

    /// <summary>Max |a − b| over all entries and the smallest per-row cosine similarity.</summary>
    /// <summary>
    /// Runs <paramref name="network"/> on <paramref name="torchInput"/> and the session on <paramref name="ortInput"/>
    /// (default: the same tensor), logs the worst differences under <paramref name="what"/> and asserts the
    /// parity bounds: max |diff| ≤ <see cref="MaxAbsDiff"/>, per-row cosine ≥ <see cref="MinCosine"/>.
    /// </summary>
    public static void AssertMatches(EmbeddingNetwork network, InferenceSession session, Tensor torchInput, string what, Action<string>? log = null, Tensor? ortInput = null)
    {
        int rows = (int)torchInput.shape[0];
        var (maxAbs, minCos) = Compare(RunTorch(network, torchInput), RunOrt(session, ortInput ?? torchInput), rows);
        log?.Invoke($"{what}: max|diff|={maxAbs:E2} min cos={minCos:F9}");
        Xunit.Assert.True(maxAbs <= MaxAbsDiff, $"{what}: max |diff| {maxAbs:E3}");
        Xunit.Assert.True(minCos >= MinCosine, $"{what}: min cosine {minCos:F9}");
    }

    public static (double MaxAbs, double MinCos) Compare(float[] a, float[] b, int rows)
    {
        Assert.Equal(a.Length, b.Length);
        int dim = a.Length / rows;
        double maxAbs = 0, minCos = 1;
        for (int r = 0; r < rows; r++)
        {
            double dot = 0, na = 0, nb = 0;
            for (int j = r * dim; j < (r + 1) * dim; j++)
            {
                maxAbs = Math.Max(maxAbs, Math.Abs((double)a[j] - b[j]));
                dot += (double)a[j] * b[j];
                na += (double)a[j] * a[j];
                nb += (double)b[j] * b[j];
            }
            minCos = Math.Min(minCos, dot / Math.Sqrt(na * nb));
        }
        return (maxAbs, minCos);
    }

    /// <summary>Fashion-MNIST test images as float pixels 0–255, optionally resized and repeated to 3 channels.</summary>
    public static Tensor FashionImages(int count, int channels = 1, int side = FashionMnist.ImageSide, int offset = 0)
    {
        var set = FashionMnist.Load(FashionMnist.Split.Test, maxItems: offset + count);
        byte[] pixels = set.Pixels.ToArray()[(offset * set.ImageSize)..];
        var x = torch.tensor(pixels.Select(p => (float)p).ToArray(), [count, 1, set.Height, set.Width]);
        if (side != set.Height)
        {
            x = nn.functional.interpolate(x, size: [side, side], mode: InterpolationMode.Bilinear, align_corners: false).clamp(0, 255);
        }
        return channels == 1 ? x : x.repeat(1, channels, 1, 1);
    }

    public static int[] FashionLabels(int count, int offset = 0)
    {
        var set = FashionMnist.Load(FashionMnist.Split.Test, maxItems: offset + count);
        return set.Labels.ToArray()[offset..];
    }

    /// <summary>
    /// Moves weights and batch-norm statistics away from their initial values: SGD on cross-entropy of the
    /// embeddings through a fixed random 10-class projection, on Fashion-MNIST test images.
    /// </summary>
    public static void TrainBriefly(EmbeddingNetwork network, int steps, int batch, int channels, int side)
    {
        var images = FashionImages(steps * batch, channels, side, offset: 1000);
        var labels = torch.tensor(FashionLabels(steps * batch, offset: 1000).Select(l => (long)l).ToArray());
        var projection = torch.randn(network.Spec.EmbeddingDimension, 10) * 3;
        using var optimizer = optim.SGD(network.parameters(), 0.05, momentum: 0.9);
        network.train();
        for (int step = 0; step < steps; step++)
        {
            using var scope = torch.NewDisposeScope();
            var x = images[TensorIndex.Slice(step * batch, (step + 1) * batch)];
            var y = labels[TensorIndex.Slice(step * batch, (step + 1) * batch)];
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(network.ForwardHead(x).matmul(projection) * 10, y);
            loss.backward();
            optimizer.step();
        }
        network.eval();
    }

    public static byte[] ExportBytes(EmbeddingNetwork network, OnnxExportOptions? options = null)
    {
        var model = OnnxExporter.BuildModel(network, options ?? new OnnxExportOptions(), out _);
        using var stream = new MemoryStream();
        Google.Protobuf.MessageExtensions.WriteTo(model, stream);
        return stream.ToArray();
    }
}
