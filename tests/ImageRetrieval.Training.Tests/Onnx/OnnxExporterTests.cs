using ImageRetrieval.Onnx;
using ImageRetrieval.ML.Models;
using ImageRetrieval.Training.Networks;
using ImageRetrieval.Training.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Tests.Onnx;

[Collection(TorchCollection.Name)]
public class OnnxExporterTests(ITestOutputHelper output)
{
    private static readonly int[] BatchSizes = [1, 7, 64];

    [Theory]
    [InlineData(NetworkFactory.Classic, false)]
    [InlineData(NetworkFactory.Classic, true)]
    [InlineData(NetworkFactory.ConvNet, false)]
    [InlineData(NetworkFactory.ConvNet, true)]
    public void Exported_fashion_mnist_networks_match_TorchSharp_on_random_and_real_images(string architecture, bool trained)
    {
        torch.set_num_threads(2);
        torch.random.manual_seed(11);
        using var scope = torch.NewDisposeScope();
        using var network = NetworkFactory.Create(NetworkSpec.Create(architecture, 1, 28, 28, 64, mean: 72.9f, std: 90f));
        if (trained)
        {
            Parity.TrainBriefly(network, steps: 8, batch: 16, channels: 1, side: 28);
            AssertBatchNormMovedAwayFromInit(network);
        }
        using var session = Parity.Session(Parity.ExportBytes(network));

        foreach (int batch in BatchSizes)
        {
            foreach (var (kind, input) in new[] { ("random", torch.rand(batch, 1, 28, 28) * 255), ("fashion-mnist", Parity.FashionImages(batch)) })
            {
                Parity.AssertMatches(network, session, input, $"{architecture} trained={trained} {kind} batch={batch}", output.WriteLine);
            }
        }
    }

    [Theory]
    [InlineData(true, 17)]
    [InlineData(false, 17)]
    [InlineData(true, 21)]
    public void Colour_convnet_matches_with_folded_or_exported_batch_norm_and_newer_opsets(bool foldBatchNorm, int opset)
    {
        torch.set_num_threads(2);
        torch.random.manual_seed(5);
        using var scope = torch.NewDisposeScope();
        using var network = NetworkFactory.Create(new NetworkSpec(NetworkFactory.ConvNet, 3, 32, 32, 32, [120f, 110f, 100f], [60f, 65f, 70f]));
        Parity.TrainBriefly(network, steps: 3, batch: 8, channels: 3, side: 32);
        var model = OnnxExporter.BuildModel(network, new OnnxExportOptions { FoldBatchNorm = foldBatchNorm, Opset = opset }, out _);
        Assert.Equal(foldBatchNorm ? 0 : 6, model.Graph.Node.Count(n => n.OpType == "BatchNormalization"));
        Assert.Equal(opset, model.OpsetImport.Single().Version);
        using var session = Parity.Session(Parity.ExportBytes(network, new OnnxExportOptions { FoldBatchNorm = foldBatchNorm, Opset = opset }));

        var input = torch.rand(7, 3, 32, 32) * 255;
        Parity.AssertMatches(network, session, input, $"convnet rgb fold={foldBatchNorm} opset={opset}", output.WriteLine);
    }

