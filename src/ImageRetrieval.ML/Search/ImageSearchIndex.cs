using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Imaging;
using ImageRetrieval.ML.Indexing;
using ImageRetrieval.ML.Models;
using ImageRetrieval.ML.Threading;
using Microsoft.Extensions.Logging;

namespace ImageRetrieval.ML.Search;

/// <summary>
/// A searchable index of images: embeds images with an ImageRetrieval ONNX model (batched, decoding
/// in parallel) and answers "what looks like this?" with an HNSW graph, or exactly by brute force.
/// </summary>
/// <remarks>
/// <para>Each image keeps a stable key, its path relative to the gallery root, an optional label
/// (by default its folder's name) and optional user metadata. Re-adding a path re-embeds it under the
/// same key; removing makes it disappear from every later search.</para>
/// <para>Persistence is a directory (see <see cref="Save"/>): a manifest with the format version,
/// the model's SHA-256 and metadata, metric and counts; the HNSW graph; the raw embeddings; the item
/// list. Saves are atomic: a crash during a save leaves the previous index loadable.</para>
/// <para>Thread safety: searches may run concurrently with each other and with adds, removes and saves, and never
/// wait for them. Writers (the graph-and-bookkeeping part of an add, removes, saves) take turns, so an image's item,
/// embedding and graph node are always changed together; embedding new images happens before that, outside the turn,
/// so parallel adds still decode and embed in parallel.</para>
/// </remarks>
public sealed partial class ImageSearchIndex : IDisposable
{
    private const string ItemsFileName = "items.json";
    private const string EncoderDescriptionKey = EmbeddingModelMetadata.KeyPrefix + "encoder_description";
    private const string GraphFileName = "graph.hnsw";

    private readonly ImageEmbedder _embedder;
    private readonly HnswIndex _graph;
    private readonly EmbeddingStore _embeddings;
    private readonly ConcurrentDictionary<long, IndexedImage> _items = new();
    private readonly ConcurrentDictionary<string, long> _keysByPath = new(StringComparer.Ordinal);
    // One writer at a time: item bookkeeping, embeddings and the graph change together (searches take no lock).
    private readonly Lock _writeLock = new();
    private readonly Lock _exactLock = new();
    // Searches, adds and saves in flight; Dispose waits for them (and cancels bulk adds through _disposing first).
    private readonly OperationGate _operations = new();
    private readonly CancellationTokenSource _disposing = new();
    private BruteForceIndex? _exact;
    private long _nextKey;

    private ImageSearchIndex(string modelPath, string modelSha256, string galleryRoot, ImageSearchIndexOptions options,
        HnswIndex? graph, EmbeddingStore? embeddings, long nextKey, ILogger? logger)
    {
        Options = options;
        GalleryRoot = Path.GetFullPath(galleryRoot);
        ModelPath = Path.GetFullPath(modelPath);
        ModelSha256 = modelSha256;
        _embedder = new ImageEmbedder(modelPath, options.Embedder with { OnError = ImageErrorPolicy.Skip }, logger);
        try
        {
            Metric = _embedder.Metadata.DistanceMetric;
            _graph = graph ?? new HnswIndex(_embedder.Dimension, Metric, options.ToHnsw());
            _embeddings = embeddings ?? new EmbeddingStore(_embedder.Dimension);
            _nextKey = nextKey;
        }
        catch
        {
            _embedder.Dispose();
            throw;
        }
    }

    /// <summary>The options the index was created or opened with.</summary>
    public ImageSearchIndexOptions Options { get; }

    /// <summary>Absolute path of the folder that item paths are relative to.</summary>
    public string GalleryRoot { get; }

    /// <summary>The embedding model file.</summary>
    public string ModelPath { get; }

    /// <summary>SHA-256 of the model file (lower-case hex); an index only opens with the same model.</summary>
    public string ModelSha256 { get; }

    /// <summary>What the model says about itself.</summary>
    public EmbeddingModelMetadata ModelMetadata => _embedder.Metadata;

    /// <summary>The distance results are ranked by: the model's metric (cosine distance, squared L2 or inner-product distance).</summary>
    public DistanceMetric Metric { get; }

    /// <summary>Embedding dimension.</summary>
    public int Dimension => _embedder.Dimension;

    /// <summary>Number of indexed images.</summary>
    public int Count => _items.Count;

    /// <summary>The execution provider the embedder runs on (CPU, or CUDA when available).</summary>
    public ExecutionProviderInfo ExecutionProvider => _embedder.ExecutionProvider;

    /// <summary>The indexed images, in key order.</summary>
    public IReadOnlyList<IndexedImage> Items => _items.Values.OrderBy(i => i.Key).ToList();

