using System.Text.Json;
using Xunit.Abstractions;

namespace ImageRetrieval.Cli.Tests;

/// <summary><c>train</c> for a few steps on real Fashion-MNIST, then <c>export</c> and <c>eval</c> of what it wrote.</summary>
[Collection(ImgretCollection.Name)]
public class TrainingCommandTests(ITestOutputHelper log)
{
    // 500 training images in batches of 10 × 5: ten steps of the default batch-all recipe, validated on 200 test images.
    private static readonly string[] FewSteps = ["--limit", "500", "--validation-limit", "200", "--epochs", "1", "-p", "10", "-k", "5", "--threads", "1", "--seed", "3"];

    [Fact]
    public void Train_a_few_steps_export_and_evaluate_the_checkpoint_and_the_model()
    {
        using var temp = new TempDirectory();
        string model = temp.File("model.onnx");
        JsonElement trained = Imgret.Succeed(log, ["train", .. FewSteps, "--out", model, "--json"]).Json;
        // Without --checkpoint the checkpoint goes beside --out.
        string checkpoint = temp.File("model.ckpt");
        Assert.Equal(checkpoint, trained.GetProperty("checkpoint").GetString());
        Assert.True(File.Exists(checkpoint));
        Assert.Equal(model, trained.GetProperty("model").GetString());
        Assert.InRange(trained.GetProperty("onnx_max_abs_diff").GetDouble(), 0, 1e-4);
        Assert.Equal("fashion-mnist/train", trained.GetProperty("dataset").GetString());
        Assert.Equal("classic", trained.GetProperty("architecture").GetString());
        Assert.Equal("shift-flip", trained.GetProperty("augmentation").GetString());
        Assert.Equal(1, trained.GetProperty("epochs").GetInt32());
        Assert.Equal(200, trained.GetProperty("query_count").GetInt32());
        Assert.True(trained.GetProperty("images_per_second").GetDouble() > 0);
        Imgret.AssertMetrics(trained);

        string exported = temp.File("exported.onnx");
        JsonElement export = Imgret.Succeed(log, "export", "--checkpoint", checkpoint, "--out", exported, "--json").Json;
        Assert.Equal(exported, export.GetProperty("model").GetString());
        Assert.True(export.GetProperty("bytes").GetInt64() > 100_000);
        Assert.InRange(export.GetProperty("max_abs_diff").GetDouble(), 0, 1e-4);
        Assert.Equal("l2", export.GetProperty("metadata").GetProperty("imageretrieval.metric").GetString());

        JsonElement byCheckpoint = Imgret.Succeed(log, "eval", "--checkpoint", checkpoint, "--query-limit", "300", "--gallery-limit", "1000", "--threads", "1", "--json").Json;
        Imgret.AssertMetrics(byCheckpoint);
        Assert.Equal(300, byCheckpoint.GetProperty("query_count").GetInt32());
        Assert.Equal(1000, byCheckpoint.GetProperty("gallery_count").GetInt32());
        Assert.False(byCheckpoint.TryGetProperty("hnsw", out _), "HNSW is evaluated for ONNX models only");

        JsonElement byModel = Imgret.Succeed(log, "eval", "--model", exported, "--query-limit", "300", "--gallery-limit", "1000", "--threads", "1", "--json").Json;
        Imgret.AssertMetrics(byModel);
        Imgret.AssertMetrics(byModel.GetProperty("hnsw"));
        Assert.Equal(16, byModel.GetProperty("hnsw").GetProperty("m").GetInt32());
        // The same network through TorchSharp and through ONNX Runtime ranks the same gallery the same way.
        Assert.Equal(byCheckpoint.GetProperty("p_at_1").GetDouble(), byModel.GetProperty("p_at_1").GetDouble(), 3);
    }

    [Fact]
    public void Without_checkpoint_or_out_the_checkpoint_is_named_for_the_run_in_the_working_directory()
    {
        using var temp = new TempDirectory();
        string previous = Directory.GetCurrentDirectory();
        Directory.SetCurrentDirectory(temp.Path);
        try
        {
            JsonElement trained = Imgret.Succeed(log, ["train", .. FewSteps, "--eval-every", "0", "--json"]).Json;
            Assert.Equal("imgret-train-classic-fashion-mnist.ckpt", trained.GetProperty("checkpoint").GetString());
            Assert.True(File.Exists(temp.File("imgret-train-classic-fashion-mnist.ckpt")));
            Assert.False(Directory.Exists(temp.File("models")), "train must not write into models/ of the working directory");
        }
        finally
        {
            Directory.SetCurrentDirectory(previous);
        }
    }

    [Fact]
    public void The_raw_pixel_baseline_on_the_standard_protocol_subset()
    {
        JsonElement raw = Imgret.Succeed(log, "eval", "--raw-pixels", "--channels", "1", "--size", "28", "--query-limit", "200", "--gallery-limit", "2000", "--json").Json;
        Imgret.AssertMetrics(raw);
        Assert.StartsWith("raw pixels (1x28x28", raw.GetProperty("model").GetString(), StringComparison.Ordinal);
        Assert.Equal("fashion-mnist/test", raw.GetProperty("queries").GetString());
    }

    [Fact]
    public void Exactly_one_model_source_is_required()
    {
        ImgretRun none = Imgret.Run(log, "eval", "--json");
        Assert.Equal(1, none.ExitCode);
        Assert.Contains("Pass exactly one of --checkpoint", none.Text, StringComparison.Ordinal);
    }
}