    [Fact]
    public void Export_writes_the_metadata_contract_and_a_batch_dynamic_signature()
    {
        torch.random.manual_seed(2);
        using var network = NetworkFactory.Create(NetworkSpec.Create(NetworkFactory.ConvNet, 1, 28, 28, 48));
        string path = Path.Combine(Path.GetTempPath(), $"imgret-export-{Guid.NewGuid():N}", "model.onnx");
        try
        {
            var options = new OnnxExportOptions { Metric = "l2", TrainingDataset = "fashion-mnist", InputName = "input", OutputName = "vector" };
            var written = OnnxExporter.Export(network, path, options);
            var read = EmbeddingModelMetadata.ReadFromOnnx(path);

            Assert.Equal(written, read);
            Assert.Equal(new EmbeddingModelMetadata
            {
                InputWidth = 28, InputHeight = 28, InputChannels = 1, PixelScale = 1f, EmbeddingDimension = 48,
                Metric = "l2", Architecture = "convnet", TrainingDataset = "fashion-mnist", InputName = "input", OutputName = "vector",
            }, read);
            using var session = Parity.Session(path);
            Assert.Equal(new[] { -1, 1, 28, 28 }, session.InputMetadata["input"].Dimensions);
            Assert.Equal(new[] { -1, 48 }, session.OutputMetadata["vector"].Dimensions);
            var model = OnnxSchema.ReadModel(path);
            Assert.Equal(8, model.IrVersion);
            Assert.Equal("batch", model.Graph.Input[0].Type.TensorType.Shape.Dim[0].DimParam);
            Assert.All(model.Graph.Input[0].Type.TensorType.Shape.Dim.Skip(1), d => Assert.True(d.DimValue > 0));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    [Fact]
    public void Pixel_scale_is_undone_inside_the_graph()
    {
        torch.random.manual_seed(3);
        using var scope = torch.NewDisposeScope();
        using var network = NetworkFactory.Create(NetworkSpec.Create(NetworkFactory.Classic, 1, 28, 28, 32, mean: 50f, std: 80f));
        using var session = Parity.Session(Parity.ExportBytes(network, new OnnxExportOptions { PixelScale = 1f / 255 }));
        var pixels = Parity.FashionImages(7);
        Parity.AssertMatches(network, session, pixels, "classic, pixel scale 1/255", ortInput: pixels / 255f);
    }

    [Fact]
    public void Export_restores_the_training_mode()
    {
        using var network = NetworkFactory.Create(NetworkSpec.Create(NetworkFactory.ConvNet, 1, 28, 28, 16));
        network.train();
        _ = OnnxExporter.BuildModel(network, new OnnxExportOptions(), out _);
        Assert.True(network.training);
        Assert.All(network.modules(), m => Assert.True(m.training));
        network.eval();
        _ = OnnxExporter.BuildModel(network, new OnnxExportOptions(), out _);
        Assert.False(network.training);
    }

    [Theory]
    [InlineData(NetworkFactory.Classic, "pool2", 64 * 4 * 4)]
    [InlineData(NetworkFactory.Classic, "pool1,pool2,fc3", (32 * 12 * 12) + (64 * 4 * 4) + 16)]
    [InlineData(NetworkFactory.Classic, "pool2,pool1", (64 * 4 * 4) + (32 * 12 * 12))] // the spec's order, not the network's
    [InlineData(NetworkFactory.ConvNet, "s3c2,gap", (128 * 7 * 7) + 128)] // a tapped conv is not folded with its batch norm
    [InlineData(NetworkFactory.ConvNet, "s3c2bn", 128 * 7 * 7)] // tapped after the batch norm folded into the conv
    public void Networks_that_embed_with_inner_layers_export_those_layers_and_match_TorchSharp(string architecture, string layers, int dimension)
    {
        torch.set_num_threads(2);
        torch.random.manual_seed(13);
        using var scope = torch.NewDisposeScope();
        var spec = NetworkSpec.Create(architecture, 1, 28, 28, 16, mean: 72.9f, std: 90f) with { EmbeddingLayers = layers.Split(',') };
        using var network = NetworkFactory.Create(spec);
        Parity.TrainBriefly(network, steps: 6, batch: 16, channels: 1, side: 28);
        Assert.Equal(dimension, network.OutputDimension);
        Assert.Equal(dimension, NetworkFactory.OutputDimension(spec));

        var model = OnnxExporter.BuildModel(network, new OnnxExportOptions(), out var metadata);
        Assert.Equal(dimension, metadata.EmbeddingDimension);
        Assert.Equal(dimension, model.Graph.Output.Single().Type.TensorType.Shape.Dim[1].DimValue);
        // The head is not in the graph: nothing after the last embedded layer is exported.
        Assert.Equal(layers.Contains("fc3", StringComparison.Ordinal) ? 3 : 0, model.Graph.Node.Count(n => n.OpType == "Gemm"));
        using var session = Parity.Session(Parity.ExportBytes(network));
        foreach (int batch in BatchSizes)
        {
            Parity.AssertMatches(network, session, Parity.FashionImages(batch), $"{architecture} layers {layers} batch={batch}", output.WriteLine);
        }
        float[] embedding = Parity.RunTorch(network, Parity.FashionImages(3));
        Assert.Equal(3 * dimension, embedding.Length);
        for (int row = 0; row < 3; row++)
        {
            Assert.Equal(1.0, Math.Sqrt(embedding.Skip(row * dimension).Take(dimension).Sum(v => (double)v * v)), 5);
        }
    }

    [Fact]
    public void An_embedding_layer_the_network_does_not_have_is_refused_with_its_layers()
    {
        var spec = NetworkSpec.Create(NetworkFactory.Classic, 1, 28, 28, 16) with { EmbeddingLayers = ["pool9"] };
        var e = Assert.Throws<ArgumentException>(() => NetworkFactory.Create(spec));
        Assert.Contains("'pool9'", e.Message, StringComparison.Ordinal);
        Assert.Contains("pool2", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => (spec with { EmbeddingLayers = ["pool2", "pool2"] }).Validate());
    }

    [Fact]
    public void Unsupported_modules_are_named_with_their_path_and_type()
    {
        var spec = NetworkSpec.Create(NetworkFactory.ConvNet, 1, 28, 28, 16);
        using var network = new EmbeddingNetwork(spec, nn.Sequential(
            ("conv", nn.Conv2d(1, 4, 3)),
            ("block", nn.Sequential(("act", nn.Tanh()))),
            ("flatten", nn.Flatten()),
            ("fc", nn.Linear(4 * 26 * 26, 16))));
        var e = Assert.Throws<OnnxExportException>(() => OnnxExporter.BuildModel(network, new OnnxExportOptions(), out _));
        Assert.Equal("features.block.act", e.ModulePath);
        Assert.Contains("Tanh", e.ModuleType, StringComparison.Ordinal);
        Assert.Contains("features.block.act", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Configurations_ONNX_cannot_express_exactly_are_rejected()
    {
        var spec = NetworkSpec.Create(NetworkFactory.ConvNet, 1, 28, 28, 16);
        using var ceil = new EmbeddingNetwork(spec, nn.Sequential(
            ("pool", nn.MaxPool2d(3, stride: 2, ceil_mode: true)),
            ("flatten", nn.Flatten()),
            ("fc", nn.Linear(14 * 14, 16))));
        Assert.Equal("features.pool", Assert.Throws<OnnxExportException>(() => OnnxExporter.BuildModel(ceil, new OnnxExportOptions(), out _)).ModulePath);

        using var uneven = new EmbeddingNetwork(spec, nn.Sequential(
            ("gap", nn.AdaptiveAvgPool2d(5)),
            ("flatten", nn.Flatten()),
            ("fc", nn.Linear(25, 16))));
        Assert.Equal("features.gap", Assert.Throws<OnnxExportException>(() => OnnxExporter.BuildModel(uneven, new OnnxExportOptions(), out _)).ModulePath);

        using var wrongHead = new EmbeddingNetwork(spec, nn.Sequential(("flatten", nn.Flatten()), ("fc", nn.Linear(28 * 28, 8))));
        Assert.Contains("embedding dimension", Assert.Throws<OnnxExportException>(() => OnnxExporter.BuildModel(wrongHead, new OnnxExportOptions(), out _)).Message, StringComparison.Ordinal);

        using var ok = NetworkFactory.Create(spec);
        Assert.Throws<ArgumentException>(() => OnnxExporter.BuildModel(ok, new OnnxExportOptions { Opset = 13 }, out _));
        Assert.Throws<ArgumentException>(() => OnnxExporter.BuildModel(ok, new OnnxExportOptions { Metric = "dot" }, out _));
    }

    [PythonOnnxFact]
    public void Python_onnx_checker_and_strict_shape_inference_accept_every_architecture()
    {
        torch.random.manual_seed(4);
        string directory = Path.Combine(Path.GetTempPath(), $"imgret-check-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        try
        {
            var specs = new[]
            {
                NetworkSpec.Create(NetworkFactory.Classic, 1, 28, 28, 64),
                NetworkSpec.Create(NetworkFactory.ConvNet, 3, 32, 32, 32),
                ResNet18Weights.CreateSpec(64, 64, 128),
            };
            foreach (var spec in specs)
            {
                using var network = NetworkFactory.Create(spec);
                string path = Path.Combine(directory, spec.Architecture + ".onnx");
                OnnxExporter.Export(network, path);
                string shape = PythonOnnx.CheckAndInferOutputShape(path);
                output.WriteLine($"{spec.Architecture}: onnx.checker OK, inferred output {shape}");
                Assert.Equal($"['batch', {spec.EmbeddingDimension}]", shape);
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static void AssertBatchNormMovedAwayFromInit(EmbeddingNetwork network)
    {
        foreach (var bn in network.modules().OfType<BatchNorm>())
        {
            Assert.True(bn.running_var!.sub(1).abs().max().item<float>() > 1e-3f, "BN running variance still at its initial value");
            Assert.True(bn.running_mean!.abs().max().item<float>() > 1e-3f, "BN running mean still at its initial value");
        }
    }
}
