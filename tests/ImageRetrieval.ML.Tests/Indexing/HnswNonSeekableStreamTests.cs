using System.Buffers.Binary;
using ImageRetrieval.ML.Indexing;

namespace ImageRetrieval.ML.Tests.Indexing;

public class HnswNonSeekableStreamTests
{
    [Fact]
    public void A_non_seekable_stream_round_trips()
    {
        using var index = new HnswIndex(8, DistanceMetric.SquaredL2, new HnswOptions { Seed = 3 });
        var random = new Random(5);
        for (int i = 0; i < 200; i++)
        {
            index.Add(i, Enumerable.Range(0, 8).Select(_ => (float)random.NextDouble()).ToArray());
        }
        var bytes = new MemoryStream();
        index.Save(bytes);
        using var loaded = HnswIndex.Load(new ForwardOnlyStream(bytes.ToArray()));
        float[] query = Enumerable.Range(0, 8).Select(_ => (float)random.NextDouble()).ToArray();
        Assert.Equal(index.Search(query, 10, 100).Select(h => h.Key), loaded.Search(query, 10, 100).Select(h => h.Key));
    }

    [Fact]
    public void A_non_seekable_stream_is_never_buffered_beyond_what_its_header_declares()
    {
        using var index = new HnswIndex(8, DistanceMetric.SquaredL2);
        index.Add(1, new float[8]);
        var bytes = new MemoryStream();
        index.Save(bytes);
        byte[] file = bytes.ToArray();

        // The same header followed by 64 MiB of junk: rejected after reading only the declared length + 1.
        var endless = new ForwardOnlyStream(file, junkBytes: 64L << 20);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<InvalidDataException>(() => HnswIndex.Load(endless));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 4 << 20);
        Assert.True(endless.Consumed <= file.Length + 1 + (1 << 16), $"read {endless.Consumed} bytes");

        // A header declaring two billion nodes is refused before any buffering.
        byte[] lying = (byte[])file.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(lying.AsSpan(36), 2_000_000_000);
        BinaryPrimitives.WriteInt32LittleEndian(lying.AsSpan(40), 1);
        Assert.Throws<InvalidDataException>(() => HnswIndex.Load(new ForwardOnlyStream(lying)));
    }

    private sealed class ForwardOnlyStream(byte[] data, long junkBytes = 0) : Stream
    {
        public long Consumed { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            long total = data.Length + junkBytes;
            int n = (int)Math.Min(count, total - Consumed);
            for (int i = 0; i < n; i++)
            {
                long at = Consumed + i;
                buffer[offset + i] = at < data.Length ? data[at] : (byte)0xAB;
            }
            Consumed += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
