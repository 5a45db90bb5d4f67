using ImageRetrieval.Training.Mining;
using ImageRetrieval.Training.Networks;
using ImageRetrieval.Training.Training;

namespace ImageRetrieval.Training.Tests.Training;

[Collection(TorchCollection.Name)]
public class TripletTrainerTests
{
    private static TrainingOptions Quick(TripletMiningStrategy miner) => new()
    {
        Architecture = NetworkFactory.Classic,
        EmbeddingDimension = 32,
        Epochs = 2,
        ClassesPerBatch = 10,
        SamplesPerClass = 10,
        Miner = miner,
        Threads = 2,
        Seed = 5,
    };

    [Theory]
    [InlineData(TripletMiningStrategy.BatchAll)]
    [InlineData(TripletMiningStrategy.BatchHard)]
    [InlineData(TripletMiningStrategy.SemiHard)]
    [InlineData(TripletMiningStrategy.Random)]
    public void Training_lowers_the_loss_and_beats_the_untrained_network(TripletMiningStrategy miner)
    {
        var options = Quick(miner);
        ImageRetrieval.ML.Evaluation.RetrievalMetricsResult before;
        TorchSharp.torch.random.manual_seed(options.Seed);
        var (mean, std) = TripletTrainer.ChannelStatistics(TrainingData.Train);
        using (var untrained = NetworkFactory.Create(new NetworkSpec(options.Architecture, 1, 28, 28, options.EmbeddingDimension, mean, std)))
        {
            before = TripletTrainer.Evaluate(untrained, TrainingData.Test, TrainingData.Train);
        }

        var reports = new List<TrainingProgress>();
        var result = TripletTrainer.Train(TrainingData.Train, TrainingData.Test, options, new SynchronousProgress<TrainingProgress>(reports.Add));
        using var network = result.Network;

        var history = result.Info.History;
        Assert.Equal(2, history.Count);
        // The reported loss averages over the triplets that still violate the margin (pytorch-metric-learning's
        // AvgNonZeroReducer), which can rise as easy triplets drop out; the mean hinge over all mined
        // triplets (loss × active fraction) is the objective that must fall.
        double MeanHinge(EpochSummary e) => e.Loss * e.ActiveTripletFraction;
        Assert.True(MeanHinge(history[^1]) < MeanHinge(history[0]),
            $"mean hinge over all triplets {MeanHinge(history[0])} → {MeanHinge(history[^1])} (loss {history[0].Loss} → {history[^1].Loss}, active {history[0].ActiveTripletFraction:P0} → {history[^1].ActiveTripletFraction:P0})");
        var after = history[^1].Validation!;
        Assert.True(after.MapAtR > before.MapAtR + 0.05, $"MAP@R {before.MapAtR:F3} → {after.MapAtR:F3}");
        Assert.True(after.PrecisionAt1 > 0.6, $"P@1 {after.PrecisionAt1:F3}");
        Assert.Contains(reports, r => r.Phase == TrainingPhase.Training);
        Assert.Equal(2, reports.Count(r => r.Phase == TrainingPhase.EpochCompleted));
        Assert.Equal(TrainingData.Train.Name, result.Info.TrainingDataset);
        Assert.Equal(mean, network.Spec.Mean);
    }

    [Fact]
    public void Same_seed_gives_the_same_run()
    {
        var options = Quick(TripletMiningStrategy.BatchHard) with { Epochs = 1 };
        var first = TripletTrainer.Train(TrainingData.Train, null, options);
        var second = TripletTrainer.Train(TrainingData.Train, null, options);
        using (first.Network)
        using (second.Network)
        {
            Assert.Equal(first.Info.History[0].Loss, second.Info.History[0].Loss, 6);
        }
    }

    [Fact]
    public void Bad_options_and_mismatched_data_are_refused()
    {
        Assert.Throws<ArgumentException>(() => TripletTrainer.Train(TrainingData.Train, null, new TrainingOptions { Architecture = "vgg" }));
        Assert.Throws<ArgumentException>(() => TripletTrainer.Train(TrainingData.Train, null, new TrainingOptions { SamplesPerClass = 1 }));
        var tiny = TrainingData.Train.Select([0, 1, 2, 3]);
        var other = new ImageRetrieval.ML.Datasets.LabeledImageSet("rgb", new byte[3 * 28 * 28], [0], 3, 28, 28, tiny.ClassNames);
        var error = Assert.Throws<ArgumentException>(() => TripletTrainer.Train(TrainingData.Train, other, Quick(TripletMiningStrategy.BatchAll)));
        Assert.Contains("3x28x28", error.Message, StringComparison.Ordinal);
    }
}

/// <summary>An IProgress that reports on the calling thread (Progress&lt;T&gt; posts to the thread pool).</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
