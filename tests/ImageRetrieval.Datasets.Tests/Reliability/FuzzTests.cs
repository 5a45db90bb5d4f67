using System.Buffers.Binary;
using System.IO.Compression;
using ImageRetrieval.Datasets.MatFile;
using Xunit.Abstractions;

namespace ImageRetrieval.Datasets.Tests.Reliability;

/// <summary>
/// Seeded mutation fuzzing of the dataset readers of untrusted bytes: IDX (plain and gzipped, images and labels) and
/// MATLAB Level 5 MAT-files. Figures are in docs/reliability.md; the runtime package's readers are fuzzed in
/// ImageRetrieval.ML.Tests.
/// </summary>
public class FuzzTests(ITestOutputHelper output)
{
    private static readonly Type[] DataErrors = [typeof(InvalidDataException)];

    /// <summary>The readers fuzzed here, by area name (<see cref="RegressionFixtures.DatasetAreas"/>).</summary>
    internal static void Replay(string area, byte[] input, string scratch)
    {
        switch (area)
        {
            case "idx-images":
                IdxTarget(input, scratch, images: true);
                break;
            case "idx-labels":
                IdxTarget(input, scratch, images: false);
                break;
            case "mat":
                MatFileReader.Read(input, "fuzz");
                break;
            default:
                throw new ArgumentException("unknown area " + area);
        }
    }

    private static void IdxTarget(byte[] input, string scratch, bool images)
    {
        File.WriteAllBytes(scratch, input);
        if (images)
        {
            IdxReader.ReadImages(scratch);
        }
        else
        {
            IdxReader.ReadLabels(scratch);
        }
    }

    private void Report(FuzzOutcome o)
    {
        output.WriteLine($"{o.Area}: {o.Cases} cases ({o.Accepted} accepted, {o.Rejected} rejected) in {o.Elapsed.TotalSeconds:F1} s, slowest {o.Slowest.TotalMilliseconds:F0} ms, most allocated {o.MostAllocated:N0} B");
        Assert.True(o.Failures.Count == 0, $"{o.Failures.Count} fuzz failures in {o.Area}:\n" + string.Join("\n", o.Failures.Take(20)));
    }

    internal static byte[][] IdxSeeds(bool images)
    {
        var set = FashionMnist.Load(FashionMnist.Split.Test, maxItems: 8);
        byte[] plain;
        if (images)
        {
            plain = new byte[16 + (8 * 784)];
            BinaryPrimitives.WriteInt32BigEndian(plain, 0x803);
            BinaryPrimitives.WriteInt32BigEndian(plain.AsSpan(4), 8);
            BinaryPrimitives.WriteInt32BigEndian(plain.AsSpan(8), 28);
            BinaryPrimitives.WriteInt32BigEndian(plain.AsSpan(12), 28);
            set.Pixels[..(8 * 784)].CopyTo(plain.AsSpan(16));
        }
        else
        {
            plain = new byte[8 + 8];
            BinaryPrimitives.WriteInt32BigEndian(plain, 0x801);
            BinaryPrimitives.WriteInt32BigEndian(plain.AsSpan(4), 8);
            for (int i = 0; i < 8; i++)
            {
                plain[8 + i] = (byte)set.Labels[i];
            }
        }
        var gz = new MemoryStream();
        using (var zip = new GZipStream(gz, CompressionLevel.Optimal, leaveOpen: true))
        {
            zip.Write(plain);
        }
        return [plain, gz.ToArray()];
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Idx_reader_survives_mutations(bool images)
    {
        using var temp = new TempDirectory();
        string file = temp.File("fuzz.idx");
        // DEFLATE expands at most ~1032:1, and the reader refuses headers promising more.
        Report(FuzzHarness.Run(images ? "idx-images" : "idx-labels", IdxSeeds(images), 600, input => IdxTarget(input, file, images),
            DataErrors, input => (2L << 20) + (1200L * input.Length)));
    }

    internal static byte[][] MatSeeds() =>
        ((IEnumerable<object[]>)MatFile.MatFileReaderTests.AllFixtures()).Select(row => File.ReadAllBytes(MatFile.MatFileReaderTests.Fixture((string)row[0]))).ToArray();

    [Fact]
    public void Mat_reader_survives_mutations()
    {
        Report(FuzzHarness.Run("mat", MatSeeds(), 1500, input => MatFileReader.Read(input, "fuzz"), DataErrors,
            input => (2L << 20) + (1200L * input.Length)));
    }
}