    /// <summary>Creates an empty index for images below <paramref name="galleryRoot"/>, embedded with <paramref name="modelPath"/>.</summary>
    /// <exception cref="FileNotFoundException">The model does not exist.</exception>
    /// <exception cref="DirectoryNotFoundException">The gallery root does not exist.</exception>
    /// <exception cref="InvalidDataException">The model is not an ImageRetrieval ONNX model.</exception>
    /// <param name="modelPath">The ONNX embedding model.</param>
    /// <param name="galleryRoot">The folder that item paths are relative to.</param>
    /// <param name="options">HNSW, embedder and threading settings; defaults when null.</param>
    /// <param name="logger">Receives warnings (a requested GPU that is unavailable); none when null.</param>
    public static ImageSearchIndex Create(string modelPath, string galleryRoot, ImageSearchIndexOptions? options = null, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        ArgumentException.ThrowIfNullOrEmpty(galleryRoot);
        if (!File.Exists(modelPath))
        {
            throw new FileNotFoundException($"Model file not found: '{modelPath}'.", modelPath);
        }
        if (!Directory.Exists(galleryRoot))
        {
            throw new DirectoryNotFoundException($"Gallery folder not found: '{galleryRoot}'.");
        }
        return new ImageSearchIndex(modelPath, IndexManifest.Sha256Of(modelPath), galleryRoot, options ?? new ImageSearchIndexOptions(), null, null, 0, logger);
    }

    /// <summary>Creates an empty index for images below <paramref name="galleryRoot"/>, embedded with a pretrained model (built on first use).</summary>
    /// <param name="model">E.g. <see cref="PretrainedModels.ImageNetResNet18"/>.</param>
    /// <param name="galleryRoot">The folder that item paths are relative to.</param>
    /// <param name="options">HNSW, embedder and threading settings; defaults when null.</param>
    /// <param name="logger">Receives warnings (a requested GPU that is unavailable); none when null.</param>
    /// <exception cref="FileNotFoundException">The files the model is built from cannot be found.</exception>
    /// <exception cref="DirectoryNotFoundException">The gallery root does not exist.</exception>
    public static ImageSearchIndex Create(PretrainedModel model, string galleryRoot, ImageSearchIndexOptions? options = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Create(model.GetModelPath(), galleryRoot, options, logger);
    }

    /// <summary>Opens a saved index.</summary>
    /// <param name="indexDirectory">The directory <see cref="Save"/> wrote.</param>
    /// <param name="modelPath">The model the index was built with (checked by SHA-256).</param>
    /// <param name="galleryRoot">Where the gallery is now; null uses the root recorded at save time.</param>
    /// <param name="embedderOptions">Embedder options (threads, batch size, GPU) for this session.</param>
    /// <param name="logger">Receives warnings (a requested GPU that is unavailable); none when null.</param>
    /// <exception cref="InvalidDataException">The index is missing, corrupt, from a newer format, or was built with another model.</exception>
    public static ImageSearchIndex Open(string indexDirectory, string modelPath, string? galleryRoot = null, ImageEmbedderOptions? embedderOptions = null, ILogger? logger = null) =>
        Open(indexDirectory, modelPath, galleryRoot, new ImageSearchIndexOptions { Embedder = embedderOptions ?? new ImageEmbedderOptions() }, logger);

