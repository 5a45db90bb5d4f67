using ImageRetrieval.Training;
using ImageRetrieval.Training.Mining;
using ImageRetrieval.Training.Networks;
using TorchSharp;

namespace ImageRetrieval.Training.Tests;

/// <summary>Per-epoch learning signals, held-out-class validation, early stopping and the collapse stop, on real Fashion-MNIST.</summary>
[Collection(TorchCollection.Name)]
public class TrainingSignalsTests
{
    private static TrainingOptions Quick => new()
    {
        EmbeddingDimension = 32,
        Epochs = 2,
        ClassesPerBatch = 8,
        SamplesPerClass = 10,
        LearningRate = 1e-3,
        Schedule = LearningRateSchedule.Step,
        Threads = 1,
        Seed = 5,
    };

    [Fact]
    public void Batch_all_epochs_report_triplet_statistics_that_show_learning_on_held_out_classes()
    {
        ValidationSplit split = ValidationSplit.Create(TrainingData.Train);

        var result = TripletTrainer.Train(split.Train, split.Queries, split.Gallery, Quick);
        using var network = result.Network;

        var history = result.Info.History;
        Assert.Equal(2, history.Count);
        TripletStatistics first = history[0].Triplets!, last = history[1].Triplets!;
        // Batch-all keeps its active share near 100 % whatever happens; the share of all triplets ranked the
        // wrong way is what falls, well below chance (0.5), and the classes move apart.
        Assert.True(last.WrongOrderFraction < 0.25, $"wrong order {first.WrongOrderFraction:F3} → {last.WrongOrderFraction:F3}");
        Assert.True(last.WrongOrderFraction < first.WrongOrderFraction, $"wrong order {first.WrongOrderFraction:F3} → {last.WrongOrderFraction:F3}");
        Assert.True(last.DistanceGap > first.DistanceGap, $"gap {first.DistanceGap:F3} → {last.DistanceGap:F3}");
        Assert.InRange(last.ViolatingFraction, last.WrongOrderFraction, 1);
        Assert.InRange(last.Spread, 0.3, 1);
        // Validation ran on the held-out classes: queries against their own gallery, not the training images.
        var validation = history[1].Validation!;
        Assert.Equal(split.Queries.Count, validation.QueryCount);
        Assert.InRange(validation.PrecisionAt1, 0.5, 1);
    }

    [Fact]
    public void The_instance_term_keeps_images_of_one_class_apart()
    {
        var without = TripletTrainer.Train(TrainingData.Train, null, Quick with { Epochs = 1 });
        var with = TripletTrainer.Train(TrainingData.Train, null, Quick with { Epochs = 1, InstanceLossWeight = 1 });
        using (without.Network)
        using (with.Network)
        {
            TripletStatistics plain = without.Info.History[0].Triplets!, instances = with.Info.History[0].Triplets!;
            // Same seed and batches; the second view of each image is its only instance positive, so a class cannot shrink to a point.
            Assert.True(instances.MeanPositiveDistance > plain.MeanPositiveDistance,
                $"mean distance within a class: {plain.MeanPositiveDistance:F3} without, {instances.MeanPositiveDistance:F3} with the instance term");
            Assert.True(double.IsFinite(with.Info.History[0].Loss));
            Assert.Equal(1.0, with.Info.Options!.InstanceLossWeight);
        }
    }

    [Fact]
    public void The_NT_Xent_form_of_the_instance_term_trains_and_is_recorded()
    {
        var without = TripletTrainer.Train(TrainingData.Train, null, Quick with { Epochs = 1 });
        var with = TripletTrainer.Train(TrainingData.Train, null, Quick with { Epochs = 1, InstanceLossWeight = 0.2, InstanceTemperature = 0.1 });
        using (without.Network)
        using (with.Network)
        {
            TripletStatistics plain = without.Info.History[0].Triplets!, instances = with.Info.History[0].Triplets!;
            Assert.True(instances.MeanPositiveDistance > plain.MeanPositiveDistance,
                $"mean distance within a class: {plain.MeanPositiveDistance:F3} without, {instances.MeanPositiveDistance:F3} with the NT-Xent term");
            Assert.True(instances.WrongOrderFraction < 0.5, $"wrong order {instances.WrongOrderFraction:F3}: the class term still learns");
            Assert.True(double.IsFinite(with.Info.History[0].Loss));
            Assert.Equal(0.1, with.Info.Options!.InstanceTemperature);
        }
    }

