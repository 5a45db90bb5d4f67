using System.Buffers.Binary;
using System.Runtime.InteropServices;
using ImageRetrieval.IO;

namespace ImageRetrieval.Datasets.Vectors;

/// <summary>
/// The TEXMEX vector formats used by ann-benchmarks and the SIFT/GIST corpora: per vector, a
/// little-endian int32 dimension followed by that many little-endian values — <c>.fvecs</c> holds
/// float32 values, <c>.ivecs</c> int32 values (e.g. ground-truth neighbour ids).
/// </summary>
public static class TexmexFormat
{
    /// <summary>Largest accepted dimension.</summary>
    public const int MaxDimension = 1 << 16;

    /// <summary>Writes row-major float vectors as <c>.fvecs</c>, atomically (temp file, flush, rename).</summary>
    /// <param name="path">Destination file.</param>
    /// <param name="values">Row-major values, <c>count × dimension</c>.</param>
    /// <param name="dimension">Values per vector.</param>
    public static void WriteFvecs(string path, ReadOnlySpan<float> values, int dimension) =>
        Write(path, MemoryMarshal.AsBytes(values), values.Length, dimension);

    /// <summary>Writes row-major int vectors as <c>.ivecs</c>, atomically.</summary>
    /// <param name="path">Destination file.</param>
    /// <param name="values">Row-major values, <c>count × dimension</c>.</param>
    /// <param name="dimension">Values per vector.</param>
    public static void WriteIvecs(string path, ReadOnlySpan<int> values, int dimension) =>
        Write(path, MemoryMarshal.AsBytes(values), values.Length, dimension);

    /// <summary>Reads a <c>.fvecs</c> file.</summary>
    /// <returns>The row-major values and the dimension.</returns>
    /// <exception cref="InvalidDataException">The file is malformed (the message names the file, the vector and the problem).</exception>
    public static (float[] Values, int Dimension) ReadFvecs(string path, int maxVectors = int.MaxValue) =>
        Read<float>(path, maxVectors);

    /// <summary>Reads an <c>.ivecs</c> file.</summary>
    /// <returns>The row-major values and the dimension.</returns>
    /// <exception cref="InvalidDataException">The file is malformed.</exception>
    public static (int[] Values, int Dimension) ReadIvecs(string path, int maxVectors = int.MaxValue) =>
        Read<int>(path, maxVectors);

    private static void Write(string path, ReadOnlySpan<byte> bytes, int valueCount, int dimension)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(dimension, MaxDimension);
        if (valueCount % dimension != 0)
        {
            throw new ArgumentException($"{valueCount} values are not a whole number of {dimension}-d vectors.", nameof(dimension));
        }
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("TEXMEX files are little-endian; big-endian hosts are not supported.");
        }
        int count = valueCount / dimension;
        int rowBytes = dimension * 4;
        using AtomicFile.Transaction file = AtomicFile.Begin(path);
        Span<byte> header = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(header, dimension);
        for (int i = 0; i < count; i++)
        {
            file.Stream.Write(header);
            file.Stream.Write(bytes.Slice(i * rowBytes, rowBytes));
        }
        file.Commit();
    }

    private static (T[] Values, int Dimension) Read<T>(string path, int maxVectors) where T : unmanaged
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Vector file not found: '{path}'.", path);
        }
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        long length = stream.Length;
        if (length == 0)
        {
            return ([], 0);
        }
        Span<byte> header = stackalloc byte[4];
        stream.ReadExactly(header);
        int dimension = BinaryPrimitives.ReadInt32LittleEndian(header);
        if (dimension < 1 || dimension > MaxDimension)
        {
            throw new InvalidDataException($"Vector file '{path}' is invalid: first vector declares dimension {dimension}, expected 1..{MaxDimension}.");
        }
        long rowBytes = 4 + (long)dimension * 4;
        if (length % rowBytes != 0)
        {
            throw new InvalidDataException($"Vector file '{path}' is invalid: its {length} bytes are not a whole number of {dimension}-d vectors ({rowBytes} bytes each); truncated or mixed dimensions.");
        }
        long count = Math.Min(length / rowBytes, maxVectors);
        if (count * dimension > Array.MaxLength)
        {
            throw new InvalidDataException($"Vector file '{path}' holds {count} vectors of {dimension}-d, more than one array can hold; read fewer.");
        }
        var values = new T[count * dimension];
        Span<byte> target = MemoryMarshal.AsBytes(values.AsSpan());
        stream.Position = 0;
        for (long i = 0; i < count; i++)
        {
            stream.ReadExactly(header);
            int d = BinaryPrimitives.ReadInt32LittleEndian(header);
            if (d != dimension)
            {
                throw new InvalidDataException($"Vector file '{path}' is invalid: vector {i} declares dimension {d}, the first declared {dimension}.");
            }
            stream.ReadExactly(target.Slice((int)(i * dimension * 4), dimension * 4));
        }
        return (values, dimension);
    }
}
