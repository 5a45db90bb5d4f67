using ImageRetrieval.Datasets;
using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Imaging;
using ImageRetrieval.ML.Search;
using ImageRetrieval.ML.Tests.Embedding;

namespace ImageRetrieval.ML.Tests.Search;

/// <summary>A gallery of 300 real Fashion-MNIST PNGs in class folders, plus hostile entries, and two small models.</summary>
public sealed class SearchFixture : IDisposable
{
    private readonly TempDirectory _temp = new();

    public SearchFixture()
    {
        Model = Write("model.onnx", TinyOnnxModel.ConvNetL2(1, 28, 28, 16, seed: 3, EmbeddingFixture.Metadata(1, 28, 28, 16, 1f / 255), widths: [4, 8, 8]));
        OtherModel = Write("other.onnx", TinyOnnxModel.ConvNetL2(1, 28, 28, 16, seed: 4, EmbeddingFixture.Metadata(1, 28, 28, 16, 1f / 255), widths: [4, 8, 8]));
        Gallery = Path.Combine(_temp.Path, "gallery");
        Set = FashionMnist.Load(FashionMnist.Split.Test, maxItems: 300);
        Paths = ImageFolderWriter.WritePng(Set, Gallery, filePrefix: "test-");
        File.WriteAllText(Path.Combine(Gallery, "coat", "broken.png"), "not a png");
        File.WriteAllText(Path.Combine(Gallery, "notes.txt"), "ignored");
        Directory.CreateDirectory(Path.Combine(Gallery, "folder.png"));
        Directory.CreateSymbolicLink(Path.Combine(Gallery, "bag", "loop"), Gallery);
    }

    public string Model { get; }

    public string OtherModel { get; }

    public string Gallery { get; }

    public LabeledImageSet Set { get; }

    public IReadOnlyList<string> Paths { get; }

    public string Scratch(string name) => _temp.File(name);

    private string Write(string name, byte[] bytes)
    {
        string path = _temp.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    public void Dispose() => _temp.Dispose();
}

public class ImageSearchIndexTests(SearchFixture fixture) : IClassFixture<SearchFixture>
{
    private static readonly ImageSearchIndexOptions Options = new() { Embedder = new ImageEmbedderOptions { BatchSize = 32, DecodeParallelism = 2 } };

    [Fact]
    public void Indexing_a_folder_labels_by_folder_and_reports_what_it_skipped()
    {
        using var index = ImageSearchIndex.Create(fixture.Model, fixture.Gallery, Options);
        IndexingReport report = index.AddFolder(recursive: true);

        Assert.Equal(300, report.Added);
        Assert.Equal(300, index.Count);
        Assert.Equal(1, report.IgnoredFiles); // notes.txt
        Assert.Contains(report.Skipped, s => s.Path.EndsWith("broken.png", StringComparison.Ordinal) && s.Reason.Length > 0);
        Assert.Contains(report.Skipped, s => s.Path.EndsWith("loop", StringComparison.Ordinal) && s.Reason.Contains("symbolic link", StringComparison.Ordinal));
        Assert.Contains(report.Skipped, s => s.Path.EndsWith("folder.png", StringComparison.Ordinal));
        IndexedImage first = index.Items.Single(i => i.Path == "ankle-boot/test-00000.png");
        Assert.Equal("ankle-boot", first.Label);
        Assert.True(report.ImagesPerSecond > 0);
    }

    [Fact]
    public void An_image_finds_itself_first_and_results_are_sorted_with_k_honoured()
    {
        using var index = ImageSearchIndex.Create(fixture.Model, fixture.Gallery, Options);
        index.AddFolder();
        for (int q = 0; q < 20; q++)
        {
            string query = fixture.Paths[q * 7];
            var results = index.Search(query, k: 10);
            Assert.Equal(10, results.Count);
            Assert.Equal(GalleryPaths.MakeRelative(fixture.Gallery, query), results[0].Path);
            Assert.True(results[0].Distance < 1e-4f, $"self distance {results[0].Distance}");
            for (int i = 1; i < results.Count; i++)
            {
                Assert.True(results[i - 1].Distance <= results[i].Distance);
            }
        }
        Assert.Equal(300, index.Search(fixture.Paths[0], k: 1000).Count);
    }

    [Fact]
    public void Exact_and_hnsw_search_agree_on_a_small_gallery_and_filters_are_respected()
    {
        using var index = ImageSearchIndex.Create(fixture.Model, fixture.Gallery, Options);
        index.AddFolder();
        float[] query = index.Embed(fixture.Paths[5]);
        var exact = index.Search(query, k: 10, exact: true);
        var approximate = index.Search(query, k: 10, efSearch: 200);
        Assert.Equal(exact.Select(r => r.Key), approximate.Select(r => r.Key));

        var bags = index.Search(query, k: 20, filter: item => item.Label == "bag");
        Assert.NotEmpty(bags);
        Assert.All(bags, r => Assert.Equal("bag", r.Label));
        var exactBags = index.Search(query, k: 20, filter: item => item.Label == "bag", exact: true);
        Assert.All(exactBags, r => Assert.Equal("bag", r.Label));
    }

