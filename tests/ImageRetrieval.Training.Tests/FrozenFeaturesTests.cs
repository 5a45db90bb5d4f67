using ImageRetrieval.Datasets;
using ImageRetrieval.ML.Imaging;
using ImageRetrieval.Tests;
using ImageRetrieval.Training.Augmentation;
using ImageRetrieval.Training.Mining;
using ImageRetrieval.Training.Networks;
using ImageRetrieval.Training.Onnx;
using ImageRetrieval.Training.Tests.Onnx;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Tests;

/// <summary>
/// <c>imgret train --arch resnet18 --pretrained --freeze-backbone</c> on a folder of colour images: the frozen backbone's
/// features are computed once per image and only the head trains on them; the result is the network the backbone-every-epoch
/// path trains, and its ONNX export (backbone + head) gives what the cached path gives.
/// </summary>
[Collection(TorchCollection.Name)]
public class FrozenFeaturesTests(ITestOutputHelper output)
{
    private const int Size = 32, Classes = 4, PerClass = 6, QueriesPerClass = 2, Epochs = 3;

    // ImageNet weights when the package is in the NuGet cache (as for `imgret train --pretrained`), else random ones.
    private static TrainingOptions Recipe(bool cache) => new()
    {
        Architecture = NetworkFactory.ResNet18,
        EmbeddingDimension = 16,
        Epochs = Epochs,
        ClassesPerBatch = Classes,
        SamplesPerClass = 3,
        SoftMargin = true, // always a gradient, so the head must move
        LearningRate = 1e-3,
        Augmentation = AugmentationOptions.None, // the same pixels both ways, so the two paths train the same head
        Threads = 1,
        Seed = 5,
        FineTuning = new FineTuningOptions { PretrainedWeights = ResNet18Weights.FindPackagedModel(), FreezeBackbone = true, BatchNormMode = BatchNormMode.Eval },
        CacheFrozenFeatures = cache,
    };

    [Fact]
    public void A_frozen_backbone_runs_once_per_image_not_per_epoch_and_trains_the_head_the_full_path_trains()
    {
        using var folder = new TempDirectory();
        var (train, queries) = ColourFolders(folder);

        TrainingResult cached = TripletTrainer.Train(train, queries, Recipe(cache: true));
        TrainingResult full = TripletTrainer.Train(train, queries, Recipe(cache: false));
        torch.random.manual_seed(Recipe(true).Seed);
        using var initial = TrainingInputs.CreateNetwork(train, Recipe(true));
        using var cachedNetwork = cached.Network;
        using var fullNetwork = full.Network;

        // Once per image: the training images (also the validation gallery) and the validation queries, for all three epochs.
        Assert.Equal(train.Count + queries.Count, cached.FrozenFeatures!.Images);
        Assert.Equal(train.Count + queries.Count, cachedNetwork.BackboneImages);
        Assert.Equal(Epochs, cached.Info.History.Count);
        Assert.All(cached.Info.History, epoch => Assert.NotNull(epoch.Validation));
        // The full path runs the backbone on every batch of every epoch, and over both sets at every evaluation.
        Assert.Null(full.FrozenFeatures);
        int batches = Epochs * (train.Count / (Classes * 3));
        Assert.Equal((batches * Classes * 3) + (Epochs * (train.Count + queries.Count)), fullNetwork.BackboneImages);

        // The same head: it moved, and both paths moved it the same way (up to float rounding of batched convolutions).
        double Mean(Tensor t) => t.abs().mean().item<float>();
        var w0 = initial.HeadLayer.weight!;
        var wCached = cachedNetwork.HeadLayer.weight!;
        var wFull = fullNetwork.HeadLayer.weight!;
        double moved = Mean(wCached - w0), gap = Mean(wCached - wFull);
        output.WriteLine($"head moved {moved:E3} on average; cached - full {gap:E3}");
        Assert.True(moved > 1e-5, "the head did not train");
        Assert.True(gap < moved * 0.01, $"the cached path trained another head: mean |cached - full| {gap:E3} against a mean move of {moved:E3}");
        float[] a = Parity.RunTorch(cachedNetwork, Pixels(queries)), b = Parity.RunTorch(fullNetwork, Pixels(queries));
        for (int row = 0; row < queries.Count; row++)
        {
            double cosine = 0;
            for (int i = 0; i < 16; i++)
            {
                cosine += a[(row * 16) + i] * b[(row * 16) + i];
            }
            Assert.True(cosine > 0.9999, $"query {row}: cosine {cosine} between the two paths' embeddings");
        }
        AssertOnlyTheHeadDiffers(initial, cachedNetwork);
    }

    [Fact]
    public void The_exported_model_is_backbone_plus_head_and_embeds_as_the_cached_path_does()
    {
        using var folder = new TempDirectory();
        var (train, queries) = ColourFolders(folder);
        TrainingResult result = TripletTrainer.Train(train, null, Recipe(cache: true) with { Epochs = 1 });
        using var network = result.Network;
        string path = folder.File("head.onnx");
        OnnxExporter.Export(network, path);

        // The cached path: the backbone's features of the images, then the trained head and L2 normalisation.
        using var features = FrozenFeatures.Compute(network, queries, null, null, Recipe(true), null, CancellationToken.None);
        float[] expected = FeatureBatches.Embed(network.HeadLayer, features.Train);
        using var session = Parity.Session(path);
        float[] actual = Parity.RunOrt(session, Pixels(queries));
        Assert.Equal(expected.Length, actual.Length);
        double worst = expected.Zip(actual, (x, y) => Math.Abs(x - y)).Max();
        output.WriteLine($"max |cached path - ONNX Runtime| = {worst:E2}");
        Assert.True(worst <= Parity.MaxAbsDiff, $"max |diff| {worst:E2}");
    }

