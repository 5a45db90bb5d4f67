using ImageRetrieval.Datasets;
using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Models;
using ImageRetrieval.ML.Search;
using ImageRetrieval.ML.Tests.Embedding;

namespace ImageRetrieval.ML.Tests.Reliability;

/// <summary>
/// Bad models (not ONNX, wrong input rank, a second dynamic dimension, missing or wrong metadata) through
/// every entry point that loads one, and bad datasets (an image folder with one class): typed exceptions
/// naming the file, with bounded work (managed allocation), and an existing index on disk untouched.
/// </summary>
public class BadModelAndDatasetTests(SavedIndexFixture fixture) : IClassFixture<SavedIndexFixture>
{
    private static readonly IReadOnlyDictionary<string, string> Good = EmbeddingFixture.Metadata(1, 28, 28, 16, 1f / 255);

    public static TheoryData<string> Models =>
    [
        "empty", "text", "random-bytes", "truncated-onnx", "onnx-without-metadata", "onnx-rank-2-input", "onnx-rank-5-input",
        "onnx-second-dynamic-dimension", "metadata-dimension-disagrees", "metadata-size-disagrees", "metadata-future-version",
        "metadata-garbage-numbers", "metadata-wrong-input-name",
    ];

    private static byte[] Bytes(string name)
    {
        Dictionary<string, string> With(string key, string value) => new(Good) { [EmbeddingModelMetadata.KeyPrefix + key] = value };
        byte[] valid = TinyOnnxModel.FlattenGemmL2(1, 28, 28, 16, metadata: Good);
        return name switch
        {
            "empty" => [],
            "text" => "this is not an ONNX model"u8.ToArray(),
            "random-bytes" => RandomBytes(4096),
            "truncated-onnx" => valid[..(valid.Length / 2)],
            "onnx-without-metadata" => TinyOnnxModel.FlattenGemmL2(1, 28, 28, 16),
            "onnx-rank-2-input" => TinyOnnxModel.FlattenGemmL2(1, 28, 28, 16, metadata: Good, inputShape: ["N", 784]),
            "onnx-rank-5-input" => TinyOnnxModel.FlattenGemmL2(1, 28, 28, 16, metadata: Good, inputShape: ["N", 1, 1, 28, 28]),
            "onnx-second-dynamic-dimension" => TinyOnnxModel.FlattenGemmL2(1, 28, 28, 16, metadata: Good, inputShape: ["N", 1, "H", 28]),
            "metadata-dimension-disagrees" => TinyOnnxModel.FlattenGemmL2(1, 28, 28, 16, metadata: With("embedding_dimension", "32")),
            "metadata-size-disagrees" => TinyOnnxModel.FlattenGemmL2(1, 28, 28, 16, metadata: With("input_width", "32")),
            "metadata-future-version" => TinyOnnxModel.FlattenGemmL2(1, 28, 28, 16, metadata: With("format_version", "99")),
            "metadata-garbage-numbers" => TinyOnnxModel.FlattenGemmL2(1, 28, 28, 16, metadata: With("input_height", "-7e99")),
            "metadata-wrong-input-name" => TinyOnnxModel.FlattenGemmL2(1, 28, 28, 16, metadata: With("input_name", "nope")),
            _ => throw new ArgumentException(name),
        };
    }

