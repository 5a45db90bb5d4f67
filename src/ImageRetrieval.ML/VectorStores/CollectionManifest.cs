using System.Text.Json;
using ImageRetrieval.ML.Search;

namespace ImageRetrieval.ML.VectorStores;

/// <summary>
/// <c>collection.json</c> of a saved collection version: format, key type, the data and vector properties, counts, HNSW
/// parameters, every other file's size and SHA-256, and the manifest's own checksum (as an image-search index manifest).
/// </summary>
internal sealed record CollectionManifest
{
    public const string FileName = "collection.json";
    public const string FormatName = "imageretrieval-vectordata-collection";
    public const int CurrentFormatVersion = 1;

    public string Format { get; init; } = FormatName;

    public int FormatVersion { get; init; } = CurrentFormatVersion;

    public DateTime SavedUtc { get; init; } = DateTime.UtcNow;

    public required string Name { get; init; }

    public required string KeyType { get; init; }

    public required int Count { get; init; }

    public required long NextId { get; init; }

    public required List<DataEntry> Data { get; init; }

    public required List<VectorEntry> Vectors { get; init; }

    public required int M { get; init; }

    public required int EfConstruction { get; init; }

    public required Dictionary<string, IndexManifest.FileEntry> Files { get; init; }

    /// <summary>See <see cref="ManifestChecksum"/>; declared last so it is written last.</summary>
    public string? Checksum { get; init; }

    internal sealed record DataEntry(string Name, string Type);

    internal sealed record VectorEntry(string Name, int Dimensions, string DistanceFunction, bool Flat);

    public void Write(string folder) =>
        ManifestChecksum.WriteSealed(Path.Combine(folder, FileName), JsonSerializer.SerializeToUtf8Bytes(this with { Checksum = ManifestChecksum.Zero }, SearchJsonContext.Default.CollectionManifest));

    /// <exception cref="InvalidDataException">The manifest is missing, malformed, from a newer format, or a file does not match it.</exception>
    public static CollectionManifest Read(string folder)
    {
        CollectionManifest manifest = ManifestChecksum.Read(folder, FileName, SearchJsonContext.Default.CollectionManifest, m => m.Checksum, "collection manifest");
        string path = Path.Combine(folder, FileName);
        if (manifest.Format != FormatName)
        {
            throw new InvalidDataException($"'{path}' has format '{manifest.Format}', expected '{FormatName}'.");
        }
        if (manifest.FormatVersion < 1 || manifest.FormatVersion > CurrentFormatVersion)
        {
            throw new InvalidDataException($"'{path}' has format version {manifest.FormatVersion}; this library reads versions 1..{CurrentFormatVersion}. Upgrade ImageRetrieval to open it.");
        }
        if (manifest.Count < 0 || manifest.NextId < manifest.Count || manifest.Data is null || manifest.Vectors is null || manifest.Files is null)
        {
            throw new InvalidDataException($"'{path}' has impossible counts or lacks its property or file lists.");
        }
        IndexManifest.VerifyFiles(manifest.Files, folder, path, FileName);
        return manifest;
    }
}
