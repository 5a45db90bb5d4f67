using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace ImageRetrieval.Datasets.MatFile;

/// <summary>Limits applied while reading a MAT-file, so a hostile file cannot exhaust memory.</summary>
public sealed record MatFileReadOptions
{
    /// <summary>The default options.</summary>
    public static MatFileReadOptions Default { get; } = new();

    /// <summary>Files larger than this are refused before reading (default 256 MiB).</summary>
    public long MaxFileBytes { get; init; } = 256L * 1024 * 1024;

    /// <summary>Total bytes all compressed elements of one file may decompress to (default 256 MiB).</summary>
    public long MaxDecompressedBytes { get; init; } = 256L * 1024 * 1024;

    /// <summary>Most dimensions an array may have (default 32).</summary>
    public int MaxDimensions { get; init; } = 32;
}

/// <summary>A MAT-file's header and variables, in file order.</summary>
public sealed class MatFileContent
{
    private readonly MatArray[] _variables;

    internal MatFileContent(string source, string headerText, bool bigEndian, MatArray[] variables)
    {
        Source = source;
        HeaderText = headerText;
        IsBigEndian = bigEndian;
        _variables = variables;
    }

    /// <summary>The file path (or in-memory source name) the content was read from.</summary>
    public string Source { get; }

    /// <summary>The descriptive text of the 128-byte header, e.g. <c>MATLAB 5.0 MAT-file, Platform: GLNXA64, …</c>.</summary>
    public string HeaderText { get; }

    /// <summary>Whether the file was written big-endian (endian indicator <c>MI</c>).</summary>
    public bool IsBigEndian { get; }

    /// <summary>All variables, in file order.</summary>
    public IReadOnlyList<MatArray> Variables => _variables;

    /// <summary>The variable called <paramref name="name"/>, or <see langword="null"/>.</summary>
    public MatArray? Find(string name) => Array.Find(_variables, v => v.Name == name);

    /// <summary>The variable called <paramref name="name"/>.</summary>
    /// <exception cref="InvalidDataException">There is no such variable; the message names the file and lists the variables it holds.</exception>
    public MatArray this[string name] => Find(name) ?? throw MatFileReader.Invalid(Source,
        $"it has no variable '{name}' (it holds: {(_variables.Length == 0 ? "nothing" : string.Join(", ", _variables.Select(v => v.ToString())))})");
}

/// <summary>
/// Reads MATLAB Level 5 MAT-files (the format of <c>save -v6</c> and <c>-v7</c>, and of
/// <c>scipy.io.savemat</c>): the 128-byte header in either byte order, top-level <c>miMATRIX</c>
/// elements, and zlib-compressed <c>miCOMPRESSED</c> elements wrapping one <c>miMATRIX</c>.
/// </summary>
/// <remarks>
/// <para>Real numeric arrays of every class (double, single, int8 … uint64, logical) are read, whatever
/// numeric type their data is stored as (MATLAB stores small whole doubles as <c>miUINT8</c>), and the
/// small data element format (≤ 4 bytes packed in the tag) is understood. Cell, struct, char, sparse,
/// object and complex arrays are listed with their name, dimensions and class, but their values are not
/// read. MAT v4 files and v7.3 (HDF5) files are refused with a message saying so.</para>
/// <para>Everything is validated against the bytes actually present before allocating: element sizes,
/// dimensions against data length, and decompressed sizes (capped by what the element declares, by
/// DEFLATE's maximum expansion of the compressed bytes, and by <see cref="MatFileReadOptions.MaxDecompressedBytes"/>).
/// Any malformed input raises <see cref="InvalidDataException"/>
/// naming the file, never an out-of-memory, a hang or an index exception.</para>
/// </remarks>
public static class MatFileReader
{
    /// <summary>Bytes in the Level 5 header.</summary>
    public const int HeaderLength = 128;

    // DEFLATE cannot expand data by more than about 1032:1.
    private const long MaxDeflateExpansion = 1100;

