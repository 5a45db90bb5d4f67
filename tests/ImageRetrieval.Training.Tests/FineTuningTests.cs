using ImageRetrieval.Datasets;
using ImageRetrieval.Training;
using ImageRetrieval.Training.Augmentation;
using ImageRetrieval.Training.Checkpoints;
using ImageRetrieval.Training.Mining;
using ImageRetrieval.Training.Networks;
using ImageRetrieval.Training.Tests.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Tests;

/// <summary>
/// Issue 8's training path as <c>imgret train --dataset oxford102 --arch resnet18 --pretrained --freeze-backbone</c>
/// runs it: Oxford 102 splits, photo augmentation, ImageNet initialisation, frozen layers, checkpoint, evaluation.
/// </summary>
[Collection(TorchCollection.Name)]
public class FineTuningTests
{
    private const int Size = 32;

    private static TrainingOptions FrozenResNet(string? weights, string checkpoint) => new()
    {
        Architecture = NetworkFactory.ResNet18,
        EmbeddingDimension = 16,
        Epochs = 1,
        ClassesPerBatch = TinyOxford102.Classes,
        SamplesPerClass = 2,
        // Random triplets with the soft margin always give a gradient, so the head must move.
        Miner = TripletMiningStrategy.Random,
        SoftMargin = true,
        LearningRate = 1e-2,
        Threads = 1,
        Seed = 3,
        CheckpointPath = checkpoint,
        PhotoAugmentation = new PhotoAugmentationOptions { OutputSize = Size },
        FineTuning = new FineTuningOptions { PretrainedWeights = weights, FreezeBackbone = true, BatchNormMode = BatchNormMode.Eval },
    };

    [Fact]
    public void Frozen_ImageNet_resnet18_on_Oxford102_trains_only_its_head_checkpoints_evaluates_and_resumes_frozen()
    {
        using var layout = TinyOxford102.Create();
        // ImageNet weights when the package is in the NuGet cache (as for `imgret train --pretrained`), else random ones.
        string? weights = ResNet18Weights.FindPackagedModel();
        var options = FrozenResNet(weights, layout.File("run.ckpt"));
        var photo = options.PhotoAugmentation!;
        Oxford102Set train = Oxford102Flowers.Load(layout.Path, Oxford102Split.Train, photo.StorageSize(), maxDegreeOfParallelism: 1);
        Oxford102Set validation = Oxford102Flowers.Load(layout.Path, Oxford102Split.Validation, Size, maxDegreeOfParallelism: 1);
        var skipped = Assert.Single(train.Skipped);
        Assert.Equal(layout.CorruptPath, skipped.Path);
        Assert.Equal(TinyOxford102.Classes * TinyOxford102.TrainPerClass - 1, train.Images.Count);
        Assert.Equal(37, train.Images.Height); // 32 × 256/224, stored larger for the random crops

        // The trainer's starting point, rebuilt the same way (same seed).
        torch.random.manual_seed(options.Seed);
        using var initial = TrainingInputs.CreateNetwork(train.Images, options);
        var result = TripletTrainer.Train(train.Images, validation.Images, options);
        using (var network = result.Network)
        {
            AssertOnlyTheHeadChanged(initial, network);
            Assert.Equal((3, Size, Size), (network.Spec.Channels, network.Spec.Height, network.Spec.Width));
            if (weights is not null)
            {
                Assert.Equal(ResNet18Weights.ImageNetMeanRgb, network.Spec.Mean);
            }
            var validated = Assert.Single(result.Info.History).Validation!;
            Assert.Equal(validation.Images.Count, validated.QueryCount);
        }

        // The checkpoint records what a resumed run needs to freeze and augment the same way.
        CheckpointInfo info = CheckpointFile.ReadInfo(options.CheckpointPath!);
        Assert.Equal(options.FineTuning, info.Options!.FineTuning);
        Assert.Equal(photo, info.Options.PhotoAugmentation);
        Assert.Equal(1, info.Epoch);

        // What `imgret eval --dataset oxford102` measures: the test split against the train split, at the input size.
        using (var loaded = CheckpointFile.LoadNetwork(options.CheckpointPath!))
        {
            var queries = Oxford102Flowers.Load(layout.Path, Oxford102Split.Test, Size, maxDegreeOfParallelism: 1).Images;
            var gallery = Oxford102Flowers.Load(layout.Path, Oxford102Split.Train, Size, maxDegreeOfParallelism: 1).Images;
            var metrics = TripletTrainer.Evaluate(loaded, queries, gallery);
            Assert.Equal(TinyOxford102.Classes * 3, metrics.QueryCount);
            Assert.InRange(metrics.MapAtR, 0, 1);
            Assert.InRange(metrics.PrecisionAt1, 0, 1);
        }

        // Resuming takes the freezing from the checkpoint, not from the (plain) options passed in.
        var resume = new TrainingOptions { Epochs = 2, Threads = 1, ResumeFrom = options.CheckpointPath, CheckpointPath = layout.File("resumed.ckpt") };
        var resumed = TripletTrainer.Train(train.Images, validation.Images, resume);
        using (var network = resumed.Network)
        {
            AssertOnlyTheHeadChanged(initial, network);
            Assert.Equal(2, resumed.Info.History.Count);
            Assert.Equal(options.FineTuning, resumed.Info.Options!.FineTuning);
        }
    }

