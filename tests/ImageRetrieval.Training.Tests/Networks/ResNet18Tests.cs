using ImageRetrieval.Training.Networks;
using ImageRetrieval.Training.Onnx;
using ImageRetrieval.Training.Tests.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Tests.Networks;

[Collection(TorchCollection.Name)]
public class ResNet18Tests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(64)]
    [InlineData(112)]
    public void Resnet18_embeds_any_input_size_with_torchvision_parameter_names(int side)
    {
        torch.set_num_threads(2);
        torch.random.manual_seed(1);
        using var scope = torch.NewDisposeScope();
        using var network = NetworkFactory.Create(ResNet18Weights.CreateSpec(side, side, 96));
        var shapes = network.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        Assert.Equal(new long[] { 64, 3, 7, 7 }, shapes["features.conv1.weight"]);
        Assert.Equal(new long[] { 128, 64, 1, 1 }, shapes["features.layer2.0.downsample.0.weight"]);
        Assert.Equal(new long[] { 512, 512, 3, 3 }, shapes["features.layer4.1.conv2.weight"]);
        Assert.Equal(new long[] { 96, 512 }, shapes["features.fc.weight"]);
        Assert.Equal(new long[] { 512, 512, 3, 3 }, shapes["features.layer4.2.conv2.weight"]); // CNTK's third block
        Assert.Equal(68, shapes.Count); // 22 conv + 22×2 BN + fc weight/bias
        // Conv + BN parameters of ML.NET's ResNet18.onnx (15,897,152), plus the head.
        Assert.Equal(15_897_152 + 512 * 96 + 96, shapes.Values.Sum(s => s.Aggregate(1L, (a, b) => a * b)));

        network.eval();
        using var noGrad = torch.no_grad();
        var embedding = network.forward(torch.rand(2, 3, side, side) * 255);
        Assert.Equal(new long[] { 2, 96 }, embedding.shape);
        Assert.All(embedding.norm(1).data<float>().ToArray(), n => Assert.Equal(1f, n, 4));
    }

    [Fact]
    public void Resnet18_rejects_grey_and_tiny_inputs()
    {
        Assert.Contains("3-channel", Assert.Throws<ArgumentException>(() => NetworkFactory.Create(NetworkSpec.Create(NetworkFactory.ResNet18, 1, 64, 64, 32))).Message, StringComparison.Ordinal);
        Assert.Contains("32x32", Assert.Throws<ArgumentException>(() => NetworkFactory.Create(NetworkSpec.Create(NetworkFactory.ResNet18, 3, 28, 28, 32))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ImageNet_mean_constants_are_the_channel_averages_of_MLNets_ResNetPreprocess_mean_image()
    {
        float[] mean = ResNet18Weights.MeanFromPreprocessModel(Parity.PackageFile(ResNet18Weights.PreprocessPathInPackage));
        Assert.Equal(3, mean.Length);
        for (int c = 0; c < 3; c++)
        {
            Assert.Equal(ResNet18Weights.ImageNetMeanRgb[c], mean[c], 3);
        }
        Assert.True(mean[0] > mean[2], "R mean should exceed B mean (ImageNet), i.e. the BGR→RGB reorder was applied");
    }

    [Fact]
    public void Imported_backbone_matches_the_CNTK_ResNet18_in_ONNX_Runtime()
    {
        torch.set_num_threads(2);
        torch.random.manual_seed(7);
        using var scope = torch.NewDisposeScope();
        using var network = NetworkFactory.Create(ResNet18Weights.CreateSpec(224, 224, 64));
        ResNet18Weights.ImportImageNet(network, Parity.PackageFile(ResNet18Weights.PathInPackage));
        network.eval();
        using var preprocess = Parity.Session(Parity.PackageFile(ResNet18Weights.PreprocessPathInPackage));
        using var resnet = Parity.Session(Parity.PackageFile(ResNet18Weights.PathInPackage));

        // Real (Fashion-MNIST, upscaled, grey → RGB) and random colour images, RGB 0–255.
        var images = torch.cat([Parity.FashionImages(1, channels: 3, side: 224), torch.rand(1, 3, 224, 224) * 255], 0);
        double maxAbs = 0, maxRel = 0, minCosEndToEnd = 1;
        for (int i = 0; i < images.shape[0]; i++)
        {
            var rgb = images[TensorIndex.Slice(i, i + 1)];
            // ML.NET's chain: RGB → BGR minus the mean image → CNTK ResNet-18 → 512 pooled features.
            var bgrPreprocessed = torch.tensor(Parity.RunOrt(preprocess, rgb), [1, 3, 224, 224]);
            float[] expected = Parity.RunOrt(resnet, bgrPreprocessed);
            Assert.Equal(512, expected.Length);

            using var noGrad = torch.no_grad();
            // Same preprocessed input, channel planes back in R, G, B order for the imported network.
            float[] actual = network.ForwardBackbone(bgrPreprocessed.flip(1)).data<float>().ToArray();
            var (diff, _) = Parity.Compare(expected, actual, 1);
            maxAbs = Math.Max(maxAbs, diff);
            maxRel = Math.Max(maxRel, diff / expected.Max(Math.Abs));

            // End to end: the network's own per-channel mean on RGB 0–255 vs ML.NET's per-pixel mean image.
            float[] endToEnd = network.ForwardBackbone(network.Preprocess.forward(rgb)).data<float>().ToArray();
            minCosEndToEnd = Math.Min(minCosEndToEnd, Parity.Compare(expected, endToEnd, 1).MinCos);
        }
        output.WriteLine($"import parity (same preprocessed input): max|diff|={maxAbs:E2} (relative to max |feature| {maxRel:E2}); per-channel-mean preprocessing vs mean image: min cos={minCosEndToEnd:F6}");
        Assert.True(maxAbs <= 1e-3, $"max |diff| {maxAbs:E3}");
        Assert.True(minCosEndToEnd >= 0.99, $"per-channel mean preprocessing drifts too far from the mean image: cos {minCosEndToEnd:F6}");
    }

    [Fact]
    public void Import_fails_loudly_on_the_wrong_network_or_file()
    {
        string resnet = Parity.PackageFile(ResNet18Weights.PathInPackage);
        using var convnet = NetworkFactory.Create(NetworkSpec.Create(NetworkFactory.ConvNet, 3, 64, 64, 32));
        Assert.Contains("resnet18", Assert.Throws<ArgumentException>(() => ResNet18Weights.ImportImageNet(convnet, resnet)).Message, StringComparison.Ordinal);

        using var wrongMean = NetworkFactory.Create(NetworkSpec.Create(NetworkFactory.ResNet18, 3, 64, 64, 32));
        Assert.Contains("CreateSpec", Assert.Throws<ArgumentException>(() => ResNet18Weights.ImportImageNet(wrongMean, resnet)).Message, StringComparison.Ordinal);

        using var network = NetworkFactory.Create(ResNet18Weights.CreateSpec(64, 64, 32));
        string preprocessModel = Parity.PackageFile(ResNet18Weights.PreprocessPathInPackage);
        Assert.Contains("Conv nodes", Assert.Throws<InvalidDataException>(() => ResNet18Weights.ImportImageNet(network, preprocessModel)).Message, StringComparison.Ordinal);
        Assert.Throws<FileNotFoundException>(() => ResNet18Weights.ImportImageNet(network, "/nonexistent/ResNet18.onnx"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Exported_resnet18_matches_TorchSharp(bool trained)
    {
        torch.set_num_threads(2);
        torch.random.manual_seed(9);
        using var scope = torch.NewDisposeScope();
        using var network = NetworkFactory.Create(ResNet18Weights.CreateSpec(64, 64, 128));
        if (trained)
        {
            Parity.TrainBriefly(network, steps: 2, batch: 6, channels: 3, side: 64);
        }
        using var session = Parity.Session(Parity.ExportBytes(network));
        foreach (int batch in new[] { 1, 7 })
        {
            foreach (var (kind, input) in new[] { ("random", torch.rand(batch, 3, 64, 64) * 255), ("fashion-mnist", Parity.FashionImages(batch, channels: 3, side: 64)) })
            {
                Parity.AssertMatches(network, session, input, $"resnet18 64px trained={trained} {kind} batch={batch}", output.WriteLine);
            }
        }
    }

    [Fact]
    public void Exported_pretrained_resnet18_matches_TorchSharp_at_224()
    {
        torch.set_num_threads(2);
        torch.random.manual_seed(10);
        using var scope = torch.NewDisposeScope();
        using var network = NetworkFactory.Create(ResNet18Weights.CreateSpec(224, 224, 128));
        ResNet18Weights.ImportImageNet(network, Parity.PackageFile(ResNet18Weights.PathInPackage));
        var model = OnnxExporter.BuildModel(network, new OnnxExportOptions(), out _);
        Assert.Equal(9, model.Graph.Node.Count(n => n.OpType == "Add"));
        Assert.Equal(22, model.Graph.Node.Count(n => n.OpType == "Conv"));
        using var session = Parity.Session(Parity.ExportBytes(network));
        var input = Parity.FashionImages(1, channels: 3, side: 224);
        Parity.AssertMatches(network, session, input, "resnet18 224px pretrained fashion-mnist batch=1", output.WriteLine);
    }

    [Fact]
    public void Frozen_backbone_parameters_do_not_change_after_an_optimizer_step()
    {
        torch.set_num_threads(2);
        torch.random.manual_seed(3);
        using var scope = torch.NewDisposeScope();
        using var network = NetworkFactory.Create(ResNet18Weights.CreateSpec(32, 32, 16));
        network.FreezeBackbone();
        network.SetBatchNormMode(BatchNormMode.Eval);
        var parameters = network.named_parameters().ToList();
        Assert.All(parameters, p => Assert.Equal(p.name.StartsWith("features.fc.", StringComparison.Ordinal), p.parameter.requires_grad));
        var before = network.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());

        network.train();
        Assert.All(network.modules().OfType<BatchNorm>(), bn => Assert.False(bn.training));
        using var optimizer = optim.Adam(network.parameters(), 0.01);
        optimizer.zero_grad();
        network.forward(torch.rand(4, 3, 32, 32) * 255).sum().backward();
        optimizer.step();

        foreach (var (name, value) in network.state_dict())
        {
            bool changed = !before[name].eq(value).all().item<bool>();
            Assert.True(changed == name.StartsWith("features.fc.", StringComparison.Ordinal), $"{name} changed={changed}");
        }
    }

    [Fact]
    public void Stages_unfreeze_from_the_deepest_and_batch_norm_mode_survives_train()
    {
        using var network = NetworkFactory.Create(ResNet18Weights.CreateSpec(32, 32, 16));
        network.UnfreezeStages(2);
        foreach (var (name, parameter) in network.named_parameters())
        {
            bool trainable = name.StartsWith("features.layer3.", StringComparison.Ordinal) || name.StartsWith("features.layer4.", StringComparison.Ordinal) || name.StartsWith("features.fc.", StringComparison.Ordinal);
            Assert.True(parameter.requires_grad == trainable, name);
        }
        network.UnfreezeAll();
        Assert.All(network.parameters(), p => Assert.True(p.requires_grad));

        network.SetBatchNormMode(BatchNormMode.Eval);
        network.train();
        Assert.True(network.training);
        Assert.Equal(22, network.modules().OfType<BatchNorm>().Count());   // bn1, 2 per block (9 blocks), 3 shortcuts
        Assert.All(network.modules().OfType<BatchNorm>(), bn => Assert.False(bn.training));
        Assert.All(network.modules().OfType<Conv2d>(), conv => Assert.True(conv.training));
        network.SetBatchNormMode(BatchNormMode.Train);
        Assert.All(network.modules().OfType<BatchNorm>(), bn => Assert.True(bn.training));
        network.eval();
        Assert.All(network.modules(), m => Assert.False(m.training));

        using var convnet = NetworkFactory.Create(NetworkSpec.Create(NetworkFactory.ConvNet, 1, 28, 28, 16));
        Assert.Throws<InvalidOperationException>(() => convnet.UnfreezeStages(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => network.UnfreezeStages(5));
    }
}
