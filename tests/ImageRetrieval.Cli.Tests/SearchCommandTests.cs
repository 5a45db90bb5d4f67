using System.Text.Json;
using Xunit.Abstractions;

namespace ImageRetrieval.Cli.Tests;

/// <summary><c>demo</c>, <c>index</c>, <c>search</c> and <c>info</c> on the bundled model and the bundled sample images.</summary>
[Collection(ImgretCollection.Name)]
public class SearchCommandTests(ITestOutputHelper log)
{
    [Fact]
    public void Demo_indexes_the_bundled_gallery_finds_every_bundled_query_and_writes_the_page()
    {
        using var temp = new TempDirectory();
        string html = temp.File("results.html");
        ImgretRun run = Imgret.Succeed(log, "demo", "--index-out", temp.File("index"), "--html", html, "--json");
        JsonElement json = run.Json;
        Assert.Equal(3000, json.GetProperty("gallery_count").GetInt32());
        Assert.Equal(10, json.GetProperty("query_count").GetInt32());
        Assert.Equal(1.0, json.GetProperty("p_at_1").GetDouble());
        Assert.Equal(1.0, json.GetProperty("p_at_1_exact").GetDouble());
        Assert.True(json.GetProperty("median_query_ms").GetDouble() > 0);
        Assert.True(json.GetProperty("indexing_images_per_second").GetDouble() > 0);
        Assert.Equal(Path.GetFullPath(html), json.GetProperty("html").GetString());
        Assert.Contains("<!DOCTYPE html>", File.ReadAllText(html), StringComparison.Ordinal);
        Assert.Contains("P@1 over 10 queries: 1.000 (HNSW), 1.000 (exact)", run.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Index_then_info_then_search_a_file_and_a_folder_of_queries()
    {
        using var temp = new TempDirectory();
        string gallery = temp.File("gallery"), index = temp.File("index");
        CopyClasses(RepositoryFiles.SampleGallery, gallery, perClass: 20);
        File.WriteAllText(Path.Combine(gallery, "coat", "broken.png"), "not a png");

        JsonElement indexed = Imgret.Succeed(log, "index", "--model", RepositoryFiles.BundledModel, "--images", gallery, "--out", index, "--threads", "1", "--json").Json;
        Assert.Equal(200, indexed.GetProperty("count").GetInt32());
        Assert.Equal(1, indexed.GetProperty("skipped").GetInt32());

        JsonElement info = Imgret.Succeed(log, "info", index, "--json").Json;
        Assert.Equal(200, info.GetProperty("count").GetInt32());
        Assert.Equal(64, info.GetProperty("dimension").GetInt32());
        Assert.Equal("l2", info.GetProperty("metric").GetString());
        Assert.Equal(16, info.GetProperty("m").GetInt32());
        Assert.Equal(200, info.GetProperty("ef_construction").GetInt32());
        Assert.Equal("fashion-mnist-embed.onnx", info.GetProperty("model").GetString());
        Assert.Equal("v000001", info.GetProperty("version").GetString());
        Assert.True(info.GetProperty("size_on_disk_bytes").GetInt64() > 0);
        Assert.Equal("classic", info.GetProperty("model_metadata").GetProperty("imageretrieval.architecture").GetString());

        string query = Directory.GetFiles(Path.Combine(RepositoryFiles.SampleQueries, "sneaker"), "*.png").Single();
        JsonElement found = Imgret.Succeed(log, "search", "--index", index, "--query", query, "--k", "3", "--html", temp.File("one.html"), "--json").Json;
        Assert.Equal(3, found.GetProperty("k").GetInt32());
        Assert.False(found.GetProperty("exact").GetBoolean());
        var results = found.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(3, results.Count);
        Assert.Equal("sneaker", results[0].GetProperty("label").GetString());
        Assert.Equal(1, results[0].GetProperty("rank").GetInt32());
        Assert.True(File.Exists(temp.File("one.html")));

        JsonElement folder = Imgret.Succeed(log, "search", "--index", index, "--query", RepositoryFiles.SampleQueries, "--exact", "--json").Json;
        Assert.Equal(10, folder.GetProperty("queries").GetInt32());
        Assert.Equal(0, folder.GetProperty("failed").GetInt32());
        Assert.Equal(200, folder.GetProperty("gallery_count").GetInt32());
        Assert.InRange(folder.GetProperty("p_at_1").GetDouble(), 0.8, 1.0);
        Assert.True(folder.GetProperty("latency_ms").GetProperty("p50").GetDouble() > 0);
        Assert.Equal(64, folder.GetProperty("ef_search").GetInt32());
    }

    [Fact]
    public void Bad_arguments_and_missing_files_fail_with_a_message_not_a_stack_trace()
    {
        using var temp = new TempDirectory();
        ImgretRun missing = Imgret.Run(log, "search", "--index", temp.File("nope"), "--query", "x.png");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("error:", missing.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", missing.Output + missing.Error, StringComparison.Ordinal);

        ImgretRun unknown = Imgret.Run(log, "search", "--no-such-flag");
        Assert.NotEqual(0, unknown.ExitCode);
    }

    private static void CopyClasses(string from, string to, int perClass)
    {
        foreach (string classFolder in Directory.GetDirectories(from))
        {
            string target = Path.Combine(to, Path.GetFileName(classFolder));
            Directory.CreateDirectory(target);
            foreach (string file in Directory.GetFiles(classFolder, "*.png").Order(StringComparer.Ordinal).Take(perClass))
            {
                File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
            }
        }
    }
}