    [Fact]
    public void Layers_left_trainable_batch_norm_in_training_mode_or_the_instance_term_keep_the_backbone_in_the_loop()
    {
        torch.random.manual_seed(1);
        using var network = NetworkFactory.Create(NetworkSpec.Create(NetworkFactory.ResNet18, 3, Size, Size, 8));
        Assert.True(FrozenFeatures.Applies(Recipe(true), network));
        Assert.False(FrozenFeatures.Applies(Recipe(false), network));
        var fineTuning = Recipe(true).FineTuning!;
        Assert.False(FrozenFeatures.Applies(Recipe(true) with { FineTuning = fineTuning with { UnfreezeStages = 1 } }, network));
        Assert.False(FrozenFeatures.Applies(Recipe(true) with { FineTuning = fineTuning with { BatchNormMode = BatchNormMode.Train } }, network));
        Assert.False(FrozenFeatures.Applies(Recipe(true) with { InstanceLossWeight = 1 }, network));
        Assert.False(FrozenFeatures.Applies(Recipe(true) with { FineTuning = null }, network));
        // Without batch norm (the classic network), its mode does not matter.
        using var classic = NetworkFactory.Create(NetworkSpec.Create(NetworkFactory.Classic, 3, Size, Size, 8));
        Assert.True(FrozenFeatures.Applies(Recipe(true) with { FineTuning = fineTuning with { BatchNormMode = BatchNormMode.Train } }, classic));
    }

    [Fact]
    public void A_feature_head_trains_on_given_vectors_and_starts_as_the_identity()
    {
        // Two classes along two axes plus noise: the identity head already separates them; training keeps the loss falling.
        var random = new Random(3);
        int rows = 40, dimension = 8;
        var features = new float[rows * dimension];
        var labels = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            labels[r] = r % 4;
            for (int i = 0; i < dimension; i++)
            {
                features[(r * dimension) + i] = (float)(random.NextDouble() * 0.8) + (i == labels[r] ? 1f : 0f);
            }
        }
        using var head = FeatureHead.Identity(dimension);
        float[] before = head.Embed(features);
        for (int r = 0; r < rows; r++)
        {
            var row = features.AsSpan(r * dimension, dimension).ToArray();
            double norm = Math.Sqrt(row.Sum(v => v * v));
            for (int i = 0; i < dimension; i++)
            {
                Assert.Equal(row[i] / norm, before[(r * dimension) + i], 5);
            }
        }
        var recipe = new TrainingOptions { Miner = TripletMiningStrategy.BatchAll, ClassesPerBatch = 4, SamplesPerClass = 5, LearningRate = 1e-2, Epochs = 20, Threads = 1, Seed = 2 };
        IReadOnlyList<EpochSummary> history = TripletTrainer.TrainHead(head, features, labels, recipe);
        Assert.Equal(20, history.Count);
        Assert.True(history[^1].Loss < history[0].Loss, $"loss {history[0].Loss} -> {history[^1].Loss}");
        Assert.Throws<ArgumentException>(() => TripletTrainer.TrainHead(head, features[..^1], labels, recipe));
    }

    // Four classes of colourful PNG patterns (36 x 36, decoded to 32 x 32 RGB): a training folder and a query folder.
    private static (LabeledImageSet Train, LabeledImageSet Queries) ColourFolders(TempDirectory folder)
    {
        foreach (var (name, count, offset) in new[] { ("train", PerClass, 0), ("queries", QueriesPerClass, PerClass) })
        {
            for (int c = 0; c < Classes; c++)
            {
                string dir = Path.Combine(folder.Path, name, $"class{c}");
                Directory.CreateDirectory(dir);
                for (int i = 0; i < count; i++)
                {
                    File.WriteAllBytes(Path.Combine(dir, $"{i}.png"), TestImages.Pattern(36 + (c * 4), 36, seed: (c * 64) + ((offset + i) * 5)));
                }
            }
        }
        var decode = new ImageDecodeOptions { Width = Size, Height = Size, Channels = 3 };
        var train = ImageFolderDataset.Load(Path.Combine(folder.Path, "train"), decode, maxDegreeOfParallelism: 1).Images;
        var queries = ImageFolderDataset.Load(Path.Combine(folder.Path, "queries"), decode, train.ClassNames, maxDegreeOfParallelism: 1).Images;
        return (train, queries);
    }

    private static Tensor Pixels(LabeledImageSet set) => NetworkEmbedder.ToTensor(set.Pixels, set.Count, set.Channels, set.Height, set.Width);

    private static void AssertOnlyTheHeadDiffers(EmbeddingNetwork before, EmbeddingNetwork after)
    {
        var old = before.state_dict();
        foreach (var (name, tensor) in after.state_dict().Where(p => !p.Key.StartsWith("features.fc.", StringComparison.Ordinal)))
        {
            Assert.True(old[name].eq(tensor).all().item<bool>(), $"{name} changed although the backbone is frozen");
        }
    }
}
