using System.Text.Json;
using Xunit.Abstractions;

namespace ImageRetrieval.Cli.Tests;

/// <summary><c>train --dataset folder</c> without size, channels or test folder: defaults from the images, a validation split carved from the folder.</summary>
[Collection(ImgretCollection.Name)]
public class FolderTrainingCommandTests(ITestOutputHelper log)
{
    [Fact]
    public void A_grey_28_pixel_folder_trains_at_28_pixels_grey_and_validates_on_held_out_classes()
    {
        using var temp = new TempDirectory();
        string folder = temp.File("train");
        Imgret.Succeed(log, "export-images", "--split", "train", "--count", "2000", "--per-class", "40", "--out", folder);

        ImgretRun run = Imgret.Succeed(log, "train", "--dataset", "folder", "--train-dir", folder, "--epochs", "1", "-p", "8", "-k", "5",
            "--threads", "1", "--checkpoint", temp.File("run.ckpt"));
        Assert.Contains("Input: 28x28, grey (size of the images, grey: every sampled image is grey (256 of 256 sampled images are 28x28, 256 grey)", run.Text, StringComparison.Ordinal);
        Assert.Contains("Validation: 2 held-out classes never trained on", run.Text, StringComparison.Ordinal);
        Assert.Contains("spread", run.Text, StringComparison.Ordinal);
        Assert.Contains("128-d", run.Text, StringComparison.Ordinal);   // the folder recipe, with its NT-Xent instance term
        Assert.Contains("instance weight 0.1 (NT-Xent, temperature 0.1)", run.Text, StringComparison.Ordinal);
        Assert.Contains("embedding: layers pool2", run.Text, StringComparison.Ordinal);   // the pooled conv features, not the head
        Assert.Contains("lr 0.002,", run.Text, StringComparison.Ordinal);

        JsonElement json = Imgret.Succeed(log, "train", "--dataset", "folder", "--train-dir", folder, "--epochs", "1", "-p", "8", "-k", "5",
            "--threads", "1", "--checkpoint", temp.File("run.ckpt"), "--out", temp.File("run.onnx"), "--json").Json;
        Assert.Equal(64 * 4 * 4, json.GetProperty("embedding_dimension").GetInt32());   // what the exported model outputs
        Assert.InRange(json.GetProperty("onnx_max_abs_diff").GetDouble(), 0, 1e-4);
        Assert.Equal(28, json.GetProperty("input_size").GetInt32());
        Assert.Equal(1, json.GetProperty("input_channels").GetInt32());
        Assert.Equal("held-out-classes", json.GetProperty("validation").GetString());
        Assert.Equal(16, json.GetProperty("query_count").GetInt32());   // a fifth of the 2 x 40 held-out images
        Assert.InRange(json.GetProperty("spread").GetDouble(), 0.05, 1);
        Assert.InRange(json.GetProperty("wrong_order_fraction").GetDouble(), 0, 0.5);
        Imgret.AssertMetrics(json);
    }

    [Fact]
    public void Given_size_and_channels_win_and_five_classes_validate_on_held_out_images()
    {
        using var temp = new TempDirectory();
        string folder = temp.File("train");
        Imgret.Succeed(log, "export-images", "--split", "train", "--count", "2000", "--per-class", "30", "--classes", "5-9", "--out", folder);
        Assert.Equal(5, Directory.GetDirectories(folder).Length);

        ImgretRun run = Imgret.Succeed(log, "train", "--dataset", "folder", "--train-dir", folder, "--size", "32", "--channels", "3", "--epochs", "1",
            "-k", "5", "--threads", "1", "--checkpoint", temp.File("run.ckpt"));
        Assert.Contains("Input: 32x32, RGB (as given)", run.Text, StringComparison.Ordinal);
        Assert.Contains("held-out images of the training classes", run.Text, StringComparison.Ordinal);
        Assert.Contains("5 classes to train on, fewer than P = 10: every batch takes all 5 classes x 5 images.", run.Text, StringComparison.Ordinal);

        // The head as the embedding, on request, at the head's folder rate.
        ImgretRun head = Imgret.Succeed(log, "train", "--dataset", "folder", "--train-dir", folder, "--epochs", "1", "-k", "5", "--threads", "1",
            "--embedding-layers", "head", "--checkpoint", temp.File("head.ckpt"));
        Assert.Contains("lr 0.0005, ", head.Text, StringComparison.Ordinal);
        Assert.Contains("embedding: the head.", head.Text, StringComparison.Ordinal);
    }
}
