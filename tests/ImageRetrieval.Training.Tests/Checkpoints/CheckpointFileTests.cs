using ImageRetrieval.Training;
using ImageRetrieval.Training.Checkpoints;
using ImageRetrieval.Training.Mining;
using ImageRetrieval.Training.Networks;

namespace ImageRetrieval.Training.Tests.Checkpoints;

[Collection(TorchCollection.Name)]
public class CheckpointFileTests
{
    private static TrainingOptions Options(string checkpoint) => new()
    {
        Architecture = NetworkFactory.ConvNet,
        EmbeddingDimension = 16,
        Epochs = 1,
        SamplesPerClass = 8,
        Miner = TripletMiningStrategy.BatchHard,
        Distance = TripletDistance.Cosine,
        // A step schedule does not depend on the total epoch count, so "1 epoch, then resumed to 2"
        // is the same run as "2 epochs"; with cosine it is not (the curve is drawn over the total).
        Schedule = LearningRateSchedule.Step,
        Threads = 2,
        CheckpointPath = checkpoint,
    };

    [Fact]
    public void A_checkpoint_rebuilds_the_network_with_no_other_input()
    {
        using var dir = new TempDirectory();
        string path = dir.File("run/model.ckpt");
        var data = TrainingData.Train.Take(800);
        var result = TripletTrainer.Train(data, null, Options(path));
        using var trained = result.Network;

        using var loaded = CheckpointFile.LoadNetwork(path);
        Assert.Equal(trained.Spec.Architecture, loaded.Spec.Architecture);
        Assert.Equal(trained.Spec.Mean, loaded.Spec.Mean);
        Assert.Equal(NetworkEmbedder.Embed(trained, data.Take(50)), NetworkEmbedder.Embed(loaded, data.Take(50)));

        var info = CheckpointFile.ReadInfo(path);
        Assert.Equal(1, info.Epoch);
        Assert.Equal("cosine", info.Metric);
        Assert.Equal(data.Name, info.TrainingDataset);
        Assert.Equal(TripletMiningStrategy.BatchHard, info.Options!.Miner);
        var metadata = info.ToModelMetadata();
        Assert.Equal((28, 28, 1, 16), (metadata.InputWidth, metadata.InputHeight, metadata.InputChannels, metadata.EmbeddingDimension));
        Assert.Single(Directory.GetFiles(dir.File("run")));   // no temporary files left behind
    }

    [Fact]
    public void Resuming_continues_where_the_checkpoint_stopped_and_matches_an_uninterrupted_run()
    {
        using var dir = new TempDirectory();
        var data = TrainingData.Train.Take(800);
        string straight = dir.File("straight.ckpt");
        string resumed = dir.File("resumed.ckpt");

        var full = TripletTrainer.Train(data, null, Options(straight) with { Epochs = 2 });
        full.Network.Dispose();
        TripletTrainer.Train(data, null, Options(resumed)).Network.Dispose();
        var continued = TripletTrainer.Train(data, null, Options(resumed) with { Epochs = 2, ResumeFrom = resumed });
        continued.Network.Dispose();

        Assert.Equal(2, continued.Info.History.Count);
        Assert.Equal(full.Info.History[1].Loss, continued.Info.History[1].Loss, 4);
    }

    [Fact]
    public void Files_that_are_not_checkpoints_are_refused_by_name()
    {
        using var dir = new TempDirectory();
        Assert.Throws<FileNotFoundException>(() => CheckpointFile.LoadNetwork(dir.File("missing.ckpt")));
        File.WriteAllText(dir.File("text.ckpt"), "hello");
        var notZip = Assert.Throws<InvalidDataException>(() => CheckpointFile.LoadNetwork(dir.File("text.ckpt")));
        Assert.Contains("text.ckpt", notZip.Message, StringComparison.Ordinal);
        using (var zip = System.IO.Compression.ZipFile.Open(dir.File("empty.ckpt"), System.IO.Compression.ZipArchiveMode.Create))
        {
        }
        var empty = Assert.Throws<InvalidDataException>(() => CheckpointFile.ReadInfo(dir.File("empty.ckpt")));
        Assert.Contains("checkpoint.json", empty.Message, StringComparison.Ordinal);
    }
}