    private static byte[] RandomBytes(int n)
    {
        var bytes = new byte[n];
        new Random(5).NextBytes(bytes);
        return bytes;
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Bad_models_are_rejected_with_InvalidDataException_everywhere(string name)
    {
        string path = fixture.Scratch($"bad-{name}-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, Bytes(name));
        var before = SavedIndexFixture.Snapshot(fixture.Pristine);
        var entryPoints = new (string What, Action Run)[]
        {
            ("ReadFromOnnx", () => EmbeddingModelMetadata.ReadFromOnnx(path)),
            ("new ImageEmbedder", () => new ImageEmbedder(path).Dispose()),
            ("ImageSearchIndex.Create", () => ImageSearchIndex.Create(path, fixture.Gallery).Dispose()),
            ("ImageSearchIndex.Open", () => ImageSearchIndex.Open(fixture.Pristine, path, fixture.Gallery).Dispose()),
        };
        foreach (var (what, run) in entryPoints)
        {
            long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            var error = Record.Exception(run);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
            if (what == "ReadFromOnnx" && error is null && (name.StartsWith("onnx-", StringComparison.Ordinal) || name.EndsWith("disagrees", StringComparison.Ordinal) || name == "metadata-wrong-input-name"))
            {
                continue; // the metadata alone is well-formed; its agreement with the graph is checked when the model loads
            }
            Assert.True(error is InvalidDataException, $"{name} via {what}: expected InvalidDataException, got {error?.GetType().FullName ?? "success"}: {error?.Message}");
            // Open names the index (the model's hash differs); the others name the model file.
            string named = what == "ImageSearchIndex.Open" ? fixture.Pristine : path;
            Assert.True(error!.Message.Contains(named, StringComparison.Ordinal) || error.Message.Contains(Path.GetFileName(path), StringComparison.Ordinal),
                $"{name} via {what}: the message does not name the file: {error.Message}");
            // Refused up front: the work is bounded by the model file (ONNX Runtime's own buffers are native), not by what it claims.
            Assert.True(allocated < (16L << 20) + (8L * new FileInfo(path).Length), $"{name} via {what} allocated {allocated:N0} bytes");
        }
        Assert.Equal(before, SavedIndexFixture.Snapshot(fixture.Pristine));
    }

    [Fact]
    public void A_missing_model_is_FileNotFoundException()
    {
        string path = fixture.Scratch("missing.onnx");
        Assert.Throws<FileNotFoundException>(() => new ImageEmbedder(path));
        Assert.Throws<FileNotFoundException>(() => ImageSearchIndex.Create(path, fixture.Gallery));
        Assert.Throws<FileNotFoundException>(() => ImageSearchIndex.Open(fixture.Pristine, path, fixture.Gallery));
    }

    [Fact]
    public void An_image_folder_with_one_class_indexes_and_a_gallery_of_hostile_files_is_skipped_with_reasons()
    {
        using var temp = new TempDirectory();
        string gallery = Path.Combine(temp.Path, "one-class");
        var set = FashionMnist.Load(FashionMnist.Split.Test, maxItems: 40);
        int[] shirts = Enumerable.Range(0, set.Count).Where(i => set.GetLabel(i) == set.GetLabel(0)).ToArray();
        ImageFolderWriter.WritePng(set, gallery, shirts);
        foreach (string empty in Directory.GetDirectories(gallery).Where(d => !Directory.EnumerateFileSystemEntries(d).Any()))
        {
            Directory.Delete(empty);
        }
        Assert.Single(Directory.GetDirectories(gallery));
        string bad = Directory.GetDirectories(gallery)[0];
        File.WriteAllBytes(Path.Combine(bad, "empty.png"), []);
        File.WriteAllText(Path.Combine(bad, "text.jpg"), "hello");
        File.WriteAllBytes(Path.Combine(bad, "bomb.png"), TestImages.PngDeclaring(50_000, 50_000));
        File.Copy(Path.Combine(AppContext.BaseDirectory, "fixtures", "images", "header-only.jpg"), Path.Combine(bad, "header-only.jpg"));

        using var index = ImageSearchIndex.Create(fixture.Model, gallery, SavedIndexFixture.Options);
        var report = index.AddFolder();
        Assert.Equal(shirts.Length, report.Added);
        Assert.Equal(4, report.Skipped.Count);
        Assert.All(report.Skipped, s => Assert.False(string.IsNullOrWhiteSpace(s.Reason)));
        Assert.All(index.Items, i => Assert.Equal(Path.GetFileName(bad), i.Label));
        Assert.Equal(shirts.Length, index.Search(index.Embed(Directory.GetFiles(bad, "*.png")[0]), k: 100).Count(r => r.Path.EndsWith(".png", StringComparison.Ordinal)));
    }
}
