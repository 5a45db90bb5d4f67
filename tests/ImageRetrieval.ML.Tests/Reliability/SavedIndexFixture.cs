using ImageRetrieval.Datasets;
using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Search;
using ImageRetrieval.ML.Tests.Embedding;

namespace ImageRetrieval.ML.Tests.Reliability;

/// <summary>A tiny real model, a gallery of 60 real Fashion-MNIST PNGs and a pristine saved index of them.</summary>
public sealed class SavedIndexFixture : IDisposable
{
    private readonly TempDirectory _temp = new();

    internal static readonly ImageSearchIndexOptions Options = new() { Embedder = new ImageEmbedderOptions { BatchSize = 32, DecodeParallelism = 2 } };

    public SavedIndexFixture()
    {
        Model = _temp.File("model.onnx");
        File.WriteAllBytes(Model, TinyOnnxModel.ConvNetL2(1, 28, 28, 16, seed: 3, EmbeddingFixture.Metadata(1, 28, 28, 16, 1f / 255), widths: [4, 8, 8]));
        Gallery = Path.Combine(_temp.Path, "gallery");
        Paths = ImageFolderWriter.WritePng(FashionMnist.Load(FashionMnist.Split.Test, maxItems: 60), Gallery, filePrefix: "g-");
        Pristine = Path.Combine(_temp.Path, "pristine");
        using var index = ImageSearchIndex.Create(Model, Gallery, Options);
        index.AddFolder();
        index.Remove(index.Items[7].Key); // a deleted node in the graph, too
        index.Save(Pristine);
        Count = index.Count;
        VersionFolder = IndexDirectory.OpenCurrent(Pristine);
    }

    public string Model { get; }

    public string Gallery { get; }

    public IReadOnlyList<string> Paths { get; }

    /// <summary>The saved index; never modified.</summary>
    public string Pristine { get; }

    public string VersionFolder { get; }

    public int Count { get; }

    /// <summary>The bytes of a file of the live version.</summary>
    public byte[] Bytes(string name) => File.ReadAllBytes(Path.Combine(VersionFolder, name));

    /// <summary>A fresh copy of the pristine index directory.</summary>
    public string Copy()
    {
        string target = _temp.File("copy-" + Guid.NewGuid().ToString("N"));
        CopyDirectory(Pristine, target);
        return target;
    }

    public string Scratch(string name) => _temp.File(name);

    internal static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
        foreach (string dir in Directory.GetDirectories(from))
        {
            CopyDirectory(dir, Path.Combine(to, Path.GetFileName(dir)));
        }
    }

    /// <summary>A snapshot (relative path → bytes) of every file below a directory, to prove it was not touched.</summary>
    internal static Dictionary<string, string> Snapshot(string root) =>
        Directory.GetFiles(root, "*", SearchOption.AllDirectories).ToDictionary(
            f => Path.GetRelativePath(root, f),
            f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))));

    public void Dispose() => _temp.Dispose();
}
