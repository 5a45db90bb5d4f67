using System.Text.Json;
using ImageRetrieval.ML.Models;
using SkiaSharp;
using Xunit.Abstractions;

namespace ImageRetrieval.Cli.Tests;

/// <summary>
/// Colour photographs from the command line: the pretrained model by name (<c>index</c>, <c>search</c>, <c>eval</c>,
/// <c>model-info</c>), and a foreign ONNX encoder described with <c>model-info --init-description</c>. The pretrained model is
/// built into the test cache (tests/Shared/ModelCache.cs).
/// </summary>
[Collection(ImgretCollection.Name)]
public class PhotoCommandTests(ITestOutputHelper log)
{
    private static string Photos(TempDirectory temp)
    {
        string gallery = temp.File("photos");
        for (int i = 0; i < 6; i++)
        {
            string label = i < 3 ? "warm" : "cool";
            Directory.CreateDirectory(Path.Combine(gallery, label));
            File.WriteAllBytes(Path.Combine(gallery, label, $"{i}.jpg"), TestImages.Pattern(320 + (20 * i), 240, SKEncodedImageFormat.Jpeg, seed: label == "warm" ? i : 200 + i));
        }
        File.WriteAllBytes(Path.Combine(gallery, "cool", "phone.heic"), File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "fixtures", "images", "photo.heic")));
        return gallery;
    }

    [Fact]
    public void Index_and_search_photos_with_the_pretrained_model_by_name()
    {
        using var temp = new TempDirectory();
        string gallery = Photos(temp), index = temp.File("index");
        JsonElement indexed = Imgret.Succeed(log, "index", "--model", "imagenet-resnet18", "--images", gallery, "--out", index, "--threads", "1", "--json").Json;
        Assert.Equal(6, indexed.GetProperty("count").GetInt32());
        Assert.Equal(1, indexed.GetProperty("skipped").GetInt32()); // the HEIC photo, reported with its reason
        ImgretRun text = Imgret.Succeed(log, "index", "--model", "imagenet-resnet18", "--images", gallery, "--out", temp.File("index2"), "--threads", "1");
        Assert.Contains("a HEIC image", text.Text, StringComparison.Ordinal);
        Assert.Contains("Model imagenet-resnet18: resnet18, 512-d cosine", text.Text, StringComparison.Ordinal);

        JsonElement info = Imgret.Succeed(log, "info", index, "--json").Json;
        Assert.Equal("imagenet-resnet18.onnx", info.GetProperty("model").GetString());
        Assert.Equal(512, info.GetProperty("dimension").GetInt32());

        string query = Path.Combine(gallery, "warm", "1.jpg");
        JsonElement found = Imgret.Succeed(log, "search", "--index", index, "--query", query, "--k", "2", "--exact", "--html", temp.File("page.html"), "--json").Json;
        JsonElement first = found.GetProperty("results")[0];
        Assert.Equal(Path.Combine("warm", "1.jpg"), first.GetProperty("path").GetString());
        Assert.True(first.GetProperty("distance").GetDouble() < 1e-5);
        Assert.True(File.Exists(temp.File("page.html")));

        // The same by explicit name on search, and eval over the folders through ONNX Runtime.
        Imgret.Succeed(log, "search", "--index", index, "--model", "imagenet-resnet18", "--query", query, "--json");
        JsonElement evaluated = Imgret.Succeed(log, "eval", "--model", "imagenet-resnet18", "--gallery", gallery, "--queries", gallery, "--no-hnsw", "--json").Json;
        Imgret.AssertMetrics(evaluated);
        Assert.Contains("imagenet-resnet18.onnx (resnet18, 512-d, trained on imagenet", evaluated.GetProperty("model").GetString(), StringComparison.Ordinal);

        ImgretRun unknown = Imgret.Run(log, "index", "--model", "imagenet-resnet50", "--images", gallery, "--out", temp.File("x"));
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("available: imagenet-resnet18", unknown.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_frozen_resnet18_trains_its_head_on_cached_features_and_the_exported_model_indexes_and_searches_photos()
    {
        using var temp = new TempDirectory();
        string gallery = Photos(temp), model = temp.File("head.onnx"), index = temp.File("index");
        JsonElement trained = Imgret.Succeed(log, "train", "--dataset", "folder", "--train-dir", gallery, "--arch", "resnet18", "--pretrained", "--freeze-backbone",
            "--size", "32", "--epochs", "2", "-p", "2", "-k", "3", "--embedding-dim", "16", "--validation", "none", "--threads", "1", "--out", model, "--json").Json;
        Assert.Equal(6, trained.GetProperty("cached_feature_images").GetInt32()); // once per image, not per epoch
        Assert.Equal(2, trained.GetProperty("epochs").GetInt32());
        Assert.Equal(512 * 16 + 16, trained.GetProperty("trainable_parameters").GetInt64()); // the head only
        Assert.True(trained.GetProperty("onnx_max_abs_diff").GetDouble() < 1e-4);

        // The exported model is backbone + head: it takes the photos themselves.
        JsonElement indexed = Imgret.Succeed(log, "index", "--model", model, "--images", gallery, "--out", index, "--threads", "1", "--json").Json;
        Assert.Equal(6, indexed.GetProperty("count").GetInt32());
        string query = Path.Combine(gallery, "cool", "4.jpg");
        JsonElement first = Imgret.Succeed(log, "search", "--index", index, "--query", query, "--k", "2", "--exact", "--json").Json.GetProperty("results")[0];
        Assert.Equal(Path.Combine("cool", "4.jpg"), first.GetProperty("path").GetString());

        // The backbone on every batch instead: no cached features.
        JsonElement full = Imgret.Succeed(log, "train", "--dataset", "folder", "--train-dir", gallery, "--arch", "resnet18", "--pretrained", "--freeze-backbone", "--no-feature-cache",
            "--size", "32", "--epochs", "1", "-p", "2", "-k", "3", "--embedding-dim", "16", "--validation", "none", "--threads", "1", "--checkpoint", temp.File("full.ckpt"), "--json").Json;
        Assert.False(full.TryGetProperty("cached_feature_images", out _));
    }

    [Fact]
    public void Model_info_shows_the_graph_and_how_it_is_fed()
    {
        JsonElement json = Imgret.Succeed(log, "model-info", "imagenet-resnet18", "--json").Json;
        Assert.Equal("imageretrieval.* metadata", json.GetProperty("described_by").GetString());
        Assert.Equal(512, json.GetProperty("dimension").GetInt32());
        Assert.Equal("pixels", json.GetProperty("inputs")[0].GetProperty("name").GetString());
        Assert.Equal("[-1,3,224,224]", json.GetProperty("inputs")[0].GetProperty("dimensions").GetRawText());
        Assert.Equal("nchw", json.GetProperty("encoder").GetProperty("layout").GetString());
        ImgretRun text = Imgret.Succeed(log, "model-info", "imagenet-resnet18");
        Assert.Contains("Fed as described by its imageretrieval.* metadata", text.Text, StringComparison.Ordinal);
        Assert.Contains("batch dynamic", text.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_foreign_encoder_is_refused_until_described_then_indexes()
    {
        using var temp = new TempDirectory();
        // ML.NET's featurizer network, copied: no imageretrieval.* metadata, batch fixed at 1, a [1, 512, 1, 1] output.
        string model = temp.File("resnet18.onnx");
        File.Copy(ResNet18FeaturizerPackage.Require(ResNet18FeaturizerPackage.ModelPathInPackage), model);

        ImgretRun refused = Imgret.Run(log, "model-info", model);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("Cannot be used as it is", refused.Text, StringComparison.Ordinal);
        Assert.Contains("'Input247' float[1, 3, 224, 224]", refused.Text, StringComparison.Ordinal);
        Assert.Contains("--init-description", refused.Text, StringComparison.Ordinal);
        Assert.Equal(1, Imgret.Run(log, "index", "--model", model, "--images", temp.Path, "--out", temp.File("never")).ExitCode);

        // The guessed description (NCHW, 224, torchvision's normalisation) makes it usable; fix it to what the CNTK network expects.
        Imgret.Succeed(log, "model-info", model, "--init-description");
        string sidecar = model + ".json";
        var guessed = ImageEncoderDescription.Read(sidecar);
        Assert.Equal((TensorLayout.Nchw, 224, 224, "Pooling395_Output_0"), (guessed.Layout, guessed.Width!.Value, guessed.Height!.Value, guessed.OutputName));
        Assert.Equal(1, Imgret.Run(log, "model-info", model, "--init-description").ExitCode); // never overwrites
        File.Delete(sidecar);
        (guessed with { ChannelOrder = ChannelOrder.Bgr, PixelScale = 1f, Mean = [103.06262f, 115.90288f, 123.15163f], Std = null }).Write(sidecar);
        JsonElement described = Imgret.Succeed(log, "model-info", model, "--json").Json;
        Assert.Equal("description file", described.GetProperty("described_by").GetString());
        Assert.Equal("bgr", described.GetProperty("encoder").GetProperty("channel_order").GetString());

        string gallery = Photos(temp);
        JsonElement indexed = Imgret.Succeed(log, "index", "--model", model, "--images", gallery, "--out", temp.File("index"), "--threads", "1", "--json").Json;
        Assert.Equal(6, indexed.GetProperty("count").GetInt32());
    }
}