    [Fact]
    public void Removed_images_are_never_returned_and_re_adding_keeps_the_key()
    {
        using var index = ImageSearchIndex.Create(fixture.Model, fixture.Gallery, Options);
        index.AddFolder();
        string relative = GalleryPaths.MakeRelative(fixture.Gallery, fixture.Paths[10]);
        long key = index.Items.Single(i => i.Path == relative).Key;

        Assert.True(index.Remove(relative));
        Assert.False(index.Remove(relative));
        Assert.Equal(299, index.Count);
        Assert.DoesNotContain(index.Search(fixture.Paths[10], k: 50), r => r.Key == key);
        Assert.DoesNotContain(index.Search(fixture.Paths[10], k: 50, exact: true), r => r.Key == key);

        var report = index.AddFiles([fixture.Paths[10]], index.LabelFromFolder);
        Assert.Equal(1, report.Added);
        var again = index.AddFiles([fixture.Paths[10]], index.LabelFromFolder);
        Assert.Equal(1, again.Replaced);
        Assert.Equal(300, index.Count);
        Assert.Equal(relative, index.Search(fixture.Paths[10], k: 1)[0].Path);
    }

    [Fact]
    public void Save_and_open_give_identical_results_and_allow_incremental_adds()
    {
        string directory = fixture.Scratch("index-" + Guid.NewGuid().ToString("N"));
        var partial = fixture.Paths.Take(200).ToArray();
        IReadOnlyList<ImageSearchResult> before;
        using (var index = ImageSearchIndex.Create(fixture.Model, fixture.Gallery, Options))
        {
            index.AddFiles(partial, index.LabelFromFolder, path => new Dictionary<string, string> { ["source"] = "fashion-mnist" });
            before = index.Search(fixture.Paths[3], k: 15);
            index.Save(directory);
        }
        using (var reopened = ImageSearchIndex.Open(directory, fixture.Model))
        {
            Assert.Equal(200, reopened.Count);
            var after = reopened.Search(fixture.Paths[3], k: 15);
            Assert.Equal(before.Select(r => (r.Key, r.Path, r.Label)), after.Select(r => (r.Key, r.Path, r.Label)));
            Assert.Equal(before.Select(r => r.Distance), after.Select(r => r.Distance));
            Assert.Equal("fashion-mnist", after[0].Metadata!["source"]);

            var more = reopened.AddFiles(fixture.Paths.Skip(200).ToArray(), reopened.LabelFromFolder);
            Assert.Equal(100, more.Added);
            Assert.Equal(300, reopened.Count);
            Assert.Equal(300, reopened.Items.Select(i => i.Key).Distinct().Count());
            reopened.Save(directory);
        }
        using var third = ImageSearchIndex.Open(directory, fixture.Model);
        Assert.Equal(300, third.Count);
        Assert.Single(Directory.GetDirectories(directory));
    }

    [Fact]
    public void Opening_with_another_model_is_a_clear_error()
    {
        string directory = fixture.Scratch("index-" + Guid.NewGuid().ToString("N"));
        using (var index = ImageSearchIndex.Create(fixture.Model, fixture.Gallery, Options))
        {
            index.AddFiles(fixture.Paths.Take(20).ToArray());
            index.Save(directory);
        }
        var error = Assert.Throws<InvalidDataException>(() => ImageSearchIndex.Open(directory, fixture.OtherModel));
        Assert.Contains("model.onnx", error.Message, StringComparison.Ordinal);
        Assert.Contains("SHA-256", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void In_memory_images_are_indexed_under_safe_names_and_searchable_by_bytes_and_stream()
    {
        using var index = ImageSearchIndex.Create(fixture.Model, fixture.Gallery, Options);
        byte[][] images = Enumerable.Range(0, 5).Select(i => ImageFolderWriter.EncodePng(fixture.Set, i)).ToArray();
        var report = index.AddImages(images.Select(b => (ReadOnlyMemory<byte>)b).ToArray(), images.Select((_, i) => $"uploads/{i}.png").ToArray());
        Assert.Equal(5, report.Added);
        Assert.Equal("uploads/2.png", index.Search(images[2], k: 1)[0].Path);
        Assert.Equal("uploads/4.png", index.Search(new MemoryStream(images[4]), k: 1)[0].Path);
        Assert.Throws<ArgumentException>(() => index.AddImages([images[0]], ["../escape.png"]));
        Assert.Throws<ImageDecodeException>(() => index.Search(new byte[] { 1, 2, 3 }, k: 1));
    }

    [Fact]
    public void Files_outside_the_gallery_root_are_refused()
    {
        using var index = ImageSearchIndex.Create(fixture.Model, fixture.Gallery, Options);
        string outside = fixture.Scratch("outside.png");
        File.WriteAllBytes(outside, ImageFolderWriter.EncodePng(fixture.Set, 0));
        Assert.Throws<ArgumentException>(() => index.AddFiles([outside]));
    }
}