    [Fact]
    public void Embedding_with_an_inner_layer_trains_the_head_as_before_and_validates_and_checkpoints_the_layer()
    {
        using var temp = new TempDirectory();
        var head = TripletTrainer.Train(TrainingData.Train, null, Quick with { Epochs = 1 });
        var layer = TripletTrainer.Train(TrainingData.Train, TrainingData.Test,
            Quick with { Epochs = 1, EmbeddingLayers = ["pool2"], CheckpointPath = temp.File("run.ckpt") });
        using (head.Network)
        using (layer.Network)
        {
            // The losses train the head's output either way: same seed and batches, the same weights.
            foreach (var ((name, a), (_, b)) in head.Network.named_parameters().Zip(layer.Network.named_parameters()))
            {
                Assert.True(a.allclose(b, rtol: 0, atol: 0), $"parameter {name} differs");
            }
            // The output is the pooled conv features (64 x 4 x 4 at 28 px), unit length, and validation ranked with them.
            Assert.Equal(64 * 4 * 4, layer.Network.OutputDimension);
            var queries = TrainingData.Test.Take(50);
            float[] embedded = NetworkEmbedder.Embed(layer.Network, queries);
            Assert.Equal(50 * 64 * 4 * 4, embedded.Length);
            Assert.Equal(1.0, Math.Sqrt(embedded.Take(64 * 4 * 4).Sum(v => (double)v * v)), 5);
            var validation = layer.Info.History[0].Validation!;
            var again = TripletTrainer.Evaluate(layer.Network, TrainingData.Test, TrainingData.Train);
            Assert.Equal(again.MapAtR, validation.MapAtR, 9);
            Assert.NotEqual(TripletTrainer.Evaluate(head.Network, TrainingData.Test, TrainingData.Train).MapAtR, validation.MapAtR, 6);
            // The checkpoint rebuilds the same network.
            using var reloaded = ImageRetrieval.Training.Checkpoints.CheckpointFile.Load(temp.File("run.ckpt"), out var info);
            Assert.Equal(["pool2"], info.Spec.EmbeddingLayers!);
            Assert.Equal(embedded, NetworkEmbedder.Embed(reloaded, queries));
            Assert.Equal(64 * 4 * 4, info.ToModelMetadata().EmbeddingDimension);
        }
    }

    [Fact]
    public void A_collapse_threshold_above_the_spread_stops_the_run_with_a_message_saying_what_to_change()
    {
        using var temp = new TempDirectory();
        // The spread is at most 1, so a threshold of 1 treats every epoch as collapsed: the stop is exercised deterministically.
        var options = Quick with { CollapseSpread = 1, CheckpointPath = temp.File("run.ckpt") };

        var e = Assert.Throws<EmbeddingCollapseException>(() => TripletTrainer.Train(TrainingData.Train, null, options));

        Assert.Equal(1, e.Epoch);
        Assert.Contains("collapsed in epoch 1", e.Message, StringComparison.Ordinal);
        Assert.Contains("--lr", e.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(options.CheckpointPath), "the collapsed epoch is checkpointed");
        Assert.Equal(1, ImageRetrieval.Training.Checkpoints.CheckpointFile.ReadInfo(options.CheckpointPath!).Epoch);
    }

    [Fact]
    public void Early_stopping_restores_the_weights_of_the_best_evaluation()
    {
        torch.random.manual_seed(3);
        var spec = new NetworkSpec(NetworkFactory.Classic, 1, 28, 28, 8, [0f], [1f]);
        using var network = NetworkFactory.Create(spec);
        using var stopping = new EarlyStopping(patience: 2);
        float[] best = NetworkEmbedder.Embed(network, TrainingData.Test.Take(20));

        Assert.False(stopping.Observe(network, 0.5));
        using (torch.no_grad())
        {
            foreach (var p in network.parameters())
            {
                p.add_(0.1f);
            }
        }
        Assert.NotEqual(best, NetworkEmbedder.Embed(network, TrainingData.Test.Take(20)));
        Assert.False(stopping.Observe(network, 0.4));
        Assert.True(stopping.Observe(network, 0.45));
        stopping.RestoreBest(network);

        Assert.Equal(0.5, stopping.BestScore);
        Assert.Equal(best, NetworkEmbedder.Embed(network, TrainingData.Test.Take(20)));
        using var never = new EarlyStopping(patience: 0);
        Assert.False(never.Observe(network, 0) || never.Observe(network, 0) || never.Observe(network, 0));
    }
}
