using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using ImageRetrieval.Training.Networks;
using ImageRetrieval.Training.Tests.Datasets;
using Xunit.Abstractions;

namespace ImageRetrieval.Training.Tests.Cli;

/// <summary>
/// <c>imgret train</c> and <c>imgret eval</c> on a miniature Oxford 102 layout, run as the user runs them:
/// the built CLI (samples/ImageRetrieval.Cli, built before this project) in a child process, one thread.
/// </summary>
[Collection(TorchCollection.Name)]
public class Oxford102CommandLineTests(ITestOutputHelper output)
{
    private static readonly string[] MetricKeys = ["p_at_1", "recall_at_1", "recall_at_5", "recall_at_10", "map_at_r"];

    [Fact]
    public void Train_with_a_frozen_resnet18_then_eval_test_against_train_with_json_metrics()
    {
        using var layout = TinyOxford102.Create();
        string checkpoint = layout.File("run.ckpt");
        var train = new List<string>
        {
            "train", "--dataset", "oxford102", "--data", layout.Path, "--arch", "resnet18", "--freeze-backbone", "--size", "32",
            "--epochs", "1", "-p", "3", "-k", "2", "--embedding-dim", "16", "--threads", "1", "--checkpoint", checkpoint, "--json",
        };
        if (ResNet18Weights.FindPackagedModel() is not null)
        {
            train.Add("--pretrained");
        }
        var (code, text) = Imgret(train);
        Assert.True(code == 0, text);
        Assert.True(File.Exists(checkpoint));
        JsonElement trained = LastJson(text);
        Assert.Equal(1, trained.GetProperty("skipped_files").GetInt32());
        Assert.Contains("image_00010.jpg", Regex.Replace(text, @"\s+", ""), StringComparison.Ordinal); // the undecodable one, by path
        Assert.Equal("photo", trained.GetProperty("augmentation").GetString());
        Assert.Equal(32, trained.GetProperty("input_size").GetInt32());
        Assert.Equal(512 * 16 + 16, trained.GetProperty("trainable_parameters").GetInt64()); // the head only
        AssertMetrics(trained);

        (code, text) = Imgret(["eval", "--checkpoint", checkpoint, "--dataset", "oxford102", "--data", layout.Path, "--threads", "1", "--json"]);
        Assert.True(code == 0, text);
        JsonElement evaluated = LastJson(text);
        AssertMetrics(evaluated);
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
        if (source == "--pretrained-features" && ResNet18Weights.FindPackagedModel() is null)
        {
            return; // needs the packaged ImageNet weights
        }
        using var layout = TinyOxford102.Create();
        var (code, text) = Imgret(["eval", source, "--size", size, "--dataset", "oxford102", "--data", layout.Path, "--threads", "1", "--json"]);
        Assert.True(code == 0, text);
        JsonElement evaluated = LastJson(text);
        AssertMetrics(evaluated);
        Assert.Equal(9, evaluated.GetProperty("query_count").GetInt32());
    }

    [Fact]
    public void Pretrained_with_the_classic_architecture_is_a_clear_error()
    {
        using var layout = TinyOxford102.Create();
        var (code, text) = Imgret(["train", "--dataset", "oxford102", "--data", layout.Path, "--arch", "classic", "--pretrained", "--threads", "1"]);
        Assert.Equal(1, code);
        string message = Regex.Replace(text, @"\s+", " ");
        Assert.Contains("--pretrained loads ImageNet ResNet-18 weights and needs --arch resnet18; got --arch classic", message, StringComparison.Ordinal);
    }

    private static void AssertMetrics(JsonElement json)
    {
        foreach (string key in MetricKeys)
        {
            Assert.InRange(json.GetProperty(key).GetDouble(), 0, 1);
        }
    }

    private static JsonElement LastJson(string text)
    {
        string line = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Last(l => l.StartsWith('{'));
        return JsonDocument.Parse(line).RootElement.Clone();
    }

    private (int ExitCode, string Output) Imgret(IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(CliDll());
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(180_000), "imgret did not finish within 3 minutes");
        string text = stdout + stderr.Result;
        output.WriteLine($"imgret {string.Join(' ', arguments)} → {process.ExitCode}\n{text}");
        return (process.ExitCode, text);
    }

    private static string CliDll()
    {
        // tests/ImageRetrieval.Training.Tests/bin/<Configuration>/<tfm>/ → samples/ImageRetrieval.Cli/bin/<Configuration>/<tfm>/imgret.dll
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string tfm = here.Name, configuration = here.Parent!.Name;
        string root = here.Parent!.Parent!.Parent!.Parent!.Parent!.FullName;
        string dll = Path.Combine(root, "samples", "ImageRetrieval.Cli", "bin", configuration, tfm, "imgret.dll");
        Assert.True(File.Exists(dll), $"the CLI is not built: {dll}");
        return dll;
    }
}
