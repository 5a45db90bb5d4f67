using System.Buffers.Binary;
using System.IO.Compression;
using ImageRetrieval.Datasets.MatFile;

namespace ImageRetrieval.Datasets.Tests.MatFile;

public class MatFileReaderTests
{
    private static readonly double[] Labels = [1, 1, 2, 2, 3, 3, 50, 50, 102, 102, 7, 7];

    internal static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "MatFile", "Fixtures", name);

    public static TheoryData<string> AllFixtures() =>
    [
        "imagelabels_compressed.mat", "imagelabels_uncompressed.mat", "setid_compressed.mat", "setid_uncompressed.mat",
        "labels_column.mat", "labels_uint8.mat", "mixed.mat", "mixed_compressed.mat", "bigendian.mat", "matlab_style.mat",
    ];

    [Theory]
    [InlineData("imagelabels_compressed.mat")]
    [InlineData("imagelabels_uncompressed.mat")]
    [InlineData("matlab_style.mat")]
    [InlineData("bigendian.mat")]
    public void Reads_scipy_and_matlab_style_label_vectors(string file)
    {
        MatFileContent mat = MatFileReader.Read(Fixture(file));
        MatArray labels = mat["labels"];
        Assert.Equal(MatClass.Double, labels.Class);
        Assert.Equal([1, 12], labels.Dimensions);
        Assert.True(labels.IsVector);
        Assert.Equal(Labels, labels.Values.ToArray());
        Assert.Equal(Labels.Select(v => (int)v), labels.ToInt32Array());
        Assert.StartsWith("MATLAB 5.0 MAT-file", mat.HeaderText, StringComparison.Ordinal);
        Assert.Equal(file == "bigendian.mat", mat.IsBigEndian);
    }

    [Theory]
    [InlineData("setid_compressed.mat")]
    [InlineData("setid_uncompressed.mat")]
    public void Reads_the_three_split_vectors(string file)
    {
        MatFileContent mat = MatFileReader.Read(Fixture(file));
        Assert.Equal(["trnid", "valid", "tstid"], mat.Variables.Select(v => v.Name));
        Assert.Equal([1, 3, 5, 7], mat["trnid"].ToInt32Array());
        Assert.Equal([2, 4, 9], mat["valid"].ToInt32Array());
        Assert.Equal([6, 8, 10, 11, 12], mat["tstid"].ToInt32Array());
    }

    [Fact]
    public void Reads_column_vectors_and_uint8_class()
    {
        MatArray column = MatFileReader.Read(Fixture("labels_column.mat"))["labels"];
        Assert.Equal([12, 1], column.Dimensions);
        Assert.True(column.IsVector);
        Assert.Equal(Labels, column.Values.ToArray());

        MatArray bytes = MatFileReader.Read(Fixture("labels_uint8.mat"))["labels"];
        Assert.Equal(MatClass.UInt8, bytes.Class);
        Assert.Equal(Labels, bytes.Values.ToArray());
    }

    [Theory]
    [InlineData("mixed.mat")]
    [InlineData("mixed_compressed.mat")]
    public void Reads_matrices_beside_variables_it_only_lists(string file)
    {
        MatFileContent mat = MatFileReader.Read(Fixture(file));

        MatArray grid = mat["grid"];
        Assert.Equal([3, 4], grid.Dimensions);
        Assert.False(grid.IsVector);
        for (int r = 0; r < 3; r++)
        {
            for (int c = 0; c < 4; c++)
            {
                Assert.Equal(((r * 4) + c) * 0.5, grid[r, c]);
            }
        }
        Assert.Equal([7.0], mat["abcd"].Values.ToArray()); // 4-char name and 1-byte data: small data elements
        Assert.Equal(MatClass.Int16, mat["i16"].Class);
        Assert.Equal([-3.0, 4, 32767], mat["i16"].Values.ToArray());
        Assert.Equal([1.5, -2.25], mat["f32"].Values.ToArray());
        Assert.Equal(Labels, mat["labels"].Values.ToArray());
        Assert.Equal(0, mat["empty"].ElementCount);
        Assert.True(mat["empty"].Values.IsEmpty);

        Assert.Equal(MatClass.Char, mat["note"].Class);
        Assert.False(mat["note"].HasValues);
        Assert.Equal(MatClass.Cell, mat["cells"].Class);
        var error = Assert.Throws<NotSupportedException>(() => mat["cells"].Values.Length);
        Assert.Contains("'cells'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Big_endian_int32_matrix_is_column_major()
    {
        MatArray m = MatFileReader.Read(Fixture("bigendian.mat"))["m"];
        Assert.Equal(MatClass.Int32, m.Class);
        Assert.Equal([2, 3], m.Dimensions);
        Assert.Equal(5, m[0, 2]);
        Assert.Equal(-6, m[1, 2]);
        Assert.Equal("m: 2x3 int32", m.ToString());
    }

    [Fact]
    public void Missing_variable_names_the_file_and_lists_what_it_holds()
    {
        string path = Fixture("setid_compressed.mat");
        var error = Assert.Throws<InvalidDataException>(() => MatFileReader.Read(path)["labels"]);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("trnid: 1x4 double", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Non_integer_values_are_refused_by_ToInt32Array()
    {
        MatArray grid = MatFileReader.Read(Fixture("mixed.mat"))["grid"];
        var error = Assert.Throws<InvalidDataException>(() => grid.ToInt32Array());
        Assert.Contains("'grid'", error.Message, StringComparison.Ordinal);
        Assert.Contains("0.5", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_file_is_FileNotFound()
    {
        Assert.Throws<FileNotFoundException>(() => MatFileReader.Read("/nonexistent/imagelabels.mat"));
    }

    // ---- hostile files -------------------------------------------------------------------

    [Theory]
    [MemberData(nameof(AllFixtures))]
    public void Truncation_anywhere_fails_cleanly_or_keeps_whole_variables(string file)
    {
        byte[] full = File.ReadAllBytes(Fixture(file));
        var boundaries = TopLevelBoundaries(full, BitConverter.IsLittleEndian && full[126] == 'I');
        int fullCount = MatFileReader.Read(full, file).Variables.Count;
        for (int length = 0; length < full.Length; length++)
        {
            byte[] cut = full[..length];
            int index = boundaries.IndexOf(length);
            if (index >= 0)
            {
                Assert.Equal(index, MatFileReader.Read(cut, file).Variables.Count);
                Assert.True(index < fullCount);
            }
            else
            {
                AssertInvalid(cut, $"{file}[..{length}]");
            }
        }
    }

    [Theory]
    [MemberData(nameof(AllFixtures))]
    public void Seeded_bit_flips_never_escape_as_anything_but_InvalidDataException(string file)
    {
        byte[] full = File.ReadAllBytes(Fixture(file));
        var random = new Random(file.Length * 7919);
        for (int trial = 0; trial < 400; trial++)
        {
            byte[] bad = (byte[])full.Clone();
            int flips = 1 + random.Next(3);
            for (int f = 0; f < flips; f++)
            {
                int bit = random.Next(bad.Length * 8);
                bad[bit / 8] ^= (byte)(1 << (bit % 8));
            }
            ReadOrInvalid(bad, $"{file} flip trial {trial}");
        }
    }

    [Fact]
    public void Random_garbage_after_a_valid_header_is_refused()
    {
        var random = new Random(42);
        for (int trial = 0; trial < 200; trial++)
        {
            var tail = new byte[random.Next(1, 400)];
            random.NextBytes(tail);
            ReadOrInvalid(MatBuilder.Concat(MatBuilder.Header(), tail), $"garbage {trial}");
        }
    }

    [Theory]
    [InlineData(1000, 1000, "need 8000000 bytes, the data element holds 24")]
    [InlineData(100_000, 100_000, "too many for one array")]
    [InlineData(int.MaxValue, int.MaxValue, "too many for one array")]
    [InlineData(-1, 3, "dimension 1 is negative")]
    [InlineData(0x40000000, 4, "too many for one array")]
    public void Absurd_dimensions_are_refused_before_allocating(int rows, int cols, string expected)
    {
        byte[] file = MatBuilder.File(MatBuilder.Matrix("x", [rows, cols], 1, 2, 3));
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Contains(expected, AssertInvalid(file, "absurd"), StringComparison.Ordinal);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
    }

    [Fact]
    public void Too_many_dimensions_and_too_few_are_refused()
    {
        byte[] many = MatBuilder.File(MatBuilder.Element(MatBuilder.MiMatrix,
            MatBuilder.MatrixBody("x", 6, Enumerable.Repeat(1, 100).ToArray(), MatBuilder.MiDouble, MatBuilder.Doubles(1))));
        Assert.Contains("100 dimensions", AssertInvalid(many, "many dims"), StringComparison.Ordinal);
        byte[] one = MatBuilder.File(MatBuilder.Element(MatBuilder.MiMatrix,
            MatBuilder.MatrixBody("x", 6, [1], MatBuilder.MiDouble, MatBuilder.Doubles(1))));
        Assert.Contains("1 dimensions", AssertInvalid(one, "one dim"), StringComparison.Ordinal);
    }

    [Fact]
    public void Data_length_must_match_the_dimensions()
    {
        byte[] file = MatBuilder.File(MatBuilder.Matrix("x", [2, 2], 1, 2, 3));
        Assert.Contains("4 elements of 8 bytes need 32 bytes, the data element holds 24", AssertInvalid(file, "short data"), StringComparison.Ordinal);
    }

    [Fact]
    public void Wrong_tags_are_refused_with_the_reason()
    {
        Assert.Contains("expected miMATRIX (14) or miCOMPRESSED (15)",
            AssertInvalid(MatBuilder.File(MatBuilder.Element(MatBuilder.MiDouble, MatBuilder.Doubles(1))), "top double"), StringComparison.Ordinal);

        byte[] body = MatBuilder.MatrixBody("x", 6, [1, 1], MatBuilder.MiDouble, MatBuilder.Doubles(1));
        BinaryPrimitives.WriteUInt32LittleEndian(body, MatBuilder.MiDouble); // flags tag type
        Assert.Contains("array-flags", AssertInvalid(MatBuilder.File(MatBuilder.Element(MatBuilder.MiMatrix, body)), "flags"), StringComparison.Ordinal);

        body = MatBuilder.MatrixBody("x", 99, [1, 1], MatBuilder.MiDouble, MatBuilder.Doubles(1));
        Assert.Contains("unknown array class 99", AssertInvalid(MatBuilder.File(MatBuilder.Element(MatBuilder.MiMatrix, body)), "class"), StringComparison.Ordinal);

        body = MatBuilder.MatrixBody("x", 6, [1, 1], 14, MatBuilder.Doubles(1));
        Assert.Contains("not a numeric MAT data type", AssertInvalid(MatBuilder.File(MatBuilder.Element(MatBuilder.MiMatrix, body)), "data type"), StringComparison.Ordinal);

        // A small data element (size packed in the upper 16 bits) claiming 7 bytes.
        body = MatBuilder.MatrixBody("xy", 6, [1, 1], MatBuilder.MiDouble, MatBuilder.Doubles(1));
        byte[] small = [1, 0, 7, 0, (byte)'x', (byte)'y', 0, 0];
        small.CopyTo(body, 32);
        Assert.Contains("small data element declares 7 bytes", AssertInvalid(MatBuilder.File(MatBuilder.Element(MatBuilder.MiMatrix, body)), "small"), StringComparison.Ordinal);

        // An element declaring more bytes than the file holds.
        Assert.Contains("truncated", AssertInvalid(MatBuilder.File(MatBuilder.Element(MatBuilder.MiMatrix, body, declaredSize: 1 << 30)), "long"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("IM", 0x0200, "v7.3 (HDF5)")]
    [InlineData("IM", 0x0300, "version 0x0300")]
    [InlineData("XX", 0x0100, "endian indicator")]
    public void Bad_headers_are_refused(string endian, int version, string expected)
    {
        byte[] file = MatBuilder.Concat(MatBuilder.Header((ushort)version, endian), MatBuilder.Matrix("x", [1, 1], 1));
        Assert.Contains(expected, AssertInvalid(file, "header"), StringComparison.Ordinal);
    }

    [Fact]
    public void Level_4_and_non_mat_files_are_refused()
    {
        byte[] v4 = new byte[200];
        BinaryPrimitives.WriteInt32LittleEndian(v4, 0); // MOPT type word of a v4 file
        Assert.Contains("MAT v4", AssertInvalid(v4, "v4"), StringComparison.Ordinal);
        byte[] jpeg = TestImages.Pattern(32, 32, SkiaSharp.SKEncodedImageFormat.Jpeg);
        Assert.Contains("endian indicator", AssertInvalid(jpeg, "jpeg"), StringComparison.Ordinal);
        Assert.Contains("too short", AssertInvalid("MATLAB"u8.ToArray(), "short"), StringComparison.Ordinal);
    }

    [Fact]
    public void Compressed_element_decompressing_to_more_than_it_declares_is_refused()
    {
        byte[] inner = MatBuilder.Matrix("x", [1, 2], 1, 2);
        byte[] lying = (byte[])inner.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(lying.AsSpan(4), (uint)(inner.Length - 8 - 16)); // declares 16 bytes less
        string message = AssertInvalid(MatBuilder.File(MatBuilder.Compressed(lying)), "more than declared");
        Assert.Contains("decompresses to more than", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Compressed_element_decompressing_to_less_than_it_declares_is_refused()
    {
        byte[] inner = MatBuilder.Matrix("x", [1, 2], 1, 2);
        BinaryPrimitives.WriteUInt32LittleEndian(inner.AsSpan(4), (uint)(inner.Length - 8 + 64));
        Assert.Contains("ends after", AssertInvalid(MatBuilder.File(MatBuilder.Compressed(inner)), "less"), StringComparison.Ordinal);
    }

    [Fact]
    public void Zip_bomb_is_stopped_after_the_declared_size_without_inflating_it()
    {
        // 64 bytes declared, 64 MiB of zeros behind them: ~64 KiB compressed.
        byte[] inner = MatBuilder.Concat(MatBuilder.Matrix("x", [1, 1], 1), new byte[64 << 20]);
        byte[] file = MatBuilder.File(MatBuilder.Compressed(inner, CompressionLevel.SmallestSize));
        long before = GC.GetAllocatedBytesForCurrentThread();
        string message = AssertInvalid(file, "bomb");
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("decompresses to more than", message, StringComparison.Ordinal);
        Assert.True(allocated < (4L * file.Length) + (1 << 20), $"allocated {allocated} bytes for a {file.Length}-byte file");
    }

    [Fact]
    public void Compressed_sizes_are_capped_by_deflate_ratio_and_by_the_global_limit()
    {
        // Declares 1 GiB from a handful of compressed bytes: refused before allocating.
        byte[] inner = MatBuilder.Matrix("x", [1, 1], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(inner.AsSpan(4), 1u << 30);
        byte[] file = MatBuilder.File(MatBuilder.Compressed(inner));
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Contains("more than", AssertInvalid(file, "ratio"), StringComparison.Ordinal);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);

        // Honest 8 MiB of zeros: fine by default, refused under a 1 MiB decompression limit.
        int n = 1 << 20;
        byte[] big = MatBuilder.Element(MatBuilder.MiMatrix, MatBuilder.MatrixBody("z", 6, [1, n], MatBuilder.MiDouble, new byte[8 * n]));
        byte[] bigFile = MatBuilder.File(MatBuilder.Compressed(big));
        Assert.Equal(n, MatFileReader.Read(bigFile, "big").Variables[0].ElementCount);
        var limit = new MatFileReadOptions { MaxDecompressedBytes = 1 << 20 };
        var error = Assert.Throws<InvalidDataException>(() => MatFileReader.Read(bigFile, "big", limit));
        Assert.Contains("limit", error.Message, StringComparison.Ordinal);

        // The limit is for the whole file: two 600 KiB elements under a 1 MiB limit.
        byte[] part = MatBuilder.Element(MatBuilder.MiMatrix, MatBuilder.MatrixBody("p", 6, [1, 75_000], MatBuilder.MiDouble, new byte[600_000]));
        byte[] twoParts = MatBuilder.File(MatBuilder.Compressed(part), MatBuilder.Compressed(part));
        Assert.Single(MatFileReader.Read(MatBuilder.File(MatBuilder.Compressed(part)), "one", limit).Variables);
        Assert.Throws<InvalidDataException>(() => MatFileReader.Read(twoParts, "two", limit));
    }

    [Fact]
    public void Nested_compressed_elements_are_refused()
    {
        byte[] nested = MatBuilder.File(MatBuilder.Compressed(MatBuilder.Compressed(MatBuilder.Matrix("x", [1, 1], 1))));
        Assert.Contains("nested miCOMPRESSED", AssertInvalid(nested, "nested"), StringComparison.Ordinal);
    }

    [Fact]
    public void Corrupt_zlib_data_is_refused()
    {
        byte[] file = MatBuilder.File(MatBuilder.Compressed(MatBuilder.Matrix("x", [1, 4], 1, 2, 3, 4)));
        file[^3] ^= 0xFF; // inside the Adler-32 or the last deflate block
        ReadOrInvalid(file, "zlib");
        byte[] garbage = MatBuilder.File(MatBuilder.Element(MatBuilder.MiCompressed, [1, 2, 3, 4, 5, 6, 7, 8, 9], pad: false));
        Assert.Contains("zlib", AssertInvalid(garbage, "garbage zlib"), StringComparison.Ordinal);
    }

    [Fact]
    public void Oversized_files_are_refused_before_reading()
    {
        using var dir = new TempDirectory();
        string path = dir.File("big.mat");
        File.WriteAllBytes(path, MatBuilder.File(MatBuilder.Matrix("x", [1, 100], new double[100])));
        var error = Assert.Throws<InvalidDataException>(() => MatFileReader.Read(path, new MatFileReadOptions { MaxFileBytes = 500 }));
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    // Work is bounded by allocation, not time: what the reader may allocate grows with the input (DEFLATE expands at most
    // ~1032:1, and values become doubles), as in the fuzz tests.
    private static long AllocationBudget(byte[] bytes) => (2L << 20) + (1200L * bytes.Length);

    private static void ReadOrInvalid(byte[] bytes, string source)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            MatFileContent mat = MatFileReader.Read(bytes, source);
            foreach (MatArray v in mat.Variables)
            {
                Assert.True(!v.HasValues || v.Values.Length == v.ElementCount);
            }
        }
        catch (InvalidDataException e)
        {
            Assert.Contains($"MAT file '{source}'", e.Message, StringComparison.Ordinal);
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < AllocationBudget(bytes), $"{source} allocated {allocated:N0} bytes for {bytes.Length} bytes of input");
    }

    private static string AssertInvalid(byte[] bytes, string source)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<InvalidDataException>(() => MatFileReader.Read(bytes, source));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.StartsWith($"MAT file '{source}' is invalid: ", error.Message, StringComparison.Ordinal);
        Assert.True(allocated < AllocationBudget(bytes), $"{source} allocated {allocated:N0} bytes for {bytes.Length} bytes of input");
        return error.Message;
    }

    /// <summary>File lengths at which a prefix holds only whole top-level elements.</summary>
    private static List<int> TopLevelBoundaries(byte[] file, bool littleEndian)
    {
        var result = new List<int> { 128 };
        int pos = 128;
        while (pos + 8 <= file.Length)
        {
            uint size = littleEndian ? BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(pos + 4)) : BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(pos + 4));
            pos += 8 + (int)size;
            result.Add(pos);
        }
        return result;
    }
}
