using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ImageRetrieval.ML.Indexing;
using ImageRetrieval.ML.Search;

namespace ImageRetrieval.ML.Tests.Reliability;

/// <summary>
/// The bad-index corpus: every file of a saved ImageSearchIndex truncated at each 1/16 of its length and
/// bit-flipped at seeded random offsets, wrong magic, future versions, counts and dimensions that do not
/// fit, and item paths that escape the gallery. Each must fail Open with an InvalidDataException naming
/// the file, doing no more work than opening the intact index (bounded by managed allocation), and leaving the
/// directory on disk byte-for-byte untouched.
/// </summary>
public class IndexCorruptionTests(SavedIndexFixture fixture) : IClassFixture<SavedIndexFixture>
{
    public static TheoryData<string> Files => ["manifest.json", "items.json", "embeddings.bin", "graph.hnsw", "CURRENT"];

    /// <summary>Managed bytes a successful Open of the intact index allocates on its thread (measured once).</summary>
    private long IntactOpenAllocation
    {
        get
        {
            if (_intactOpenAllocation == 0)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                using (ImageSearchIndex.Open(fixture.Pristine, fixture.Model, fixture.Gallery))
                {
                }
                _intactOpenAllocation = GC.GetAllocatedBytesForCurrentThread() - before;
            }
            return _intactOpenAllocation;
        }
    }

    private long _intactOpenAllocation;

    /// <summary>Opens, expecting InvalidDataException; checks the work bound and that nothing on disk changed.</summary>
    private void AssertRejected(string directory, string because)
    {
        var before = SavedIndexFixture.Snapshot(directory);
        long budget = (2 * IntactOpenAllocation) + (1L << 20);
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var error = Record.Exception(() =>
        {
            using var index = ImageSearchIndex.Open(directory, fixture.Model, fixture.Gallery);
        });
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        Assert.True(error is InvalidDataException, $"{because}: expected InvalidDataException, got {error?.GetType().Name ?? "success"}: {error?.Message}");
        Assert.True(error!.Message.Contains(directory, StringComparison.Ordinal), $"{because}: the message does not name the index: {error.Message}");
        // A corrupt index costs no more than an intact one: no count or length read from it drives an allocation.
        Assert.True(allocated < budget, $"{because}: allocated {allocated:N0} bytes; opening the intact index takes {IntactOpenAllocation:N0}");
        Assert.Equal(before, SavedIndexFixture.Snapshot(directory));
    }

    private static string FileIn(string directory, string name) =>
        name == IndexDirectory.CurrentFileName ? Path.Combine(directory, name) : Path.Combine(IndexDirectory.OpenCurrent(directory), name);

    [Fact]
    public void The_pristine_copy_opens()
    {
        using var index = ImageSearchIndex.Open(fixture.Copy(), fixture.Model, fixture.Gallery);
        Assert.Equal(fixture.Count, index.Count);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Every_file_truncated_at_each_sixteenth_is_rejected(string name)
    {
        string directory = fixture.Copy();
        string file = FileIn(directory, name);
        byte[] original = File.ReadAllBytes(file);
        for (int k = 0; k < 16; k++)
        {
            File.WriteAllBytes(file, original[..(original.Length * k / 16)]);
            AssertRejected(directory, $"{name} truncated to {k}/16");
        }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Single_bit_flips_anywhere_are_rejected(string name)
    {
        string directory = fixture.Copy();
        string file = FileIn(directory, name);
        byte[] original = File.ReadAllBytes(file);
        var random = new Random(name.Length * 7919);
        int flips = name == IndexDirectory.CurrentFileName ? original.Length * 8 : 24;
        for (int i = 0; i < flips; i++)
        {
            int bit = name == IndexDirectory.CurrentFileName ? i : random.Next(original.Length * 8);
            byte[] flipped = (byte[])original.Clone();
            flipped[bit / 8] ^= (byte)(1 << (bit % 8));
            File.WriteAllBytes(file, flipped);
            AssertRejected(directory, $"{name} bit {bit} flipped");
        }
    }

    /// <summary>Rewrites a version's manifest after <paramref name="edit"/>, with fresh file hashes and checksum, so the deeper validation is what must catch the problem.</summary>
    private static void Reseal(string directory, Action<string>? editFiles = null, Func<IndexManifest, IndexManifest>? edit = null)
    {
        string folder = IndexDirectory.OpenCurrent(directory);
        editFiles?.Invoke(folder);
        string path = Path.Combine(folder, IndexManifest.FileName);
        var manifest = JsonSerializer.Deserialize(File.ReadAllBytes(path), SearchJsonContext.Default.IndexManifest)!;
        var files = manifest.Files.Keys.ToDictionary(n => n, n => IndexManifest.Describe(Path.Combine(folder, n)));
        manifest = manifest with { Files = files };
        manifest = edit?.Invoke(manifest) ?? manifest;
        File.Delete(path);
        manifest.Write(folder);
    }

    private static void Patch(string folder, string name, Action<byte[]> patch)
    {
        string file = Path.Combine(folder, name);
        byte[] bytes = File.ReadAllBytes(file);
        patch(bytes);
        File.WriteAllBytes(file, bytes);
    }

    private static void EditItems(string folder, Action<JsonArray> edit)
    {
        string file = Path.Combine(folder, "items.json");
        var items = JsonNode.Parse(File.ReadAllText(file))!.AsArray();
        edit(items);
        File.WriteAllText(file, items.ToJsonString());
    }

    public static TheoryData<string> StructuralCases =>
    [
        "resealed-as-is", "manifest-future-version", "manifest-wrong-format", "manifest-count-too-big", "manifest-count-too-small",
        "manifest-dimension-wrong", "manifest-huge-dimension", "manifest-negative-count", "manifest-next-key-too-small", "manifest-file-escapes",
        "manifest-file-absolute", "manifest-metric-unknown", "manifest-missing-graph-entry", "manifest-no-checksum",
        "graph-wrong-magic", "graph-future-version", "graph-count-does-not-fit", "graph-dimension-does-not-fit",
        "embeddings-wrong-magic", "embeddings-future-version", "embeddings-count-does-not-fit", "embeddings-dimension-does-not-fit", "embeddings-nan",
        "items-dotdot-path", "items-absolute-path", "items-backslash-path", "items-nul-path", "items-duplicate-key", "items-key-not-in-graph",
        "items-negative-key", "items-not-an-array", "items-deep-nesting",
    ];

    [Theory]
    [MemberData(nameof(StructuralCases))]
    public void Structurally_bad_indexes_are_rejected_even_with_valid_hashes(string name)
    {
        string directory = fixture.Copy();
        const string Graph = "graph.hnsw", Embeddings = "embeddings.bin";
        switch (name)
        {
            case "resealed-as-is":
                Reseal(directory);
                using (var index = ImageSearchIndex.Open(directory, fixture.Model, fixture.Gallery))
                {
                    Assert.Equal(fixture.Count, index.Count);
                }
                return;
            case "manifest-future-version": Reseal(directory, edit: m => m with { FormatVersion = 2 }); break;
            case "manifest-wrong-format": Reseal(directory, edit: m => m with { Format = "something-else" }); break;
            case "manifest-count-too-big": Reseal(directory, edit: m => m with { Count = m.Count + 1, NextKey = m.NextKey + 1 }); break;
            case "manifest-count-too-small": Reseal(directory, edit: m => m with { Count = m.Count - 1 }); break;
            case "manifest-dimension-wrong": Reseal(directory, edit: m => m with { Dimension = 17 }); break;
            case "manifest-huge-dimension": Reseal(directory, edit: m => m with { Dimension = int.MaxValue, Count = int.MaxValue, NextKey = long.MaxValue }); break;
            case "manifest-negative-count": Reseal(directory, edit: m => m with { Count = -1 }); break;
            case "manifest-next-key-too-small": Reseal(directory, edit: m => m with { NextKey = 3 }); break;
            case "manifest-file-escapes":
                Reseal(directory, edit: m => m with { Files = new(m.Files) { ["../../CURRENT"] = m.Files[Graph] } });
                break;
            case "manifest-file-absolute":
                Reseal(directory, edit: m => m with { Files = new(m.Files) { ["/etc/passwd"] = m.Files[Graph] } });
                break;
            case "manifest-metric-unknown": Reseal(directory, edit: m => m with { Metric = "manhattan" }); break;
            case "manifest-missing-graph-entry":
                Reseal(directory, edit: m => m with { Files = m.Files.Where(p => p.Key != Graph).ToDictionary(p => p.Key, p => p.Value) });
                break;
            case "manifest-no-checksum":
            {
                string path = Path.Combine(IndexDirectory.OpenCurrent(directory), IndexManifest.FileName);
                var node = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
                node.Remove("checksum");
                File.WriteAllText(path, node.ToJsonString());
                break;
            }
            case "graph-wrong-magic": Reseal(directory, f => Patch(f, Graph, b => b[0] ^= 0x20)); break;
            case "graph-future-version": Reseal(directory, f => Patch(f, Graph, b => BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(8), HnswIndex.FormatVersion + 1))); break;
            case "graph-count-does-not-fit":
                Reseal(directory, f => Patch(f, Graph, b => BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(36), BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(36)) * 1000)));
                break;
            case "graph-dimension-does-not-fit":
                Reseal(directory, f => Patch(f, Graph, b => BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(16), 1 << 15)));
                break;
            case "embeddings-wrong-magic": Reseal(directory, f => Patch(f, Embeddings, b => b[0] = (byte)'X')); break;
            case "embeddings-future-version": Reseal(directory, f => Patch(f, Embeddings, b => BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(8), 2))); break;
            case "embeddings-count-does-not-fit": Reseal(directory, f => Patch(f, Embeddings, b => BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(16), 1L << 40))); break;
            case "embeddings-dimension-does-not-fit": Reseal(directory, f => Patch(f, Embeddings, b => BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(12), 1 << 20))); break;
            case "embeddings-nan": Reseal(directory, f => Patch(f, Embeddings, b => BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(24 + 8), float.NaN))); break;
            case "items-dotdot-path": Reseal(directory, f => EditItems(f, a => a[0]!["path"] = "../../etc/passwd")); break;
            case "items-absolute-path": Reseal(directory, f => EditItems(f, a => a[0]!["path"] = "/etc/passwd")); break;
            case "items-backslash-path": Reseal(directory, f => EditItems(f, a => a[0]!["path"] = "..\\..\\secret.png")); break;
            case "items-nul-path": Reseal(directory, f => EditItems(f, a => a[0]!["path"] = "a.png\0.txt")); break;
            case "items-duplicate-key": Reseal(directory, f => EditItems(f, a => a[1]!["key"] = a[0]!["key"]!.GetValue<long>())); break;
            case "items-key-not-in-graph": Reseal(directory, f => EditItems(f, a => a[0]!["key"] = 7)); break; // key 7 was removed
            case "items-negative-key": Reseal(directory, f => EditItems(f, a => a[0]!["key"] = -5)); break;
            case "items-not-an-array": Reseal(directory, f => File.WriteAllText(Path.Combine(f, "items.json"), "{\"path\": \"a.png\"}")); break;
            case "items-deep-nesting": Reseal(directory, f => File.WriteAllText(Path.Combine(f, "items.json"), new string('[', 100_000) + new string(']', 100_000))); break;
            default: throw new ArgumentException(name);
        }
        AssertRejected(directory, name);
    }

    [Fact]
    public void Graph_files_validate_themselves_without_the_manifest()
    {
        // HnswIndex.Load alone, on raw graph files: every 1/16 truncation and 64 seeded bit flips.
        foreach (byte[] original in FuzzTests.HnswSeeds().Append(fixture.Bytes("graph.hnsw")))
        {
            for (int k = 0; k < 16; k++)
            {
                AssertGraphRejected(original[..(original.Length * k / 16)], $"truncated to {k}/16");
            }
            var random = new Random(original.Length);
            for (int i = 0; i < 64; i++)
            {
                int bit = random.Next(original.Length * 8);
                byte[] flipped = (byte[])original.Clone();
                flipped[bit / 8] ^= (byte)(1 << (bit % 8));
                AssertGraphRejected(flipped, $"bit {bit} flipped");
            }
        }
    }

    private static void AssertGraphRejected(byte[] bytes, string because)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Record.Exception(() =>
        {
            using var index = HnswIndex.Load(new MemoryStream(bytes));
        });
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(error is InvalidDataException, $"{because}: expected InvalidDataException, got {error?.GetType().Name ?? "success"}");
        // The fuzz tests' budget for the graph loader: what the input can hold, plus fixed overhead.
        Assert.True(allocated < (8L << 20) + (32L * bytes.Length), $"{because}: allocated {allocated:N0} bytes for {bytes.Length} bytes of input");
    }

    [Fact]
    public void A_version_folder_or_CURRENT_that_is_missing_is_a_typed_error()
    {
        string directory = fixture.Copy();
        File.Delete(Path.Combine(IndexDirectory.OpenCurrent(directory), "graph.hnsw"));
        AssertRejected(directory, "graph.hnsw deleted");

        directory = fixture.Copy();
        Directory.Delete(IndexDirectory.OpenCurrent(directory), recursive: true);
        AssertRejected(directory, "version folder deleted");

        directory = fixture.Copy();
        File.Delete(Path.Combine(directory, "CURRENT"));
        AssertRejected(directory, "CURRENT deleted");

        Assert.Throws<DirectoryNotFoundException>(() => ImageSearchIndex.Open(fixture.Scratch("nowhere"), fixture.Model));
    }

    [Fact]
    public void A_CURRENT_pointing_outside_the_index_is_rejected()
    {
        string directory = fixture.Copy();
        foreach (string content in new[] { "../pristine\n", "/etc\n", "v000001/../../x\n", "v000001\0\n", "\u0000", new string('v', 64) })
        {
            File.WriteAllText(Path.Combine(directory, "CURRENT"), content, new UTF8Encoding(false));
            AssertRejected(directory, $"CURRENT = {content}");
        }
    }
}
