using System.Buffers.Binary;
using System.IO.Hashing;
using ImageRetrieval.ML.Imaging;
using ImageRetrieval.ML.Indexing;
using ImageRetrieval.ML.Search;
using ImageRetrieval.ML.Tests.Indexing;
using SkiaSharp;
using Xunit.Abstractions;

namespace ImageRetrieval.ML.Tests.Reliability;

/// <summary>
/// Seeded mutation fuzzing of the runtime package's readers of untrusted bytes: the HNSW graph loader (with and
/// without the checksum repaired, so mutations reach the structural validation), the index manifest, item list and
/// embeddings readers, and the image decoder (the IDX and MAT readers: ImageRetrieval.Datasets.Tests). Figures are in
/// docs/reliability.md.
/// </summary>
public class FuzzTests(SavedIndexFixture fixture, ITestOutputHelper output) : IClassFixture<SavedIndexFixture>
{
    private static readonly Type[] DataErrors = [typeof(InvalidDataException)];

    /// <summary>The readers fuzzed here, by area name (the folder under tests/fixtures/regressions; <see cref="RegressionFixtures.RuntimeAreas"/>).</summary>
    internal static void Replay(string area, byte[] input)
    {
        switch (area)
        {
            case "hnsw":
                HnswTarget(input);
                break;
            case "images":
                ImageTarget(input);
                break;
            default:
                throw new ArgumentException("unknown area " + area);
        }
    }

    internal static Type[] AllowedFor(string area) => area == "images" ? [typeof(ImageDecodeException)] : DataErrors;

    private static void HnswTarget(byte[] input)
    {
        using var index = HnswIndex.Load(new MemoryStream(input, writable: false));
        index.Search(new float[index.Dimension], 3);
    }

    private static readonly ImageDecodeOptions ImageOptions = new() { Width = 28, Height = 28, Channels = 3 };

    private static void ImageTarget(byte[] input) => ImageDecoder.Decode(input, ImageOptions, new float[ImageOptions.OutputLength], 1f / 255, "fuzz");

    private static byte[] RepairChecksum(byte[] data)
    {
        if (data.Length < 16)
        {
            return data;
        }
        byte[] copy = (byte[])data.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(copy.AsSpan(copy.Length - 8), XxHash64.HashToUInt64(copy.AsSpan(0, copy.Length - 8)));
        return copy;
    }

    internal static byte[][] HnswSeeds()
    {
        var seeds = new List<byte[]>();
        foreach (var (metric, count, removed) in new[] { (DistanceMetric.Cosine, 120, 0), (DistanceMetric.SquaredL2, 60, 10), (DistanceMetric.InnerProduct, 1, 0) })
        {
            using var index = VectorData.Build(VectorData.Gaussian(count, 8, seed: count), 8, metric, m: 6, efConstruction: 20);
            for (int r = 0; r < removed; r++)
            {
                index.Remove(r * 3);
            }
            var stream = new MemoryStream();
            index.Save(stream);
            seeds.Add(stream.ToArray());
        }
        return [.. seeds];
    }

    private void Report(FuzzOutcome o)
    {
        output.WriteLine($"{o.Area}: {o.Cases} cases ({o.Accepted} accepted, {o.Rejected} rejected) in {o.Elapsed.TotalSeconds:F1} s, slowest {o.Slowest.TotalMilliseconds:F0} ms, most allocated {o.MostAllocated:N0} B");
        Assert.True(o.Failures.Count == 0, $"{o.Failures.Count} fuzz failures in {o.Area}:\n" + string.Join("\n", o.Failures.Take(20)));
    }

    [Fact]
    public void Hnsw_loader_survives_mutations()
    {
        byte[][] seeds = HnswSeeds();
        // Budget: the vectors and links of the declared slots (which must fit the input) plus fixed overhead.
        Report(FuzzHarness.Run("hnsw", seeds, 1500, HnswTarget, DataErrors, input => (8L << 20) + (32L * input.Length)));
    }

    [Fact]
    public void Hnsw_loader_survives_mutations_with_a_repaired_checksum()
    {
        byte[][] seeds = HnswSeeds();
        Report(FuzzHarness.Run("hnsw-repaired", seeds, 1500, input => HnswTarget(RepairChecksum(input)), DataErrors, input => (8L << 20) + (32L * input.Length)));
    }

    [Fact]
    public void Manifest_reader_survives_mutations()
    {
        string folder = fixture.Scratch("fuzz-manifest-" + Guid.NewGuid().ToString("N"));
        SavedIndexFixture.CopyDirectory(fixture.VersionFolder, folder);
        string manifest = Path.Combine(folder, IndexManifest.FileName);
        byte[] seed = File.ReadAllBytes(manifest);
        Report(FuzzHarness.Run("manifest", [seed], 800, input =>
        {
            File.WriteAllBytes(manifest, input);
            IndexManifest.Read(folder);
        }, DataErrors, input => (2L << 20) + (64L * input.Length)));
    }

    [Fact]
    public void Item_list_reader_survives_mutations()
    {
        IndexManifest manifest = IndexManifest.Read(fixture.VersionFolder);
        string items = fixture.Scratch("fuzz-items-" + Guid.NewGuid().ToString("N") + ".json");
        Report(FuzzHarness.Run("items", [fixture.Bytes("items.json")], 800, input =>
        {
            File.WriteAllBytes(items, input);
            ImageSearchIndex.ReadItems(items, manifest);
        }, DataErrors, input => (2L << 20) + (64L * input.Length)));
    }

    [Fact]
    public void Embedding_store_reader_survives_mutations()
    {
        string file = fixture.Scratch("fuzz-embeddings-" + Guid.NewGuid().ToString("N") + ".bin");
        Report(FuzzHarness.Run("embeddings", [fixture.Bytes(EmbeddingStore.FileName)], 600, input =>
        {
            File.WriteAllBytes(file, input);
            EmbeddingStore.Read(file, 16, fixture.Count);
        }, DataErrors, input => (1L << 20) + (8L * input.Length)));
    }

    internal static byte[][] ImageSeeds() =>
    [
        TestImages.Pattern(12, 9),
        TestImages.Pattern(12, 9, SKEncodedImageFormat.Jpeg),
        .. new[] { "palette.png", "grey-alpha.png", "rgb16.png", "progressive.jpg", "cmyk.jpg", "animated.gif" }
            .Select<string, byte[]>(n => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "fixtures", "images", n))),
    ];

    [Fact]
    public void Image_decoder_survives_mutations()
    {
        // Pixel memory is native (SkiaSharp) and bounded by ImageDecodeOptions.MaxPixels; the managed side must stay small.
        Report(FuzzHarness.Run("images", ImageSeeds(), 1200, ImageTarget, [typeof(ImageDecodeException)],
            input => (1L << 20) + (4L * input.Length)));
    }
}
