using System.Security.Cryptography;
using System.Text.Json;
using ImageRetrieval.ML.Indexing;

namespace ImageRetrieval.ML.Search;

/// <summary>
/// The manifest of a saved image-search index version (<c>manifest.json</c>): format
/// version, the embedding model's SHA-256 and metadata, metric, counts, index parameters, and the
/// SHA-256 of every other file of the version, so a torn or tampered version is detected on open.
/// </summary>
internal sealed record IndexManifest
{
    public const string FileName = "manifest.json";
    public const string FormatName = "imageretrieval-index";
    public const int CurrentFormatVersion = 1;

    public string Format { get; init; } = FormatName;

    public int FormatVersion { get; init; } = CurrentFormatVersion;

    public string LibraryVersion { get; init; } = typeof(IndexManifest).Assembly.GetName().Version?.ToString() ?? "0";

    public DateTime SavedUtc { get; init; } = DateTime.UtcNow;

    public required ModelReference Model { get; init; }

    public required string Metric { get; init; }

    public required int Dimension { get; init; }

    public required int Count { get; init; }

    public required long NextKey { get; init; }

    public string? GalleryRoot { get; init; }

    public required IndexParameters Index { get; init; }

    public required Dictionary<string, FileEntry> Files { get; init; }

    /// <summary>
    /// SHA-256 of the manifest's own bytes with this value replaced by 64 zeros; declared last so it is
    /// written last. It makes any change to the manifest itself (a bit flip in a path, a count, a hash's
    /// letter case) detectable, as the file entries do for the other files.
    /// </summary>
    public string? Checksum { get; init; }

    public void Write(string folder) =>
        ManifestChecksum.WriteSealed(Path.Combine(folder, FileName), JsonSerializer.SerializeToUtf8Bytes(this with { Checksum = ManifestChecksum.Zero }, SearchJsonContext.Default.IndexManifest));

    /// <summary>Reads and validates the manifest of a version folder, and checks every listed file's size and SHA-256.</summary>
    /// <exception cref="InvalidDataException">The manifest is missing, malformed, from a newer format, or a file does not match it.</exception>
    public static IndexManifest Read(string folder)
    {
        IndexManifest manifest = ManifestChecksum.Read(folder, FileName, SearchJsonContext.Default.IndexManifest, m => m.Checksum, "index manifest");
        string path = Path.Combine(folder, FileName);
        manifest.Validate(path);
        VerifyFiles(manifest.Files, folder, path, FileName);
        return manifest;
    }

    private void Validate(string path)
    {
        if (Format != FormatName)
        {
            throw new InvalidDataException($"'{path}' has format '{Format}', expected '{FormatName}'.");
        }
        if (FormatVersion < 1 || FormatVersion > CurrentFormatVersion)
        {
            throw new InvalidDataException($"'{path}' has format version {FormatVersion}; this library reads versions 1..{CurrentFormatVersion}. Upgrade ImageRetrieval to open it.");
        }
        if (Model is null || Model.Sha256 is null || Model.Sha256.Length != 64 || Model.Metadata is null)
        {
            throw new InvalidDataException($"'{path}' lacks the model's SHA-256 or metadata.");
        }
        if (!DistanceMetricNames.TryParse(Metric, out _))
        {
            throw new InvalidDataException($"'{path}' has metric '{Metric}', expected one of {string.Join(", ", DistanceMetricNames.All)}.");
        }
        if (Dimension < 1 || Dimension > 65536 || Count < 0 || NextKey < Count)
        {
            throw new InvalidDataException($"'{path}' has impossible counts (dimension {Dimension}, count {Count}, next key {NextKey}).");
        }
        if (Index is null || Files is null)
        {
            throw new InvalidDataException($"'{path}' lacks the index parameters or the file list.");
        }
    }

    /// <summary>Checks that every listed file has a plain name (not the manifest's own) and the size and SHA-256 the manifest records.</summary>
    /// <exception cref="InvalidDataException">A name is invalid, or a file is missing, truncated or changed.</exception>
    internal static void VerifyFiles(IReadOnlyDictionary<string, FileEntry> files, string folder, string manifestPath, string manifestFileName)
    {
        foreach (var (name, entry) in files)
        {
            if (name.Length == 0 || name.Contains('/', StringComparison.Ordinal) || name.Contains('\\', StringComparison.Ordinal) || name is "." or ".." || name == manifestFileName)
            {
                throw new InvalidDataException($"'{manifestPath}' lists an invalid file name '{name}'.");
            }
            entry.Verify(folder, name, manifestPath);
        }
    }

    /// <summary>Size and SHA-256 of a file, computed by streaming.</summary>
    public static FileEntry Describe(string file)
    {
        using var stream = File.OpenRead(file);
        byte[] hash = SHA256.HashData(stream);
        return new FileEntry { Bytes = stream.Length, Sha256 = Convert.ToHexStringLower(hash) };
    }

    /// <summary>SHA-256 of a file, lower-case hex.</summary>
    public static string Sha256Of(string file)
    {
        using var stream = File.OpenRead(file);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    internal sealed record ModelReference
    {
        public required string Sha256 { get; init; }

        public string? FileName { get; init; }

        public string? Path { get; init; }

        public required Dictionary<string, string> Metadata { get; init; }
    }

    internal sealed record IndexParameters
    {
        public string Kind { get; init; } = "hnsw";

        public int M { get; init; }

        public int EfConstruction { get; init; }
    }

    internal sealed record FileEntry
    {
        public required long Bytes { get; init; }

        public required string Sha256 { get; init; }

        public void Verify(string folder, string name, string manifestPath)
        {
            string file = Path.Combine(folder, name);
            if (!File.Exists(file))
            {
                throw new InvalidDataException($"'{manifestPath}' lists '{name}', which is missing.");
            }
            long length = new FileInfo(file).Length;
            if (length != Bytes)
            {
                throw new InvalidDataException($"'{file}' has {length} bytes; the manifest says {Bytes} (truncated or replaced).");
            }
            if (!string.Equals(Sha256Of(file), Sha256, StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidDataException($"'{file}' does not match the SHA-256 in the manifest (corrupted).");
            }
        }
    }
}