    /// <summary>Opens a saved index with session settings: the search beam, indexing threads and embedder come from
    /// <paramref name="options"/>; the graph's M and efConstruction are the saved ones.</summary>
    /// <param name="indexDirectory">The directory <see cref="Save"/> wrote.</param>
    /// <param name="modelPath">The model the index was built with (checked by SHA-256).</param>
    /// <param name="galleryRoot">Where the gallery is now; null uses the root recorded at save time.</param>
    /// <param name="options">Session settings (its <see cref="ImageSearchIndexOptions.M"/> and <see cref="ImageSearchIndexOptions.EfConstruction"/> are ignored).</param>
    /// <param name="logger">Receives warnings; none when null.</param>
    /// <exception cref="InvalidDataException">The index is missing, corrupt, from a newer format, or was built with another model.</exception>
    public static ImageSearchIndex Open(string indexDirectory, string modelPath, string? galleryRoot, ImageSearchIndexOptions options, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        ArgumentNullException.ThrowIfNull(options);
        string folder = IndexDirectory.OpenCurrent(indexDirectory);
        IndexManifest manifest = IndexManifest.Read(folder);
        if (!File.Exists(modelPath))
        {
            throw new FileNotFoundException($"Model file not found: '{modelPath}'.", modelPath);
        }
        string sha = IndexManifest.Sha256Of(modelPath);
        if (!string.Equals(sha, manifest.Model.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidDataException(
                $"Index '{indexDirectory}' was built with model {manifest.Model.FileName ?? "?"} (SHA-256 {manifest.Model.Sha256[..12]}…), " +
                $"but '{modelPath}' has SHA-256 {sha[..12]}…. Open it with the model it was built with, or rebuild the index.");
        }
        string root = galleryRoot ?? manifest.GalleryRoot ?? throw new InvalidDataException($"Index '{indexDirectory}' records no gallery root; pass one.");
        foreach (string required in new[] { ItemsFileName, GraphFileName, EmbeddingStore.FileName })
        {
            if (!manifest.Files.ContainsKey(required))
            {
                throw new InvalidDataException($"Index '{folder}': the manifest does not list '{required}'.");
            }
        }

        List<IndexedImage> items = ReadItems(Path.Combine(folder, ItemsFileName), manifest);
        EmbeddingStore embeddings = EmbeddingStore.Read(Path.Combine(folder, EmbeddingStore.FileName), manifest.Dimension, manifest.Count);
        HnswIndex graph;
        string graphPath = Path.Combine(folder, GraphFileName);
        try
        {
            graph = HnswIndex.Load(graphPath);
        }
        catch (InvalidDataException e)
        {
            // HnswIndex.Load's messages say what is wrong but not which file.
            throw new InvalidDataException($"'{graphPath}': {e.Message}", e);
        }
        ImageEmbedderOptions embedderOptions = options.Embedder;
        if (embedderOptions.Encoder is null && manifest.Model.Metadata.TryGetValue(EncoderDescriptionKey, out string? described))
        {
            // A described model is fed as it was when the index was built.
            embedderOptions = embedderOptions with { Encoder = ImageEncoderDescription.FromJson(described, $"{folder} (manifest)") };
        }
        options = options with { M = manifest.Index.M, EfConstruction = manifest.Index.EfConstruction, Embedder = embedderOptions };
        ImageSearchIndex? index = null;
        try
        {
            index = new ImageSearchIndex(modelPath, sha, root, options, graph, embeddings, manifest.NextKey, logger);
            if (graph.Dimension != manifest.Dimension || graph.Count != manifest.Count || index.Dimension != manifest.Dimension)
            {
                throw new InvalidDataException($"Index '{folder}': the graph holds {graph.Count} vectors of {graph.Dimension}-d, the manifest says {manifest.Count} of {manifest.Dimension}-d, the model gives {index.Dimension}-d.");
            }
            foreach (IndexedImage item in items)
            {
                if (!graph.Contains(item.Key))
                {
                    throw new InvalidDataException($"Index '{folder}': item {item.Key} ('{item.Path}') is not in the graph.");
                }
                index._items[item.Key] = item;
                index._keysByPath[item.Path] = item.Key;
            }
            return index;
        }
        catch
        {
            if (index is not null)
            {
                index.Dispose();
            }
            else
            {
                graph.Dispose();
            }
            throw;
        }
    }

    /// <summary>Reads what a saved index holds without loading it (no model needed).</summary>
    /// <exception cref="InvalidDataException">The index is missing or corrupt.</exception>
    public static ImageSearchIndexInfo ReadInfo(string indexDirectory)
    {
        string folder = IndexDirectory.OpenCurrent(indexDirectory);
        IndexManifest manifest = IndexManifest.Read(folder);
        long bytes = Directory.EnumerateFiles(folder).Sum(f => new FileInfo(f).Length);
        return new ImageSearchIndexInfo(
            manifest.Count, manifest.Dimension, manifest.Metric, manifest.Index.M, manifest.Index.EfConstruction,
            manifest.Model.FileName, manifest.Model.Path, manifest.Model.Sha256, manifest.Model.Metadata,
            manifest.GalleryRoot, Path.GetFileName(folder), manifest.FormatVersion, manifest.SavedUtc, bytes);
    }

    /// <summary>Indexes every image file below <paramref name="folder"/> (default: the gallery root); labels are the images' folder names.</summary>
    /// <param name="folder">A folder inside the gallery root; null for the root itself.</param>
    /// <param name="recursive">Include sub-folders (symbolic links to folders are not followed, and are reported as skipped).</param>
    /// <param name="progress">Progress reports.</param>
    /// <param name="cancellationToken">Stops after the current batch.</param>
    /// <returns>What was added, replaced and skipped (with reasons).</returns>
    public IndexingReport AddFolder(string? folder = null, bool recursive = true, IProgress<IndexingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        string start = Path.GetFullPath(folder ?? GalleryRoot);
        if (!Directory.Exists(start))
        {
            throw new DirectoryNotFoundException($"Folder not found: '{start}'.");
        }
        GalleryPaths.MakeRelativeOrRoot(GalleryRoot, start);
        var skipped = new List<SkippedImage>();
        int ignored = 0;
        var files = new List<string>();
        var pending = new Stack<string>();
        pending.Push(start);
        while (pending.Count > 0)
        {
            string dir = pending.Pop();
            IEnumerable<FileSystemInfo> entries;
            try
            {
                entries = new DirectoryInfo(dir).EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal).ToList();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                skipped.Add(new SkippedImage(dir, "folder cannot be read: " + e.Message));
                continue;
            }
            var subdirectories = new List<string>();
            foreach (FileSystemInfo entry in entries)
            {
                if (entry is DirectoryInfo sub)
                {
                    if (sub.LinkTarget is not null)
                    {
                        skipped.Add(new SkippedImage(sub.FullName, "symbolic link to a folder (not followed: it could loop or leave the gallery)"));
                    }
                    else if (ImageDecoder.FileExtensions.Contains(sub.Extension))
                    {
                        skipped.Add(new SkippedImage(sub.FullName, "a folder named like an image"));
                    }
                    if (recursive && sub.LinkTarget is null)
                    {
                        subdirectories.Add(sub.FullName);
                    }
                }
                else if (ImageDecoder.FileExtensions.Contains(entry.Extension))
                {
                    files.Add(entry.FullName);
                }
                else
                {
                    ignored++;
                }
            }
            for (int i = subdirectories.Count - 1; i >= 0; i--)
            {
                pending.Push(subdirectories[i]);
            }
        }
        IndexingReport report = AddFiles(files, LabelFromFolder, null, progress, cancellationToken);
        return report with { Skipped = [.. skipped, .. report.Skipped], IgnoredFiles = report.IgnoredFiles + ignored };
    }