    [Fact]
    public void Pretrained_weights_or_stage_unfreezing_with_another_architecture_fail_before_training()
    {
        var classic = new TrainingOptions { Architecture = NetworkFactory.Classic, FineTuning = new FineTuningOptions { PretrainedWeights = "ResNet18.onnx" } };
        var e = Assert.Throws<ArgumentException>(classic.Validate);
        Assert.Equal(nameof(FineTuningOptions.PretrainedWeights), e.ParamName);
        Assert.Contains("'resnet18'", e.Message, StringComparison.Ordinal);
        Assert.Contains("'classic'", e.Message, StringComparison.Ordinal);
        // The trainer validates before it builds anything or reads the data.
        var set = new LabeledImageSet("two", new byte[2 * 28 * 28], [0, 1], 1, 28, 28, ["a", "b"]);
        Assert.Throws<ArgumentException>(() => TripletTrainer.Train(set, null, classic));

        var convnet = new TrainingOptions { Architecture = NetworkFactory.ConvNet, FineTuning = new FineTuningOptions { UnfreezeStages = 1 } };
        Assert.Contains("'resnet18'", Assert.Throws<ArgumentException>(convnet.Validate).Message, StringComparison.Ordinal);
        var tooMany = new TrainingOptions { Architecture = NetworkFactory.ResNet18, FineTuning = new FineTuningOptions { UnfreezeStages = 5 } };
        Assert.Contains("0..4", Assert.Throws<ArgumentException>(tooMany.Validate).Message, StringComparison.Ordinal);
        // Freezing the backbone of a small network is allowed (its head is the last Linear layer).
        new TrainingOptions { FineTuning = new FineTuningOptions { FreezeBackbone = true } }.Validate();
    }

    [Fact]
    public void A_missing_packaged_model_names_the_package_its_version_and_the_paths_looked_at()
    {
        var e = Assert.Throws<FileNotFoundException>(() => ImageRetrieval.ML.Models.ResNet18FeaturizerPackage.Require("tools/missing/ResNet18.onnx"));
        Assert.Contains(ResNet18Weights.PackageId, e.Message, StringComparison.Ordinal);
        Assert.Contains(ResNet18Weights.PackageVersion, e.Message, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(".nuget", "packages", ResNet18Weights.PackageId.ToLowerInvariant()), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_ImageNet_feature_network_outputs_the_L2_normalised_pooled_backbone_features()
    {
        torch.set_num_threads(1);
        using var network = ResNet18Weights.CreateImageNetFeatureNetwork(64, 48, Parity.PackageFile(ResNet18Weights.PathInPackage));
        Assert.Equal(512, network.Spec.EmbeddingDimension);
        Assert.False(network.training);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        torch.random.manual_seed(2);
        var images = torch.rand(3, 3, 64, 48) * 255;
        var pooled = network.ForwardBackbone(network.Preprocess.forward(images));
        var expected = nn.functional.normalize(pooled, p: 2, dim: 1);
        var actual = network.forward(images);
        Assert.True(actual.allclose(expected, rtol: 1e-5, atol: 1e-6), "the identity head changed the features");
        Assert.True(pooled.min().item<float>() >= 0, "pooled ReLU features are non-negative");
    }

    [Fact]
    public void The_evaluation_gallery_is_the_training_set_at_the_network_input_size()
    {
        var pixels = new byte[2 * 3 * 37 * 37];
        Array.Fill(pixels, (byte)90);
        var stored = new LabeledImageSet("stored", pixels, [0, 1], 3, 37, 37, ["a", "b"]);
        var spec = NetworkSpec.Create(NetworkFactory.ConvNet, 3, 32, 32, 8);
        LabeledImageSet gallery = TrainingInputs.EvaluationGallery(stored, spec);
        Assert.Equal((2, 3, 32, 32), (gallery.Count, gallery.Channels, gallery.Height, gallery.Width));
        Assert.All(gallery.Pixels.ToArray(), p => Assert.Equal(90, p));
        Assert.Equal([0, 1], gallery.Labels.ToArray());
        Assert.Same(gallery, TrainingInputs.EvaluationGallery(gallery, spec));
    }

    // Every parameter and batch-norm statistic except the embedding head (features.fc.*) is bit-identical.
    private static void AssertOnlyTheHeadChanged(EmbeddingNetwork before, EmbeddingNetwork after)
    {
        var old = before.state_dict();
        int compared = 0;
        foreach (var (name, tensor) in after.state_dict())
        {
            bool same = old[name].eq(tensor).all().item<bool>();
            if (name.StartsWith("features.fc.", StringComparison.Ordinal))
            {
                if (name.EndsWith(".weight", StringComparison.Ordinal))
                {
                    Assert.False(same, "the head did not train");
                }
                continue;
            }
            Assert.True(same, $"{name} changed although the backbone is frozen (batch norm in eval mode)");
            compared++;
        }
        Assert.True(compared > 100, $"compared only {compared} tensors");
    }
}
