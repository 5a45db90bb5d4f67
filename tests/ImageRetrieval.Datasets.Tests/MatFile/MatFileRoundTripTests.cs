using System.Buffers.Binary;
using ImageRetrieval.Datasets.MatFile;

namespace ImageRetrieval.Datasets.Tests.MatFile;

/// <summary>Seeded random arrays written with <see cref="MatBuilder"/> in every storage type, plain or compressed, read back exactly.</summary>
public class MatFileRoundTripTests
{
    // (MAT data type, bytes per element, writer, smallest value, largest value)
    private static readonly (uint Type, int Size, Action<Span<byte>, double> Write, double Min, double Max)[] Storage =
    [
        (1, 1, (b, v) => b[0] = (byte)(sbyte)v, -128, 127),
        (2, 1, (b, v) => b[0] = (byte)v, 0, 255),
        (3, 2, (b, v) => BinaryPrimitives.WriteInt16LittleEndian(b, (short)v), short.MinValue, short.MaxValue),
        (4, 2, (b, v) => BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)v), 0, ushort.MaxValue),
        (5, 4, (b, v) => BinaryPrimitives.WriteInt32LittleEndian(b, (int)v), int.MinValue, int.MaxValue),
        (6, 4, (b, v) => BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)v), 0, uint.MaxValue),
        (7, 4, (b, v) => BinaryPrimitives.WriteSingleLittleEndian(b, (float)v), -1e6, 1e6),
        (9, 8, (b, v) => BinaryPrimitives.WriteDoubleLittleEndian(b, v), -1e300, 1e300),
        (12, 8, (b, v) => BinaryPrimitives.WriteInt64LittleEndian(b, (long)v), -1e15, 1e15),
        (13, 8, (b, v) => BinaryPrimitives.WriteUInt64LittleEndian(b, (ulong)v), 0, 1e15),
    ];

    [Fact]
    public void Random_arrays_in_every_storage_type_read_back_exactly()
    {
        var random = new Random(2024);
        for (int trial = 0; trial < 300; trial++)
        {
            int variables = random.Next(1, 4);
            var expected = new List<(string Name, int[] Dims, MatClass Class, double[] Values)>();
            var elements = new List<byte[]>();
            for (int v = 0; v < variables; v++)
            {
                var storage = Storage[random.Next(Storage.Length)];
                int[] dims = random.Next(4) == 0 ? [random.Next(0, 3), random.Next(0, 4), random.Next(1, 3)] : [random.Next(0, 5), random.Next(0, 9)];
                int count = dims.Aggregate(1, (a, d) => a * d);
                var values = new double[count];
                var data = new byte[count * storage.Size];
                for (int i = 0; i < count; i++)
                {
                    double value = storage.Min + (random.NextDouble() * (storage.Max - storage.Min));
                    value = storage.Type is 7 ? (float)value : storage.Type is 9 ? value : Math.Round(value);
                    values[i] = value;
                    storage.Write(data.AsSpan(i * storage.Size), value);
                }
                var matClass = (MatClass)random.Next((int)MatClass.Double, (int)MatClass.UInt64 + 1);
                string name = "v" + new string('x', random.Next(0, 6)) + v; // 2..8 characters: small and normal name elements
                byte[] body = Body(name, (int)matClass, dims, storage.Type, data, random.Next(2) == 0);
                byte[] element = MatBuilder.Element(MatBuilder.MiMatrix, body);
                elements.Add(random.Next(2) == 0 ? MatBuilder.Compressed(element) : element);
                expected.Add((name, dims, matClass, values));
            }

            MatFileContent mat = MatFileReader.Read(MatBuilder.File([.. elements]), $"trial {trial}");

            Assert.Equal(expected.Count, mat.Variables.Count);
            for (int v = 0; v < expected.Count; v++)
            {
                MatArray array = mat.Variables[v];
                Assert.Equal(expected[v].Name, array.Name);
                Assert.Equal(expected[v].Dims, array.Dimensions);
                Assert.Equal(expected[v].Class, array.Class);
                Assert.Equal(expected[v].Values, array.Values.ToArray());
            }
        }
    }

    /// <summary>Like <see cref="MatBuilder.MatrixBody"/>, but packs names and data of at most 4 bytes into the tag (small data element format) when asked.</summary>
    private static byte[] Body(string name, int classCode, int[] dims, uint dataType, byte[] data, bool small)
    {
        byte[] nameBytes = System.Text.Encoding.ASCII.GetBytes(name);
        return MatBuilder.Concat(
            MatBuilder.Element(MatBuilder.MiUInt32, MatBuilder.Int32s(classCode, 0)),
            MatBuilder.Element(MatBuilder.MiInt32, MatBuilder.Int32s(dims)),
            small && nameBytes.Length <= 4 ? SmallElement(MatBuilder.MiInt8, nameBytes) : MatBuilder.Element(MatBuilder.MiInt8, nameBytes),
            small && data.Length <= 4 ? SmallElement(dataType, data) : MatBuilder.Element(dataType, data));
    }

    private static byte[] SmallElement(uint type, byte[] payload)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt16LittleEndian(bytes, (ushort)type);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2), (ushort)payload.Length);
        payload.CopyTo(bytes, 4);
        return bytes;
    }
}