    private const int MiInt8 = 1, MiUInt8 = 2, MiInt16 = 3, MiUInt16 = 4, MiInt32 = 5, MiUInt32 = 6, MiSingle = 7,
        MiDouble = 9, MiInt64 = 12, MiUInt64 = 13, MiMatrix = 14, MiCompressed = 15, MiUtf8 = 16;

    /// <summary>Reads a MAT-file.</summary>
    /// <param name="path">The <c>.mat</c> file.</param>
    /// <param name="options">Limits; <see cref="MatFileReadOptions.Default"/> when <see langword="null"/>.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is malformed, too large, or not a Level 5 MAT-file.</exception>
    public static MatFileContent Read(string path, MatFileReadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= MatFileReadOptions.Default;
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"MAT file not found: '{path}'.", path);
        }
        long length = new FileInfo(path).Length;
        if (length > options.MaxFileBytes)
        {
            throw Invalid(path, $"{length} bytes is more than the {options.MaxFileBytes}-byte limit");
        }
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (IOException e)
        {
            throw Invalid(path, $"cannot be read ({e.Message})", e);
        }
        if (bytes.LongLength > options.MaxFileBytes)
        {
            throw Invalid(path, $"{bytes.LongLength} bytes is more than the {options.MaxFileBytes}-byte limit");
        }
        return Read(bytes, path, options);
    }

    /// <summary>Reads a MAT-file held in memory.</summary>
    /// <param name="bytes">The whole file.</param>
    /// <param name="source">A name for error messages.</param>
    /// <param name="options">Limits; <see cref="MatFileReadOptions.Default"/> when <see langword="null"/>.</param>
    /// <exception cref="InvalidDataException">The bytes are malformed or not a Level 5 MAT-file.</exception>
    public static MatFileContent Read(byte[] bytes, string source = "<memory>", MatFileReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        return new Parser(bytes, source, options ?? MatFileReadOptions.Default).ParseFile();
    }

    private sealed class Parser(byte[] file, string source, MatFileReadOptions options)
    {
        private bool _bigEndian;
        private long _decompressedBudget = options.MaxDecompressedBytes;

        public MatFileContent ParseFile()
        {
            if (file.Length < HeaderLength)
            {
                throw Fail($"{file.Length} bytes is too short for the {HeaderLength}-byte Level 5 header");
            }
            if (file[0] == 0 || file[1] == 0 || file[2] == 0 || file[3] == 0)
            {
                throw Fail("the header does not start with text; this looks like a MAT v4 file, which is not supported (save with -v6 or -v7)");
            }
            byte e0 = file[126], e1 = file[127];
            if (e0 == 'I' && e1 == 'M')
            {
                _bigEndian = false;
            }
            else if (e0 == 'M' && e1 == 'I')
            {
                _bigEndian = true;
            }
            else
            {
                throw Fail($"bytes 126-127 are 0x{e0:X2} 0x{e1:X2}, not the 'IM' or 'MI' endian indicator of a Level 5 MAT-file");
            }
            int version = U16(file.AsSpan(124));
            if (version == 0x0200)
            {
                throw Fail("it is a MATLAB v7.3 (HDF5) file, which is not supported; re-save it with save(..., '-v7')");
            }
            if (version != 0x0100)
            {
                throw Fail($"header version 0x{version:X4}, expected 0x0100");
            }
            string text = Encoding.ASCII.GetString(file, 0, 116).TrimEnd(' ', '\0');

            var variables = new List<MatArray>();
            int pos = HeaderLength;
            while (pos < file.Length)
            {
                int remaining = file.Length - pos;
                if (remaining < 8)
                {
                    throw Fail($"truncated: {remaining} stray bytes at offset {pos} where an element tag (8 bytes) should start");
                }
                Tag tag = ReadTag(file.AsSpan(0, file.Length), pos, $"top-level element at offset {pos}");
                if (tag.Small)
                {
                    throw Fail($"top-level element at offset {pos} is a small data element of type {tag.Type}; expected miMATRIX or miCOMPRESSED");
                }
                string where = $"variable #{variables.Count + 1} (offset {pos})";
                if (tag.Type == MiMatrix)
                {
                    if (tag.Size > 0)
                    {
                        variables.Add(ParseMatrix(file.AsSpan(tag.DataOffset, tag.Size), where));
                    }
                }
                else if (tag.Type == MiCompressed)
                {
                    byte[] inner = Decompress(tag.DataOffset, tag.Size, where);
                    Tag innerTag = ReadTag(inner, 0, where + " after decompression");
                    if (innerTag.Size > 0)
                    {
                        variables.Add(ParseMatrix(inner.AsSpan(innerTag.DataOffset, innerTag.Size), where));
                    }
                }
                else
                {
                    throw Fail($"top-level element at offset {pos} has type {tag.Type}; expected miMATRIX (14) or miCOMPRESSED (15)");
                }
                // Top-level elements are not padded (MATLAB and scipy write compressed elements back to back).
                pos = tag.DataOffset + tag.Size;
            }
            return new MatFileContent(source, text, _bigEndian, variables.ToArray());
        }

        private byte[] Decompress(int offset, int length, string where)
        {
            if (length < 2)
            {
                throw Fail($"{where}: a {length}-byte miCOMPRESSED element cannot hold a zlib stream");
            }
            using var zlib = new ZLibStream(new MemoryStream(file, offset, length, writable: false), CompressionMode.Decompress);
            var head = new byte[8];
            int got = ReadFully(zlib, head, where);
            if (got < 8)
            {
                throw Fail($"{where}: the compressed data ends after {got} bytes, before the 8-byte tag of the array it wraps");
            }
            uint first = U32(head);
            if (first >> 16 != 0)
            {
                throw Fail($"{where}: the compressed data starts with a small data element; expected an miMATRIX tag");
            }
            if (first == MiCompressed)
            {
                throw Fail($"{where}: nested miCOMPRESSED elements are not allowed");
            }
            if (first != MiMatrix)
            {
                throw Fail($"{where}: the compressed data holds an element of type {first}; expected miMATRIX (14)");
            }
            long declared = U32(head.AsSpan(4));
            long maxFromDeflate = (length * MaxDeflateExpansion) + 1024;
            if (declared > maxFromDeflate)
            {
                throw Fail($"{where}: the compressed array declares {declared} bytes, more than {length} compressed bytes can hold");
            }
            long total = declared + 8;
            if (total > _decompressedBudget)
            {
                throw Fail($"{where}: decompressing {total} more bytes would exceed the {options.MaxDecompressedBytes}-byte limit for one file");
            }
            if (total > Array.MaxLength)
            {
                throw Fail($"{where}: the compressed array declares {declared} bytes, too many for one buffer");
            }
            _decompressedBudget -= total;
            var inner = new byte[total];
            head.CopyTo(inner, 0);
            got = ReadFully(zlib, inner.AsSpan(8), where);
            if (got < declared)
            {
                throw Fail($"{where}: the compressed data ends after {got} of the {declared} bytes its array declares");
            }
            // Drain to the end of the zlib stream (this also checks its Adler-32), tolerating at most
            // 7 zero bytes of alignment padding; anything more means the element lied about its size.
            Span<byte> extra = stackalloc byte[8];
            int extraCount = ReadFully(zlib, extra, where);
            if (extraCount == 8 || extra[..extraCount].ContainsAnyExcept((byte)0))
            {
                throw Fail($"{where}: the compressed data decompresses to more than the {declared} bytes its array declares");
            }
            return inner;
        }

        private int ReadFully(Stream stream, Span<byte> buffer, string where)
        {
            int total = 0;
            try
            {
                while (total < buffer.Length)
                {
                    int n = stream.Read(buffer[total..]);
                    if (n == 0)
                    {
                        break;
                    }
                    total += n;
                }
            }
            catch (Exception e) when (e is InvalidDataException or IOException)
            {
                // InvalidDataException for most corruption, but zlib can also report a bad stream as a
                // ZLibException (an IOException): both mean corrupt data (fuzz regression mat/zlib-error-*.bin).
                throw Fail($"{where}: corrupt zlib data ({e.Message})", e);
            }
            return total;
        }

        private MatArray ParseMatrix(ReadOnlySpan<byte> m, string where)
        {
            // 1. Array flags: miUINT32 × 2 (class and flag bits, then nzmax for sparse arrays).
            Tag flags = ReadTag(m, 0, where + " array flags");
            if (flags.Type != MiUInt32 || flags.Size != 8)
            {
                throw Fail($"{where}: the array-flags sub-element has type {flags.Type} and {flags.Size} bytes; expected miUINT32 (6) with 8 bytes");
            }
            uint flagWord = U32(m[flags.DataOffset..]);
            int classCode = (int)(flagWord & 0xFF);
            bool isComplex = (flagWord & 0x0800) != 0;
            bool isLogical = (flagWord & 0x0200) != 0;
            if (classCode is < 1 or > 17)
            {
                throw Fail($"{where}: unknown array class {classCode}");
            }
            var matClass = (MatClass)classCode;

            // 2. Dimensions: miINT32 × n, n ≥ 2.
            Tag dimsTag = ReadTag(m, flags.Next, where + " dimensions");
            if (dimsTag.Type != MiInt32 || dimsTag.Size % 4 != 0)
            {
                throw Fail($"{where}: the dimensions sub-element has type {dimsTag.Type} and {dimsTag.Size} bytes; expected miINT32 (5), 4 bytes per dimension");
            }
            int rank = dimsTag.Size / 4;
            if (rank < 2 || rank > options.MaxDimensions)
            {
                throw Fail($"{where}: {rank} dimensions, expected 2..{options.MaxDimensions}");
            }
            var dims = new int[rank];
            long count = 1;
            for (int i = 0; i < rank; i++)
            {
                dims[i] = (int)U32(m[(dimsTag.DataOffset + (4 * i))..]);
                if (dims[i] < 0)
                {
                    throw Fail($"{where}: dimension {i + 1} is negative ({dims[i]})");
                }
                count = Math.Min(count * dims[i], (long)int.MaxValue + 1);
            }

            // 3. Name: miINT8 (scipy, MATLAB) or miUTF8/miUINT8, often in the small format.
            Tag nameTag = ReadTag(m, dimsTag.Next, where + " name");
            if (nameTag.Type is not (MiInt8 or MiUInt8 or MiUtf8))
            {
                throw Fail($"{where}: the array-name sub-element has type {nameTag.Type}; expected miINT8 (1)");
            }
            string name = Encoding.UTF8.GetString(m.Slice(nameTag.DataOffset, nameTag.Size));
            string named = name.Length == 0 ? where : $"{where} '{name}'";

            bool numeric = classCode is >= (int)MatClass.Double and <= (int)MatClass.UInt64;
            if (!numeric)
            {
                return new MatArray(source, name, dims, matClass, isComplex, isLogical, values: null);
            }
            if (count > Array.MaxLength)
            {
                throw Fail($"{named}: {string.Join("x", dims)} is {count} elements, too many for one array");
            }

            // 4. Real part (and 5. imaginary part when complex).
            Tag real = ReadTag(m, nameTag.Next, named + " real part");
            double[] values = Convert(m, real, (int)count, named + " real part");
            if (isComplex)
            {
                Tag imaginary = ReadTag(m, real.Next, named + " imaginary part");
                _ = Convert(m, imaginary, (int)count, named + " imaginary part");
                return new MatArray(source, name, dims, matClass, isComplex, isLogical, values: null);
            }
            return new MatArray(source, name, dims, matClass, isComplex, isLogical, values);
        }

        private double[] Convert(ReadOnlySpan<byte> m, Tag tag, int count, string where)
        {
            int size = tag.Type switch
            {
                MiInt8 or MiUInt8 => 1,
                MiInt16 or MiUInt16 => 2,
                MiInt32 or MiUInt32 or MiSingle => 4,
                MiDouble or MiInt64 or MiUInt64 => 8,
                _ => throw Fail($"{where}: data of type {tag.Type} is not a numeric MAT data type"),
            };
            if ((long)count * size != tag.Size)
            {
                throw Fail($"{where}: {count} elements of {size} bytes need {(long)count * size} bytes, the data element holds {tag.Size}");
            }
            ReadOnlySpan<byte> d = m.Slice(tag.DataOffset, tag.Size);
            var values = new double[count];
            bool be = _bigEndian;
            for (int i = 0; i < count; i++)
            {
                values[i] = tag.Type switch
                {
                    MiInt8 => (sbyte)d[i],
                    MiUInt8 => d[i],
                    MiInt16 => be ? BinaryPrimitives.ReadInt16BigEndian(d[(2 * i)..]) : BinaryPrimitives.ReadInt16LittleEndian(d[(2 * i)..]),
                    MiUInt16 => be ? BinaryPrimitives.ReadUInt16BigEndian(d[(2 * i)..]) : BinaryPrimitives.ReadUInt16LittleEndian(d[(2 * i)..]),
                    MiInt32 => be ? BinaryPrimitives.ReadInt32BigEndian(d[(4 * i)..]) : BinaryPrimitives.ReadInt32LittleEndian(d[(4 * i)..]),
                    MiUInt32 => be ? BinaryPrimitives.ReadUInt32BigEndian(d[(4 * i)..]) : BinaryPrimitives.ReadUInt32LittleEndian(d[(4 * i)..]),
                    MiSingle => be ? BinaryPrimitives.ReadSingleBigEndian(d[(4 * i)..]) : BinaryPrimitives.ReadSingleLittleEndian(d[(4 * i)..]),
                    MiDouble => be ? BinaryPrimitives.ReadDoubleBigEndian(d[(8 * i)..]) : BinaryPrimitives.ReadDoubleLittleEndian(d[(8 * i)..]),
                    MiInt64 => be ? BinaryPrimitives.ReadInt64BigEndian(d[(8 * i)..]) : BinaryPrimitives.ReadInt64LittleEndian(d[(8 * i)..]),
                    _ => be ? BinaryPrimitives.ReadUInt64BigEndian(d[(8 * i)..]) : BinaryPrimitives.ReadUInt64LittleEndian(d[(8 * i)..]),
                };
            }
            return values;
        }

        /// <summary>Reads the tag at <paramref name="pos"/> of <paramref name="span"/>, checking that its data fits.</summary>
        private Tag ReadTag(ReadOnlySpan<byte> span, int pos, string where)
        {
            if (pos > span.Length - 8)
            {
                throw Fail($"truncated: {where} needs an 8-byte tag at offset {pos} but only {Math.Max(0, span.Length - pos)} bytes remain");
            }
            uint first = U32(span[pos..]);
            if (first >> 16 != 0)
            {
                int smallSize = (int)(first >> 16);
                if (smallSize > 4)
                {
                    throw Fail($"{where}: a small data element declares {smallSize} bytes; at most 4 fit in its tag");
                }
                return new Tag((int)(first & 0xFFFF), smallSize, pos + 4, pos + 8, Small: true);
            }
            uint size = U32(span[(pos + 4)..]);
            int dataOffset = pos + 8;
            if (size > (uint)(span.Length - dataOffset))
            {
                throw Fail($"truncated: {where} at offset {pos} declares {size} bytes of type {first} but only {span.Length - dataOffset} remain");
            }
            long next = dataOffset + ((size + 7L) & ~7L);
            return new Tag((int)first, (int)size, dataOffset, (int)Math.Min(next, span.Length), Small: false);
        }

        private uint U32(ReadOnlySpan<byte> b) =>
            _bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(b) : BinaryPrimitives.ReadUInt32LittleEndian(b);

        private int U16(ReadOnlySpan<byte> b) =>
            _bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(b) : BinaryPrimitives.ReadUInt16LittleEndian(b);

        private InvalidDataException Fail(string reason, Exception? inner = null) => Invalid(source, reason, inner);
    }

    internal static InvalidDataException Invalid(string source, string reason, Exception? inner = null) =>
        new($"MAT file '{source}' is invalid: {reason}.", inner);

    private readonly record struct Tag(int Type, int Size, int DataOffset, int Next, bool Small);
}