    /// <summary>Indexes image files inside the gallery root.</summary>
    /// <param name="paths">The files (absolute, or relative to the current directory).</param>
    /// <param name="label">Label for each file (given its absolute path); null for none. <see cref="LabelFromFolder"/> uses the folder name.</param>
    /// <param name="metadata">User metadata for each file (given its absolute path); null for none.</param>
    /// <param name="progress">Progress reports.</param>
    /// <param name="cancellationToken">Stops after the current batch.</param>
    /// <exception cref="ArgumentException">A file is outside the gallery root.</exception>
    public IndexingReport AddFiles(IReadOnlyList<string> paths, Func<string, string?>? label = null,
        Func<string, IReadOnlyDictionary<string, string>?>? metadata = null,
        IProgress<IndexingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var watch = Stopwatch.StartNew();
        string[] full = paths.Select(p => Path.GetFullPath(p)).ToArray();
        string[] relative = full.Select(p => GalleryPaths.MakeRelative(GalleryRoot, p)).ToArray();
        using var _ = _operations.Enter(this);
        using var run = new IndexingRun(this, full.Length, i => (relative[i], label?.Invoke(full[i]), metadata?.Invoke(full[i])), progress, cancellationToken);
        ImageEmbeddingResult result = _embedder.EmbedFiles(full, run.Insert, run.Token);
        return run.Report(result, watch);
    }

    /// <summary>Indexes in-memory images under the given names (gallery-relative paths; nothing is read from disk).</summary>
    /// <param name="images">Encoded images (PNG, JPEG, ...).</param>
    /// <param name="names">A relative path for each image, e.g. <c>uploads/123.jpg</c>.</param>
    /// <param name="labels">Optional label per image.</param>
    /// <param name="progress">Progress reports.</param>
    /// <param name="cancellationToken">Stops after the current batch.</param>
    /// <exception cref="ArgumentException">A name is not a plain relative path, or the counts differ.</exception>
    public IndexingReport AddImages(IReadOnlyList<ReadOnlyMemory<byte>> images, IReadOnlyList<string> names, IReadOnlyList<string?>? labels = null,
        IProgress<IndexingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(names);
        if (images.Count != names.Count || (labels is not null && labels.Count != images.Count))
        {
            throw new ArgumentException($"{images.Count} images need as many names (got {names.Count}) and labels.");
        }
        foreach (string name in names)
        {
            try
            {
                GalleryPaths.Validate(name, "name");
            }
            catch (InvalidDataException e)
            {
                throw new ArgumentException(e.Message, nameof(names), e);
            }
        }
        var watch = Stopwatch.StartNew();
        using var _ = _operations.Enter(this);
        using var run = new IndexingRun(this, images.Count, i => (names[i], labels?[i], null), progress, cancellationToken);
        ImageEmbeddingResult result = _embedder.EmbedImages(images, names, run.Insert, run.Token);
        return run.Report(result, watch);
    }

