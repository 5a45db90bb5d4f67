using ImageRetrieval.IO;
using ImageRetrieval.ML;
using ImageRetrieval.ML.Search;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.AspNetCore;

/// <summary>
/// Makes additions and removals durable before the request is answered: uploaded files are written atomically into the
/// gallery, and the index is saved as a new version (atomic, crash-safe) into <see cref="ImageRetrievalOptions.IndexDirectory"/>.
/// Saves are coalesced: a request that finds a save running waits for the next one, which covers every change made
/// before it started.
/// </summary>
internal sealed class IndexWriter(ImageSearchIndex index, IOptions<ImageRetrievalOptions> retrieval, ILogger<IndexWriter> logger)
{
    private readonly SemaphoreSlim _saving = new(1, 1);
    private long _changes;
    private long _saved;

    public string? IndexDirectory => retrieval.Value.IndexDirectory;

    /// <summary>Writes <paramref name="bytes"/> under a new name in <paramref name="folder"/> of the gallery; returns the gallery-relative path.</summary>
    public string SaveUpload(string folder, string extension, ReadOnlyMemory<byte> bytes)
    {
        string relative = $"{folder.Trim('/', '\\').Replace('\\', '/')}/{DateTime.UtcNow:yyyyMMdd}/{Guid.NewGuid():N}{extension}";
        string full = Path.Combine(index.GalleryRoot, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        AtomicFile.WriteAllBytes(full, bytes);
        return relative;
    }

    public void DeleteUpload(string relative)
    {
        try
        {
            File.Delete(Path.Combine(index.GalleryRoot, relative));
        }
        catch (IOException e)
        {
            logger.LogWarning(e, "Could not delete the refused upload {Path}.", relative);
        }
    }

    /// <summary>Saves the index after a change; returns when a save that includes this change has completed.</summary>
    public async Task CommitAsync()
    {
        string directory = IndexDirectory ?? throw new InvalidOperationException("No ImageRetrieval:IndexDirectory to save to.");
        long mine = Interlocked.Increment(ref _changes);
        await _saving.WaitAsync().ConfigureAwait(false);
        try
        {
            if (Volatile.Read(ref _saved) >= mine)
            {
                return;
            }
            long covered = Volatile.Read(ref _changes);
            // Not cancellable: the change is already in memory, and a save either completes or leaves the previous version.
            await index.SaveAsync(directory, CancellationToken.None).ConfigureAwait(false);
            Volatile.Write(ref _saved, covered);
        }
        finally
        {
            _saving.Release();
        }
    }
}
