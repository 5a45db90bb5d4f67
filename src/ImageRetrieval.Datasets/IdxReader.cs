using System.Buffers.Binary;
using System.IO.Compression;

namespace ImageRetrieval.Datasets;

/// <summary>
/// Reads the IDX format used by MNIST and Fashion-MNIST (plain or gzip-compressed). Every header
/// field is validated before any large allocation: a bad file raises <see cref="InvalidDataException"/>
/// naming the file and what was wrong, never an out-of-memory or a hang.
/// </summary>
/// <remarks>
/// Layout: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions, then one
/// big-endian int32 per dimension, then the data in row-major order. Images are 0x00000803
/// (count, rows, columns); labels are 0x00000801 (count).
/// </remarks>
public static class IdxReader
{
    /// <summary>Largest accepted image side, in pixels.</summary>
    public const int MaxImageSide = 4096;

    /// <summary>Largest accepted item count.</summary>
    public const int MaxItemCount = 50_000_000;

    // DEFLATE cannot expand data by more than about 1032:1; a header promising more than that
    // from a small gzip file is a lie, refused before allocating.
    private const long MaxGzipExpansion = 1100;

    /// <summary>Reads an IDX image file (magic 0x00000803).</summary>
    /// <param name="path">The <c>.idx3-ubyte</c> file, optionally gzipped (<c>.gz</c> or gzip magic).</param>
    /// <param name="maxItems">Read at most this many images (the rest of the file is still validated for length when plain).</param>
    /// <returns>The images as one contiguous byte buffer.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a well-formed IDX image file.</exception>
    public static IdxImages ReadImages(string path, int maxItems = int.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxItems);
        using var reader = Open(path, out long fileLength, out bool compressed);
        int[] dims = ReadHeader(reader, path, expectedDims: 3, kind: "image");
        int count = dims[0], rows = dims[1], cols = dims[2];
        if (rows < 1 || cols < 1 || rows > MaxImageSide || cols > MaxImageSide)
        {
            throw Invalid(path, $"image size {rows}x{cols} is outside 1..{MaxImageSide}");
        }
        long declared = (long)count * rows * cols;
        CheckDeclaredLength(path, fileLength, compressed, headerBytes: 16, declared);
        int take = Math.Min(count, maxItems);
        long bytes = (long)take * rows * cols;
        if (bytes > Array.MaxLength)
        {
            throw Invalid(path, $"{take} images of {rows}x{cols} do not fit one buffer; read fewer with maxItems");
        }
        var pixels = GC.AllocateUninitializedArray<byte>((int)bytes);
        ReadExactly(reader, pixels, path, "image data");
        if (take == count)
        {
            EnsureEnd(reader, path);
        }
        return new IdxImages(pixels, take, rows, cols);
    }

    /// <summary>Reads an IDX label file (magic 0x00000801).</summary>
    /// <param name="path">The <c>.idx1-ubyte</c> file, optionally gzipped.</param>
    /// <param name="maxItems">Read at most this many labels.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a well-formed IDX label file.</exception>
    public static byte[] ReadLabels(string path, int maxItems = int.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxItems);
        using var reader = Open(path, out long fileLength, out bool compressed);
        int[] dims = ReadHeader(reader, path, expectedDims: 1, kind: "label");
        int count = dims[0];
        CheckDeclaredLength(path, fileLength, compressed, headerBytes: 8, count);
        int take = Math.Min(count, maxItems);
        var labels = new byte[take];
        ReadExactly(reader, labels, path, "labels");
        if (take == count)
        {
            EnsureEnd(reader, path);
        }
        return labels;
    }

    private static Stream Open(string path, out long fileLength, out bool compressed)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"IDX file not found: '{path}'.", path);
        }
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        fileLength = file.Length;
        Span<byte> magic = stackalloc byte[2];
        int got = file.Read(magic);
        file.Position = 0;
        compressed = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
        if (!compressed)
        {
            return file;
        }
        return new BufferedStream(new GZipStream(file, CompressionMode.Decompress), 1 << 16);
    }

    private static int[] ReadHeader(Stream reader, string path, int expectedDims, string kind)
    {
        Span<byte> magic = stackalloc byte[4];
        ReadExactly(reader, magic, path, "header");
        int expectedMagic = 0x800 | expectedDims;
        int actual = BinaryPrimitives.ReadInt32BigEndian(magic);
        if (actual != expectedMagic)
        {
            throw Invalid(path, $"magic number 0x{actual:X8} where an IDX {kind} file has 0x{expectedMagic:X8}");
        }
        var dims = new int[expectedDims];
        Span<byte> dim = stackalloc byte[4];
        for (int i = 0; i < expectedDims; i++)
        {
            ReadExactly(reader, dim, path, "header");
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(dim);
        }
        if (dims[0] < 0 || dims[0] > MaxItemCount)
        {
            throw Invalid(path, $"item count {dims[0]} is outside 0..{MaxItemCount}");
        }
        return dims;
    }

    private static void CheckDeclaredLength(string path, long fileLength, bool compressed, int headerBytes, long declaredPayload)
    {
        if (!compressed)
        {
            long expected = headerBytes + declaredPayload;
            if (fileLength < expected)
            {
                throw Invalid(path, $"truncated: the header declares {expected} bytes but the file has {fileLength}");
            }
            if (fileLength > expected)
            {
                throw Invalid(path, $"{fileLength - expected} unexpected bytes after the {expected} the header declares");
            }
        }
        else if (declaredPayload > fileLength * MaxGzipExpansion + 4096)
        {
            throw Invalid(path, $"the header declares {declaredPayload} bytes, more than a {fileLength}-byte gzip file can hold");
        }
    }

    private static void ReadExactly(Stream reader, Span<byte> buffer, string path, string what)
    {
        int total = 0;
        try
        {
            while (total < buffer.Length)
            {
                int n = reader.Read(buffer[total..]);
                if (n == 0)
                {
                    throw Invalid(path, $"truncated in the {what}: {buffer.Length - total} of {buffer.Length} bytes missing");
                }
                total += n;
            }
        }
        catch (Exception e) when (reader is not FileStream && (e is IOException || (e is InvalidDataException && !e.Message.StartsWith("IDX file '", StringComparison.Ordinal))))
        {
            // GZipStream reports corrupt deflate data as InvalidDataException (or zlib's ZLibException, an
            // IOException) without the file name.
            throw Invalid(path, $"corrupt gzip data in the {what} ({e.Message})", e);
        }
    }

    private static void EnsureEnd(Stream reader, string path)
    {
        Span<byte> probe = stackalloc byte[1];
        int n;
        try
        {
            n = reader.Read(probe);
        }
        catch (Exception e) when (reader is not FileStream && e is IOException or InvalidDataException)
        {
            throw Invalid(path, $"corrupt gzip data after the payload ({e.Message})", e);
        }
        if (n != 0)
        {
            throw Invalid(path, "unexpected bytes after the data the header declares");
        }
    }

    private static InvalidDataException Invalid(string path, string reason, Exception? inner = null) =>
        new($"IDX file '{path}' is invalid: {reason}.", inner);
}

/// <summary>Images read from an IDX file: <see cref="Count"/> grey images of <see cref="Rows"/> × <see cref="Columns"/> bytes, row-major, contiguous.</summary>
/// <param name="Pixels">All pixels, image after image.</param>
/// <param name="Count">Number of images.</param>
/// <param name="Rows">Image height.</param>
/// <param name="Columns">Image width.</param>
public sealed record IdxImages(byte[] Pixels, int Count, int Rows, int Columns)
{
    /// <summary>The pixels of image <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> this[int index] => Pixels.AsSpan(index * Rows * Columns, Rows * Columns);
}
