using ImageRetrieval.Cli.Commands;
using ImageRetrieval.ML.Search;

namespace ImageRetrieval.ML.Tests.Search;

/// <summary><c>imgret search --query DIR</c>: per-file searches, P@1 from the class folders, latency percentiles, failures counted.</summary>
public class QueryFolderRunnerTests(SearchFixture fixture) : IClassFixture<SearchFixture>
{
    [Fact]
    public void Gallery_images_as_queries_find_themselves_and_broken_files_are_counted()
    {
        using var temp = new TempDirectory();
        string queries = Path.Combine(temp.Path, "queries");
        var chosen = fixture.Paths.Where((_, i) => i % 15 == 0).ToList();   // 20 gallery files
        foreach (string file in chosen)
        {
            string label = Path.GetFileName(Path.GetDirectoryName(file))!;
            Directory.CreateDirectory(Path.Combine(queries, label));
            File.Copy(file, Path.Combine(queries, label, Path.GetFileName(file)));
        }
        Directory.CreateDirectory(Path.Combine(queries, "coat"));
        File.WriteAllText(Path.Combine(queries, "coat", "0-broken.png"), "not a png");
        File.WriteAllText(Path.Combine(queries, "readme.txt"), "not an image");

        using var index = ImageSearchIndex.Create(fixture.Model, fixture.Gallery);
        index.AddFolder(recursive: true);
        QueryFolderResult r = QueryFolderRunner.Run(index, queries, limit: int.MaxValue, k: 5, efSearch: null, exact: true);

        Assert.Equal(chosen.Count + 1, r.Queries);
        Assert.Equal(chosen.Count, r.LabelledQueries);
        Assert.Equal(1.0, r.PrecisionAt1);   // exact search: each query's nearest gallery item is itself
        var failure = Assert.Single(r.Failures);
        Assert.EndsWith("0-broken.png", failure.Path, StringComparison.Ordinal);
        Assert.Equal(chosen.Count, r.LatenciesMs.Count);
        Assert.True(r.Percentile(0.5) > 0 && r.Percentile(0.5) <= r.Percentile(0.99) && r.Percentile(0.99) <= r.Percentile(1.0));

        QueryFolderResult limited = QueryFolderRunner.Run(index, queries, limit: 5, k: 5, efSearch: 32, exact: false);
        Assert.Equal(5, limited.Queries);
    }

    [Fact]
    public void Missing_or_empty_query_folders_and_bad_limits_are_refused()
    {
        using var temp = new TempDirectory();
        using var index = ImageSearchIndex.Create(fixture.Model, fixture.Gallery);
        Assert.Throws<DirectoryNotFoundException>(() => QueryFolderRunner.Run(index, Path.Combine(temp.Path, "nope"), 10, 5, null, true));
        var empty = Assert.Throws<ArgumentException>(() => QueryFolderRunner.Run(index, temp.Path, 10, 5, null, true));
        Assert.Contains("no image files", empty.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => QueryFolderRunner.Run(index, temp.Path, 0, 5, null, true));
    }
}
