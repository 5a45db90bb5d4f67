using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace ImageRetrieval.Tests;

/// <summary>
/// Builds little-endian Level 5 MAT-files element by element, including malformed ones. Valid files are
/// cross-checked against scipy's fixtures; this exists to write what no honest writer would.
/// </summary>
internal static class MatBuilder
{
    public const uint MiInt8 = 1, MiUInt8 = 2, MiInt32 = 5, MiUInt32 = 6, MiDouble = 9, MiMatrix = 14, MiCompressed = 15;

    public static byte[] Header(ushort version = 0x0100, string endian = "IM")
    {
        var header = new byte[128];
        Encoding.ASCII.GetBytes("MATLAB 5.0 MAT-file, built by MatBuilder".PadRight(116)).CopyTo(header, 0);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(124), version);
        header[126] = (byte)endian[0];
        header[127] = (byte)endian[1];
        return header;
    }

    /// <summary>A tag plus payload, padded to 8 bytes; <paramref name="declaredSize"/> can lie.</summary>
    public static byte[] Element(uint type, byte[] payload, uint? declaredSize = null, bool pad = true)
    {
        int padding = pad ? (-payload.Length & 7) : 0;
        var bytes = new byte[8 + payload.Length + padding];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, type);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), declaredSize ?? (uint)payload.Length);
        payload.CopyTo(bytes, 8);
        return bytes;
    }

    public static byte[] Doubles(params double[] values)
    {
        var bytes = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(8 * i), values[i]);
        }
        return bytes;
    }

    public static byte[] Int32s(params int[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4 * i), values[i]);
        }
        return bytes;
    }

    /// <summary>The sub-elements of an miMATRIX (flags, dims, name, data) without the outer tag.</summary>
    public static byte[] MatrixBody(string name, int classCode, int[] dims, uint dataType, byte[] data, uint flagBits = 0) =>
        Concat(
            Element(MiUInt32, [.. Int32s(classCode | (int)flagBits, 0)]),
            Element(MiInt32, Int32s(dims)),
            Element(MiInt8, Encoding.ASCII.GetBytes(name)),
            Element(dataType, data));

    public static byte[] Matrix(string name, int[] dims, params double[] values) =>
        Element(MiMatrix, MatrixBody(name, 6, dims, MiDouble, Doubles(values)));

    public static byte[] Compressed(byte[] inner, CompressionLevel level = CompressionLevel.Optimal)
    {
        using var output = new MemoryStream();
        using (var z = new ZLibStream(output, level, leaveOpen: true))
        {
            z.Write(inner);
        }
        return Element(MiCompressed, output.ToArray(), pad: false);
    }

    public static byte[] File(params byte[][] elements) => Concat([Header(), .. elements]);

    public static byte[] Concat(params byte[][] parts)
    {
        var result = new byte[parts.Sum(p => p.Length)];
        int pos = 0;
        foreach (byte[] part in parts)
        {
            part.CopyTo(result, pos);
            pos += part.Length;
        }
        return result;
    }
}
