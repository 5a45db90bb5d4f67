using System.Text.Json;
using ImageRetrieval.Datasets.Vectors;
using Xunit.Abstractions;

namespace ImageRetrieval.Cli.Tests;

/// <summary><c>export-vectors</c>, <c>export-images</c>, <c>mat-info</c>, <c>ann-bench</c>, <c>bench-embed</c> and <c>soak</c> on small real data.</summary>
[Collection(ImgretCollection.Name)]
public class DatasetCommandTests(ITestOutputHelper log)
{
    [Fact]
    public void Export_vectors_then_ann_bench_reports_recall_at_the_k_it_used()
    {
        using var temp = new TempDirectory();
        string base_ = temp.File("base.fvecs"), query = temp.File("query.fvecs"), labels = temp.File("labels.txt");
        Imgret.Succeed(log, "export-vectors", "--split", "train", "--limit", "1000", "--out", base_, "--labels-out", labels);
        Imgret.Succeed(log, "export-vectors", "--split", "test", "--limit", "50", "--out", query);
        var (values, dimension) = TexmexFormat.ReadFvecs(base_);
        Assert.Equal(784, dimension);
        Assert.Equal(1000 * 784, values.Length);
        Assert.Equal(1000, File.ReadAllLines(labels).Length);

        JsonElement k5 = Imgret.Succeed(log, "ann-bench", "--base", base_, "--query", query, "--k", "5", "--ef-search", "10,40", "--gt-out", temp.File("gt.ivecs"), "--json").Json;
        Assert.Equal(5, k5.GetProperty("k").GetInt32());
        Assert.Equal(1000, k5.GetProperty("base_count").GetInt32());
        Assert.Equal(16, k5.GetProperty("m").GetInt32());
        Assert.Equal(200, k5.GetProperty("ef_construction").GetInt32());
        var runs = k5.GetProperty("runs").EnumerateArray().ToList();
        Assert.Equal(2, runs.Count);
        Assert.All(runs, r =>
        {
            Assert.InRange(r.GetProperty("recall_at_k").GetDouble(), 0, 1);
            Assert.False(r.TryGetProperty("recall_at_10", out _), "recall_at_10 is only written when k = 10");
        });
        Assert.InRange(runs[1].GetProperty("recall_at_k").GetDouble(), 0.9, 1);
        Assert.Equal(5, TexmexFormat.ReadIvecs(temp.File("gt.ivecs")).Dimension);

        JsonElement k10 = Imgret.Succeed(log, "ann-bench", "--base", base_, "--query", query, "--ef-search", "40", "--metric", "cosine", "--json").Json;
        JsonElement run10 = k10.GetProperty("runs")[0];
        Assert.Equal(run10.GetProperty("recall_at_k").GetDouble(), run10.GetProperty("recall_at_10").GetDouble());
        Assert.Equal("cosine", k10.GetProperty("metric").GetString());
    }

    [Fact]
    public void Export_images_writes_class_folders_that_index_reads()
    {
        using var temp = new TempDirectory();
        string folder = temp.File("images");
        Imgret.Succeed(log, "export-images", "--split", "test", "--count", "100", "--per-class", "3", "--out", folder);
        string[] classes = Directory.GetDirectories(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
        Assert.Equal(10, classes.Length);
        Assert.Contains("t-shirt-top", classes);
        Assert.All(Directory.GetDirectories(folder), d => Assert.Equal(3, Directory.GetFiles(d, "test-*.png").Length));
    }

    [Fact]
    public void Mat_info_lists_the_variables()
    {
        using var layout = TinyOxford102.Create();
        JsonElement json = Imgret.Succeed(log, "mat-info", Path.Combine(layout.Path, "setid.mat"), "--json").Json;
        var names = json.GetProperty("variables").EnumerateArray().Select(v => v.GetProperty("name").GetString()).ToList();
        Assert.Equal(["trnid", "valid", "tstid"], names);
        Assert.False(json.GetProperty("big_endian").GetBoolean());
    }

    [Fact]
    public void Bench_embed_measures_every_path_on_a_few_images()
    {
        JsonElement json = Imgret.Succeed(log, "bench-embed", "--model", RepositoryFiles.BundledModel, "--images", RepositoryFiles.SampleQueries,
            "--limit", "10", "--mlnet-limit", "10", "--runs", "1", "--json").Json;
        foreach (string key in new[] { "mlnet_images_per_second", "batched_images_per_second", "batched_memory_images_per_second", "compute_only_images_per_second", "decode_only_images_per_second" })
        {
            Assert.True(json.GetProperty(key).GetDouble() > 0, key);
        }
        Assert.Equal(10, json.GetProperty("images").GetInt32());
        Assert.Equal("CPUExecutionProvider", json.GetProperty("execution_provider").GetString());
    }
}
