using ImageRetrieval.Datasets.Evaluation;
using ImageRetrieval.ML.Search;

namespace ImageRetrieval.Datasets.Tests.Evaluation;

/// <summary>A gallery of 300 real Fashion-MNIST test images as PNG files in class folders, indexed with the bundled model.</summary>
public sealed class QueryGalleryFixture : IDisposable
{
    private readonly TempDirectory _temp = new();

    public QueryGalleryFixture()
    {
        Gallery = Path.Combine(_temp.Path, "gallery");
        Paths = ImageFolderWriter.WritePng(FashionMnist.Load(FashionMnist.Split.Test, maxItems: 300), Gallery, filePrefix: "test-");
        Index = ImageSearchIndex.Create(RepositoryFiles.BundledModel, Gallery);
        Index.AddFolder();
    }

    public string Gallery { get; }

    public IReadOnlyList<string> Paths { get; }

    public ImageSearchIndex Index { get; }

    public void Dispose()
    {
        Index.Dispose();
        _temp.Dispose();
    }
}

/// <summary><c>imgret search --query DIR</c> and <c>imgret demo</c>: per-file searches, P@1 from the class folders, latency percentiles, failures counted.</summary>
public class QueryFolderRunnerTests(QueryGalleryFixture fixture) : IClassFixture<QueryGalleryFixture>
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

        QueryFolderResult r = QueryFolderRunner.Run(fixture.Index, queries, new QueryFolderOptions { K = 5, Exact = true, CompareWithExact = true, KeepResults = true });

        Assert.Equal(chosen.Count + 1, r.Queries);
        Assert.Equal(chosen.Count, r.LabelledQueries);
        Assert.Equal(1.0, r.PrecisionAt1);        // exact search: each query's nearest gallery item is itself
        Assert.Equal(1.0, r.ExactPrecisionAt1);
        var failure = Assert.Single(r.Failures);
        Assert.EndsWith("0-broken.png", failure.Path, StringComparison.Ordinal);
        Assert.Equal(chosen.Count, r.LatenciesMs.Count);
        Assert.True(r.Percentile(0.5) > 0 && r.Percentile(0.5) <= r.Percentile(0.99) && r.Percentile(0.99) <= r.Percentile(1.0));
        Assert.Equal(chosen.Count, r.Outcomes.Count);
        Assert.All(r.Outcomes, o =>
        {
            Assert.Equal(5, o.Results.Count);
            Assert.Equal(Path.GetFileName(o.Path), Path.GetFileName(o.Results[0].Path));   // found itself first
            Assert.True(o.TopMatches);
        });

        QueryFolderResult limited = QueryFolderRunner.Run(fixture.Index, queries, new QueryFolderOptions { Limit = 5, K = 5, EfSearch = 32 });
        Assert.Equal(5, limited.Queries);
        Assert.Empty(limited.Outcomes);
        Assert.Null(limited.ExactPrecisionAt1);
    }

    [Fact]
    public void Missing_or_empty_query_folders_and_bad_limits_are_refused()
    {
        using var temp = new TempDirectory();
        Assert.Throws<DirectoryNotFoundException>(() => QueryFolderRunner.Run(fixture.Index, Path.Combine(temp.Path, "nope")));
        var empty = Assert.Throws<ArgumentException>(() => QueryFolderRunner.Run(fixture.Index, temp.Path));
        Assert.Contains("no image files", empty.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => QueryFolderRunner.Run(fixture.Index, temp.Path, new QueryFolderOptions { Limit = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => QueryFolderRunner.Run(fixture.Index, temp.Path, new QueryFolderOptions { K = 0 }));
    }
}