    /// <summary>
    /// <see cref="AddFolder"/> on the thread pool, so the caller's thread (a request, a UI) is not held; cancelling stops
    /// after the current batch and keeps the batches already inserted (the task then ends as cancelled).
    /// </summary>
    /// <param name="folder">A folder inside the gallery root; null for the root itself.</param>
    /// <param name="recursive">Include sub-folders.</param>
    /// <param name="progress">Reported after each batch, on the indexing thread, in order.</param>
    /// <param name="cancellationToken">Stops after the current batch.</param>
    public Task<IndexingReport> AddFolderAsync(string? folder = null, bool recursive = true, IProgress<IndexingProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Task.Run(() => AddFolder(folder, recursive, progress, cancellationToken), cancellationToken);

    /// <summary><see cref="AddFiles"/> on the thread pool (see <see cref="AddFolderAsync"/>).</summary>
    /// <param name="paths">The files (absolute, or relative to the current directory).</param>
    /// <param name="label">Label for each file; null for none.</param>
    /// <param name="metadata">User metadata for each file; null for none.</param>
    /// <param name="progress">Reported after each batch, in order.</param>
    /// <param name="cancellationToken">Stops after the current batch.</param>
    public Task<IndexingReport> AddFilesAsync(IReadOnlyList<string> paths, Func<string, string?>? label = null,
        Func<string, IReadOnlyDictionary<string, string>?>? metadata = null, IProgress<IndexingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        return Task.Run(() => AddFiles(paths, label, metadata, progress, cancellationToken), cancellationToken);
    }

    /// <summary>
    /// Indexes one encoded image read asynchronously from <paramref name="image"/> (an upload's request body) under
    /// <paramref name="name"/>, a gallery-relative path; re-adding a name replaces its image under the same key.
    /// </summary>
    /// <param name="image">The encoded image; read to its end, not disposed; at most <see cref="ImageEmbedderOptions.MaxEncodedBytes"/> bytes.</param>
    /// <param name="name">A relative path, e.g. <c>uploads/123.jpg</c>.</param>
    /// <param name="label">An optional label.</param>
    /// <param name="cancellationToken">Stops reading or before inserting.</param>
    /// <returns>The report: one image added or replaced, or skipped with its reason.</returns>
    public async Task<IndexingReport> AddImageAsync(Stream image, string name, string? label = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentException.ThrowIfNullOrEmpty(name);
        byte[] bytes;
        try
        {
            bytes = await ImageEmbedder.ReadBoundedAsync(image, Options.Embedder.MaxEncodedBytes, name, cancellationToken).ConfigureAwait(false);
        }
        catch (ImageDecodeException e)
        {
            return new IndexingReport(0, 0, [SkippedImage.From(e)], 0, TimeSpan.Zero);
        }
        return AddImages([bytes], [name], [label], null, cancellationToken);
    }

    /// <summary>
    /// Images most similar to an encoded image read asynchronously from <paramref name="image"/> (e.g. a request body,
    /// which Kestrel does not let anyone read synchronously), nearest first. Never waits behind a running bulk add.
    /// </summary>
    /// <param name="image">The query image; read to its end, not disposed.</param>
    /// <param name="k">Results wanted.</param>
    /// <param name="efSearch">HNSW beam width; null uses <see cref="ImageSearchIndexOptions.EfSearch"/>.</param>
    /// <param name="filter">Only images for which this returns true are returned.</param>
    /// <param name="exact">Exact brute-force search instead of HNSW.</param>
    /// <param name="cancellationToken">Stops reading or searching.</param>
    /// <exception cref="ImageDecodeException">The query is not a usable image, cannot be read, or is too large.</exception>
    public async ValueTask<IReadOnlyList<ImageSearchResult>> SearchAsync(Stream image, int k = 10, int? efSearch = null, Func<IndexedImage, bool>? filter = null,
        bool exact = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        float[] embedding = await _embedder.EmbedAsync(image, "<query>", cancellationToken).ConfigureAwait(false);
        return Search(embedding, k, efSearch, filter, exact, cancellationToken);
    }

    /// <summary><see cref="Save"/> on the thread pool: writes a new version and makes it current atomically; searches continue meanwhile.</summary>
    /// <param name="indexDirectory">The index directory.</param>
    /// <param name="cancellationToken">Cancels before the save starts (a save in progress completes, so no half version is left).</param>
    public Task SaveAsync(string indexDirectory, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(indexDirectory);
        return Task.Run(() => Save(indexDirectory), cancellationToken);
    }

    /// <summary>Removes an image by key.</summary>
    /// <returns>Whether it was indexed.</returns>
    public bool Remove(long key)
    {
        using var _ = _operations.Enter(this);
        lock (_writeLock)
        {
            if (!_items.TryRemove(key, out IndexedImage? item))
            {
                return false;
            }
            _keysByPath.TryRemove(new KeyValuePair<string, long>(item.Path, key));
            _external?.Delete(key);
            _graph.Remove(key);
            _embeddings.Remove(key);
            lock (_exactLock)
            {
                _exact?.Remove(key);
            }
            return true;
        }
    }

    /// <summary>Removes an image by its gallery-relative path.</summary>
    /// <returns>Whether it was indexed.</returns>
    public bool Remove(string relativePath) =>
        _keysByPath.TryGetValue(relativePath.Replace('\\', '/'), out long key) && Remove(key);

    /// <summary>The image indexed under <paramref name="key"/>, or null.</summary>
    public IndexedImage? Get(long key) => _items.GetValueOrDefault(key);

    /// <summary>Absolute path of an indexed image (checked to lie inside the gallery root).</summary>
    public string ResolvePath(IndexedImage item) => GalleryPaths.Resolve(GalleryRoot, item.Path, "item " + item.Key);

    /// <summary>Embeds an image file with the index's model.</summary>
    /// <exception cref="ImageDecodeException">The file is not a usable image.</exception>
    public float[] Embed(string imagePath) => _embedder.Embed(imagePath);

    /// <summary>Embeds an in-memory image with the index's model.</summary>
    /// <exception cref="ImageDecodeException">The bytes are not a usable image.</exception>
    public float[] Embed(byte[] image, string source = "<memory>") => _embedder.Embed(image, source);

    /// <summary>Images most similar to the image file <paramref name="imagePath"/>, nearest first.</summary>
    /// <exception cref="ImageDecodeException">The query is not a usable image.</exception>
    public IReadOnlyList<ImageSearchResult> Search(string imagePath, int k = 10, int? efSearch = null, Func<IndexedImage, bool>? filter = null, bool exact = false, CancellationToken cancellationToken = default) =>
        Search(_embedder.Embed(imagePath), k, efSearch, filter, exact, cancellationToken);

    /// <summary>Images most similar to an encoded in-memory image, nearest first.</summary>
    /// <exception cref="ImageDecodeException">The query is not a usable image.</exception>
    public IReadOnlyList<ImageSearchResult> Search(byte[] image, int k = 10, int? efSearch = null, Func<IndexedImage, bool>? filter = null, bool exact = false, CancellationToken cancellationToken = default) =>
        Search(_embedder.Embed(image), k, efSearch, filter, exact, cancellationToken);

    /// <summary>Images most similar to an encoded image read from <paramref name="image"/>, nearest first.</summary>
    /// <exception cref="ImageDecodeException">The query is not a usable image.</exception>
    public IReadOnlyList<ImageSearchResult> Search(Stream image, int k = 10, int? efSearch = null, Func<IndexedImage, bool>? filter = null, bool exact = false, CancellationToken cancellationToken = default) =>
        Search(_embedder.Embed(image), k, efSearch, filter, exact, cancellationToken);

    /// <summary>Images nearest to a ready embedding (e.g. from <see cref="Embed(string)"/>), nearest first.</summary>
    /// <param name="embedding"><see cref="Dimension"/> values.</param>
    /// <param name="k">Results wanted; fewer when the index holds fewer (or the filter passes fewer).</param>
    /// <param name="efSearch">HNSW beam width (≥ k); null uses <see cref="ImageSearchIndexOptions.EfSearch"/>.</param>
    /// <param name="filter">Only images for which this returns true are returned.</param>
    /// <param name="exact">Exact brute-force search instead of HNSW (for small galleries and ground truth).</param>
    /// <param name="cancellationToken">Aborts a long search.</param>
    public IReadOnlyList<ImageSearchResult> Search(ReadOnlySpan<float> embedding, int k = 10, int? efSearch = null, Func<IndexedImage, bool>? filter = null, bool exact = false, CancellationToken cancellationToken = default)
    {
        if (embedding.Length != Dimension)
        {
            throw new ArgumentException($"The query embedding has {embedding.Length} values; this index holds {Dimension}-d embeddings.", nameof(embedding));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        using var _ = _operations.Enter(this);
        if (_external is not null)
        {
            return exact
                ? throw new NotSupportedException($"Exact search needs the embeddings, which live in the vector store '{_external.Name}'; search it without exact (the store decides how it searches).")
                : _external.Search(embedding, k, filter, cancellationToken);
        }
        Func<long, bool>? keyFilter = filter is null ? null : key => _items.TryGetValue(key, out IndexedImage? item) && filter(item);
        SearchHit[] hits = exact
            ? ExactIndex().Search(embedding, k, null, keyFilter, cancellationToken)
            : _graph.Search(embedding, k, efSearch ?? Options.EfSearch, keyFilter, cancellationToken);
        var results = new List<ImageSearchResult>(hits.Length);
        foreach (SearchHit hit in hits)
        {
            // An item removed between the graph search and this lookup is dropped, never returned stale.
            if (_items.TryGetValue(hit.Key, out IndexedImage? item))
            {
                results.Add(new ImageSearchResult(item.Key, item.Path, item.Label, hit.Distance, item.Metadata));
            }
        }
        return results;
    }

    /// <summary>
    /// Saves the index to <paramref name="indexDirectory"/> as a new immutable version and makes it
    /// current atomically; a crash at any point leaves the previous version loadable. Superseded
    /// versions and leftovers of interrupted saves are removed.
    /// </summary>
    public void Save(string indexDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(indexDirectory);
        using var _ = _operations.Enter(this);
        if (_external is not null)
        {
            throw new InvalidOperationException($"This index keeps its records in the vector store collection '{_external.Name}', which persists them itself; there is nothing to save here.");
        }
        lock (_writeLock)
        {
            IndexDirectory.CommitNewVersion(indexDirectory, folder =>
            {
                var items = _items.Values.OrderBy(i => i.Key).ToList();
                using (var stream = new FileStream(Path.Combine(folder, ItemsFileName), FileMode.CreateNew, FileAccess.Write, FileShare.None))
                {
                    JsonSerializer.Serialize(stream, items.Select(ItemRecord.From).ToList(), SearchJsonContext.Default.ListItemRecord);
                    stream.Flush(flushToDisk: true);
                }
                _embeddings.Write(Path.Combine(folder, EmbeddingStore.FileName));
                _graph.Save(Path.Combine(folder, GraphFileName));
                var files = new Dictionary<string, IndexManifest.FileEntry>();
                foreach (string name in new[] { ItemsFileName, EmbeddingStore.FileName, GraphFileName })
                {
                    files[name] = IndexManifest.Describe(Path.Combine(folder, name));
                }
                new IndexManifest
                {
                    Model = new IndexManifest.ModelReference
                    {
                        Sha256 = ModelSha256,
                        FileName = Path.GetFileName(ModelPath),
                        Path = ModelPath,
                        Metadata = ManifestMetadata(),
                    },
                    Metric = ModelMetadata.Metric,
                    Dimension = Dimension,
                    Count = items.Count,
                    NextKey = Interlocked.Read(ref _nextKey),
                    GalleryRoot = GalleryRoot,
                    Index = new IndexManifest.IndexParameters { M = _graph.M, EfConstruction = _graph.EfConstruction },
                    Files = files,
                }.Write(folder);
            });
        }
    }

    // The model's metadata; for a described model, plus its description, so Open feeds it the same way.
    private Dictionary<string, string> ManifestMetadata()
    {
        var metadata = ModelMetadata.ToDictionary().ToDictionary(p => p.Key, p => p.Value);
        if (_embedder.EncoderSource != EncoderDescriptionSource.Metadata)
        {
            metadata[EncoderDescriptionKey] = _embedder.Encoder.ToJson();
        }
        return metadata;
    }

    /// <summary>Label = the name of the folder holding the file (null for files directly in the gallery root).</summary>
    public string? LabelFromFolder(string absolutePath)
    {
        string? parent = Path.GetDirectoryName(Path.GetFullPath(absolutePath));
        if (parent is null || string.Equals(Path.TrimEndingDirectorySeparator(parent), Path.TrimEndingDirectorySeparator(GalleryRoot), StringComparison.Ordinal))
        {
            return null;
        }
        return Path.GetFileName(parent);
    }

    /// <inheritdoc />
    /// <remarks>Stops bulk adds in progress (after their current batch), waits for them and for searches and saves in
    /// flight, then frees the model session and the graph.</remarks>
    public void Dispose()
    {
        if (_operations.IsClosed)
        {
            return;
        }
        try
        {
            _disposing.Cancel();
        }
        catch (ObjectDisposedException)
        {
            return; // a concurrent Dispose got here first and has finished
        }
        if (!_operations.CloseAndWait())
        {
            return;
        }
        _disposing.Dispose();
        _external?.Dispose();
        _embedder.Dispose();
        _graph.Dispose();
        lock (_exactLock)
        {
            _exact?.Dispose();
            _exact = null;
        }
    }

    /// <summary>
    /// One bulk add: inserts each batch as soon as it is scored (under the writer lock, for that batch only), reports
    /// progress to the caller's <see cref="IProgress{T}"/> directly and in order, and stops between batches when cancelled
    /// or when the index is disposed; the batches inserted before stay in the index.
    /// </summary>
    private sealed class IndexingRun : IDisposable
    {
        private readonly ImageSearchIndex _index;
        private readonly int _total;
        private readonly Func<int, (string Path, string? Label, IReadOnlyDictionary<string, string>? Metadata)> _describe;
        private readonly IProgress<IndexingProgress>? _progress;
        private readonly CancellationTokenSource _cancel;
        private int _added, _replaced, _skipped;

        public IndexingRun(ImageSearchIndex index, int total, Func<int, (string, string?, IReadOnlyDictionary<string, string>?)> describe,
            IProgress<IndexingProgress>? progress, CancellationToken cancellationToken)
        {
            _index = index;
            _total = total;
            _describe = describe;
            _progress = progress;
            _cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, index._disposing.Token);
        }

        public CancellationToken Token => _cancel.Token;

        public void Insert(ImageEmbedder.ScoredBatch batch)
        {
            var (added, replaced, skipped) = _index.InsertBatch(batch, _describe);
            _added += added;
            _replaced += replaced;
            _skipped += skipped;
            _progress?.Report(new IndexingProgress(batch.Start + batch.Count, _total, _skipped));
        }

        public IndexingReport Report(ImageEmbeddingResult result, Stopwatch watch) =>
            new(_added, _replaced, result.Errors.Select(e => new SkippedImage(e.Source, e.Reason)).ToList(), 0, watch.Elapsed);

        public void Dispose() => _cancel.Dispose();
    }

    private (int Added, int Replaced, int Skipped) InsertBatch(ImageEmbedder.ScoredBatch scored,
        Func<int, (string Path, string? Label, IReadOnlyDictionary<string, string>? Metadata)> describe)
    {
        int added = 0, replaced = 0, skipped = 0;
        int dimension = Dimension;
        lock (_writeLock)
        {
            var batch = new List<(long Key, ReadOnlyMemory<float> Vector)>(scored.Count);
            for (int i = scored.Start; i < scored.Start + scored.Count; i++)
            {
                if (scored.Failed(i))
                {
                    skipped++;
                    continue;
                }
                var (path, label, metadata) = describe(i);
                long key;
                if (_keysByPath.TryGetValue(path, out long existing))
                {
                    key = existing;
                    replaced++;
                }
                else
                {
                    key = Interlocked.Increment(ref _nextKey) - 1;
                    added++;
                }
                float[] vector = scored.Vectors.AsSpan(i * dimension, dimension).ToArray();
                if (_external is null)
                {
                    _embeddings.Set(key, vector);
                }
                batch.Add((key, vector));
                _items[key] = new IndexedImage(key, path, label, metadata);
                _keysByPath[path] = key;
            }
            if (_external is not null)
            {
                // Records live in the vector store: neither the graph nor the raw embeddings are kept here.
                _external.Upsert(batch.Select(b => (_items[b.Key], b.Vector)).ToList());
                return (added, replaced, skipped);
            }
            _graph.AddRange(batch, Math.Max(1, Options.IndexingThreads));
            lock (_exactLock)
            {
                if (_exact is not null)
                {
                    foreach (var (key, vector) in batch)
                    {
                        _exact.Add(key, vector.Span);
                    }
                }
            }
        }
        return (added, replaced, skipped);
    }

    /// <summary>
    /// Checks that items, paths, raw embeddings and graph agree (each item's key is live in the graph and its graph vector
    /// is its own embedding), and the graph's own invariants. Holds off writers while it runs. An empty list means consistent.
    /// </summary>
    internal IReadOnlyList<string> CheckConsistency()
    {
        lock (_writeLock)
        {
            var problems = new List<string>();
            HnswIndex.IntegrityReport graph = _graph.CheckIntegrity();
            problems.AddRange(graph.Problems.Select(p => "graph: " + p));
            var embeddings = _embeddings.Snapshot().ToDictionary(e => e.Key, e => e.Vector);
            if (_items.Count != _graph.Count || _items.Count != embeddings.Count || _items.Count != _keysByPath.Count)
            {
                problems.Add($"{_items.Count} items, {_graph.Count} graph nodes, {embeddings.Count} embeddings, {_keysByPath.Count} paths");
            }
            var stored = new float[Dimension];
            var expected = new float[Dimension];
            foreach (IndexedImage item in _items.Values)
            {
                if (!_keysByPath.TryGetValue(item.Path, out long byPath) || byPath != item.Key)
                {
                    problems.Add($"item {item.Key} ('{item.Path}') is not found by its path");
                }
                if (!embeddings.TryGetValue(item.Key, out float[]? embedding))
                {
                    problems.Add($"item {item.Key} has no embedding");
                    continue;
                }
                if (!_graph.TryGetVector(item.Key, stored))
                {
                    problems.Add($"item {item.Key} is not in the graph");
                    continue;
                }
                embedding.CopyTo(expected, 0);
                if (Metric == DistanceMetric.Cosine)
                {
                    VectorDistance.Normalize(expected);
                }
                if (!stored.AsSpan().SequenceEqual(expected))
                {
                    problems.Add($"item {item.Key}: the graph holds another vector than its embedding");
                }
            }
            return problems;
        }
    }

    private BruteForceIndex ExactIndex()
    {
        lock (_exactLock)
        {
            if (_exact is null)
            {
                var exact = new BruteForceIndex(Dimension, Metric, maxDegreeOfParallelism: Math.Max(1, Options.IndexingThreads));
                foreach (var (key, vector) in _embeddings.Snapshot())
                {
                    exact.Add(key, vector);
                }
                _exact = exact;
            }
            return _exact;
        }
    }

    internal static List<IndexedImage> ReadItems(string path, IndexManifest manifest)
    {
        List<ItemRecord>? records;
        try
        {
            using var stream = File.OpenRead(path);
            records = JsonSerializer.Deserialize(stream, SearchJsonContext.Default.ListItemRecord);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}' is not a valid item list: {e.Message}", e);
        }
        if (records is null || records.Count != manifest.Count)
        {
            throw new InvalidDataException($"'{path}' holds {records?.Count ?? 0} items; the manifest says {manifest.Count}.");
        }
        var keys = new HashSet<long>();
        var paths = new HashSet<string>(StringComparer.Ordinal);
        var items = new List<IndexedImage>(records.Count);
        foreach (ItemRecord record in records)
        {
            if (record.Path is null)
            {
                throw new InvalidDataException($"'{path}': item {record.Key} has no path.");
            }
            GalleryPaths.Validate(record.Path, $"'{path}'");
            if (record.Key < 0 || record.Key >= manifest.NextKey || !keys.Add(record.Key) || !paths.Add(record.Path))
            {
                throw new InvalidDataException($"'{path}': item key {record.Key} or path '{record.Path}' is out of range or repeated.");
            }
            items.Add(new IndexedImage(record.Key, record.Path, record.Label, record.Metadata));
        }
        return items;
    }

    internal sealed record ItemRecord(long Key, string Path, string? Label, Dictionary<string, string>? Metadata)
    {
        public static ItemRecord From(IndexedImage item) =>
            new(item.Key, item.Path, item.Label, item.Metadata?.ToDictionary(p => p.Key, p => p.Value));
    }
}
