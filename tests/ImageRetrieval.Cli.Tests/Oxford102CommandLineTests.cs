using System.Text.Json;
using ImageRetrieval.Training.Networks;
using Xunit.Abstractions;

namespace ImageRetrieval.Cli.Tests;

/// <summary>
/// <c>imgret train</c> and <c>imgret eval</c> on a miniature Oxford 102 layout, one thread; the ImageNet ResNet-18
/// weights are the ones imgret carries (<c>--pretrained</c>, <c>--pretrained-features</c> need nothing else).
/// </summary>
[Collection(ImgretCollection.Name)]
public class Oxford102CommandLineTests(ITestOutputHelper output)
{
    [Fact]
    public void Train_with_a_frozen_resnet18_then_eval_test_against_train_with_json_metrics()
    {
        using var layout = TinyOxford102.Create();
        string checkpoint = layout.File("run.ckpt");
        // The weights travel with imgret (DnnImageModels/ beside it), not only in the NuGet cache.
        Assert.StartsWith(AppContext.BaseDirectory, ResNet18Weights.RequirePackagedModel(), StringComparison.Ordinal);
        ImgretRun run = Imgret.Succeed(output,
            "train", "--dataset", "oxford102", "--data", layout.Path, "--arch", "resnet18", "--pretrained", "--freeze-backbone", "--size", "32",
            "--epochs", "1", "-p", "3", "-k", "2", "--embedding-dim", "16", "--threads", "1", "--checkpoint", checkpoint, "--json");
        Assert.True(File.Exists(checkpoint));
        JsonElement trained = run.Json;
        Assert.True(trained.GetProperty("pretrained").GetBoolean());
        Assert.Equal(1, trained.GetProperty("skipped_files").GetInt32());
        Assert.Contains("image_00010.jpg", run.Text.Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal); // the undecodable one, by path
        Assert.Equal("photo", trained.GetProperty("augmentation").GetString());
        Assert.Equal(32, trained.GetProperty("input_size").GetInt32());
        Assert.Equal(512 * 16 + 16, trained.GetProperty("trainable_parameters").GetInt64()); // the head only
        Imgret.AssertMetrics(trained);

        JsonElement evaluated = Imgret.Succeed(output, "eval", "--checkpoint", checkpoint, "--dataset", "oxford102", "--data", layout.Path, "--threads", "1", "--json").Json;
        Imgret.AssertMetrics(evaluated);
        Assert.Equal("oxford102/test", evaluated.GetProperty("queries").GetString());
        Assert.Equal("oxford102/train", evaluated.GetProperty("gallery").GetString());
        Assert.Equal(9, evaluated.GetProperty("query_count").GetInt32());
        Assert.Equal(11, evaluated.GetProperty("gallery_count").GetInt32());
        Assert.Equal(1, evaluated.GetProperty("skipped_files").GetInt32());
    }

    [Theory]
    [InlineData("--pretrained-features", "32")]
    [InlineData("--raw-pixels", "16")]
    public void Baselines_evaluate_without_a_trained_model(string source, string size)
    {
        using var layout = TinyOxford102.Create();
        JsonElement evaluated = Imgret.Succeed(output, "eval", source, "--size", size, "--dataset", "oxford102", "--data", layout.Path, "--threads", "1", "--json").Json;
        Imgret.AssertMetrics(evaluated);
        Assert.Equal(9, evaluated.GetProperty("query_count").GetInt32());
    }

    [Fact]
    public void Pretrained_with_the_classic_architecture_is_a_clear_error()
    {
        using var layout = TinyOxford102.Create();
        ImgretRun run = Imgret.Run(output, "train", "--dataset", "oxford102", "--data", layout.Path, "--arch", "classic", "--pretrained", "--threads", "1");
        Assert.Equal(1, run.ExitCode);
        string message = run.Text;
        Assert.Contains("--pretrained loads ImageNet ResNet-18 weights and needs --arch resnet18; got --arch classic", message, StringComparison.Ordinal);
    }
}
