using System.Text;

namespace ImageRetrieval.IO;

/// <summary>
/// The one way ImageRetrieval writes a file that must never be seen half-written: the content goes to a
/// temporary file with a unique name in the destination's folder, is flushed to disk, and is then renamed over
/// the destination (an atomic replace on POSIX file systems). If anything fails, the temporary file is deleted
/// and the destination keeps its previous content (or stays absent).
/// </summary>
/// <remarks>
/// Shared source (src/Shared), compiled into each package as an internal type. Temporary files are named
/// <c>.{file name}.{random}.tmp</c>: unique per call, so concurrent writes from one process or many never share
/// one, and hidden, so a folder listing does not show a crash's leftovers as data.
/// </remarks>
internal static class AtomicFile
{
    private const string TemporarySuffix = ".tmp";

    /// <summary>Writes <paramref name="path"/> atomically with <paramref name="write"/>, which receives a stream over the temporary file.</summary>
    /// <param name="path">The destination; its folder is created when missing.</param>
    /// <param name="write">Writes the whole content (it must not dispose the stream).</param>
    /// <param name="bufferSize">The file stream's buffer size.</param>
    public static void Write(string path, Action<Stream> write, int bufferSize = 1 << 16)
    {
        ArgumentNullException.ThrowIfNull(write);
        using Transaction file = Begin(path, bufferSize);
        write(file.Stream);
        file.Commit();
    }

    /// <summary>
    /// Starts an atomic write for callers that write spans or otherwise cannot use a callback: write to
    /// <see cref="Transaction.Stream"/>, then <see cref="Transaction.Commit"/>; disposing without committing discards it.
    /// </summary>
    /// <param name="path">The destination; its folder is created when missing.</param>
    /// <param name="bufferSize">The file stream's buffer size.</param>
    public static Transaction Begin(string path, int bufferSize = 1 << 16)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full)
            ?? throw new ArgumentException($"'{path}' names no file inside a folder.", nameof(path));
        Directory.CreateDirectory(directory);
        string temporary = Path.Combine(directory, TemporaryPrefix(Path.GetFileName(full)) + Guid.NewGuid().ToString("N") + TemporarySuffix);
        return new Transaction(full, temporary, new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize));
    }

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically.</summary>
    public static void WriteAllBytes(string path, ReadOnlyMemory<byte> bytes) => Write(path, stream => stream.Write(bytes.Span));

    /// <summary>Writes <paramref name="text"/> as UTF-8 (no byte-order mark) to <paramref name="path"/> atomically.</summary>
    public static void WriteAllText(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        WriteAllBytes(path, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text));
    }

    /// <summary>Writes <paramref name="lines"/>, each followed by a line feed, to <paramref name="path"/> atomically.</summary>
    public static void WriteAllLines(string path, IEnumerable<string> lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
            foreach (string line in lines)
            {
                writer.WriteLine(line);
            }
        });
    }

    /// <summary>Whether <paramref name="fileName"/> is a temporary file that a write of <paramref name="destinationFileName"/> left behind (a crash mid-write).</summary>
    public static bool IsLeftoverOf(string fileName, string destinationFileName) =>
        fileName.StartsWith(TemporaryPrefix(destinationFileName), StringComparison.Ordinal) && fileName.EndsWith(TemporarySuffix, StringComparison.Ordinal);

    private static string TemporaryPrefix(string destinationFileName) => "." + destinationFileName + ".";

    private static void TryDelete(string file)
    {
        try
        {
            File.Delete(file);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>One atomic write in progress (see <see cref="Begin"/>).</summary>
    internal sealed class Transaction : IDisposable
    {
        private readonly string _destination;
        private readonly string _temporary;
        private bool _done;

        internal Transaction(string destination, string temporary, FileStream stream)
        {
            _destination = destination;
            _temporary = temporary;
            Stream = stream;
        }

        /// <summary>The temporary file; write the whole content here.</summary>
        public FileStream Stream { get; }

        /// <summary>Flushes the content to disk and renames the temporary file over the destination.</summary>
        public void Commit()
        {
            ObjectDisposedException.ThrowIf(_done, this);
            try
            {
                Stream.Flush(flushToDisk: true);
                Stream.Dispose();
                File.Move(_temporary, _destination, overwrite: true);
                _done = true;
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        /// <summary>Discards the write unless it was committed.</summary>
        public void Dispose()
        {
            if (_done)
            {
                return;
            }
            _done = true;
            Stream.Dispose();
            TryDelete(_temporary);
        }
    }
}
