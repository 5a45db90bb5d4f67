using System.Buffers.Binary;
using System.IO.Hashing;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text;

namespace ImageRetrieval.ML.Indexing;

public sealed unsafe partial class HnswIndex
{
    /// <summary>The first 8 bytes of every saved index.</summary>
    public static ReadOnlySpan<byte> FileMagic => "IRHNSW\0\0"u8;

    /// <summary>
    /// The format version written by <see cref="Save(Stream)"/>: 2 records the <see cref="VectorType"/> at byte 52 (reserved,
    /// always 0, in version 1, whose files are float32 and still load).
    /// </summary>
    public const int FormatVersion = 2;

    internal const int HeaderSize = 64;

    /// <summary>Saves the index to <paramref name="path"/> atomically (temp file in the same folder, flushed to disk, then renamed over the target).</summary>
    /// <param name="path">Destination file.</param>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ImageRetrieval.IO.AtomicFile.Write(path, Save, bufferSize: 1 << 20);
    }

    /// <summary>
    /// Writes the index: a 64-byte header (magic, format version, metric, dimension, M, efConstruction, counts,
    /// entry point, vector type), vectors in their stored form, layer-0 links, keys, levels, node states, upper-layer links, and an XxHash64 of all
    /// preceding bytes. Little-endian. Blocks inserts and compaction (not searches) while it runs. Slots that compaction
    /// has retired are written as free slots with no links. Nodes are written in breadth-first order over layer 0 from the
    /// entry point (not in insertion order), so that an index opened from the file keeps a node's neighbours near each
    /// other in memory: at 1M vectors, far beyond the CPU caches, that makes searches about 1.4–1.6× faster per query
    /// (docs/benchmarks.md). Keys, vectors and the graph are unchanged; only the internal node numbering differs.
    /// </summary>
    /// <param name="stream">A writable stream, left open.</param>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ObjectDisposedException.ThrowIf(_disposed, this);
        ThrowIfBigEndian();
        SchedulePoint.EnterWrite(_structureLock);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var hash = new XxHash64();
            Chunk[] chunks = _chunks;
            int slots = _slotCount;
            long entry = _entry;
            long upperInts = 0;
            for (int id = 0; id < slots; id++)
            {
                upperInts += (long)SavedLevel(chunks, id) * _strideUpper;
            }
            (int[] order, int[] rank) = LocalityOrder(chunks, slots, entry);
            Span<byte> header = stackalloc byte[HeaderSize];
            header.Clear();
            FileMagic.CopyTo(header);
            BinaryPrimitives.WriteInt32LittleEndian(header[8..], FormatVersion);
            BinaryPrimitives.WriteInt32LittleEndian(header[12..], (int)_metric);
            BinaryPrimitives.WriteInt32LittleEndian(header[16..], _dim);
            BinaryPrimitives.WriteInt32LittleEndian(header[20..], _m);
            BinaryPrimitives.WriteInt32LittleEndian(header[24..], _efConstruction);
            BinaryPrimitives.WriteInt32LittleEndian(header[28..], _defaultEf);
            BinaryPrimitives.WriteInt32LittleEndian(header[32..], _seed);
            BinaryPrimitives.WriteInt32LittleEndian(header[36..], slots);
            BinaryPrimitives.WriteInt32LittleEndian(header[40..], _liveCount);
            BinaryPrimitives.WriteInt32LittleEndian(header[44..], entry == -1 ? -1 : rank[(int)entry]);
            BinaryPrimitives.WriteInt32LittleEndian(header[48..], entry == -1 ? -1 : (int)(entry >> 32));
            BinaryPrimitives.WriteInt32LittleEndian(header[52..], (int)_vectorType);
            BinaryPrimitives.WriteInt64LittleEndian(header[56..], upperInts);
            Write(stream, hash, header);

            // Sections in the saved (locality) order: new id i holds old node order[i].
            // Gathered in batches of about 1 MiB (the largest per-node record: a vector or a layer-0 list).
            int record = Math.Max(Math.Max(_vectorBytes, _stride0 * sizeof(int)), sizeof(long));
            int batch = Math.Clamp((1 << 20) / record, 1, Math.Max(1, slots));
            byte[] gather = new byte[checked(batch * record)];
            for (int first = 0; first < slots; first += batch)
            {
                int n = Math.Min(batch, slots - first);
                fixed (byte* g = gather)
                {
                    for (int i = 0; i < n; i++)
                    {
                        int old = order[first + i];
                        Buffer.MemoryCopy(VectorPtr(chunks, old), g + ((long)i * _vectorBytes), _vectorBytes, _vectorBytes);
                    }
                }
                Write(stream, hash, gather.AsSpan(0, n * _vectorBytes));
            }
            for (int first = 0; first < slots; first += batch)
            {
                int n = Math.Min(batch, slots - first);
                Span<int> links = MemoryMarshal.Cast<byte, int>(gather.AsSpan(0, n * _stride0 * sizeof(int)));
                links.Clear();
                for (int i = 0; i < n; i++)
                {
                    int old = order[first + i];
                    Chunk c = chunks[old >> _chunkShift];
                    int local = old & _chunkMask;
                    if (c.Flags[local] is Retired or Free)
                    {
                        continue;
                    }
                    CopyRenumbered(ListSpan(c, local, 0), links.Slice(i * _stride0, _stride0), _maxM0, rank);
                }
                Write(stream, hash, MemoryMarshal.AsBytes(links));
            }
            for (int first = 0; first < slots; first += batch)
            {
                int n = Math.Min(batch, slots - first);
                Span<long> keys = MemoryMarshal.Cast<byte, long>(gather.AsSpan(0, n * sizeof(long)));
                for (int i = 0; i < n; i++)
                {
                    int old = order[first + i];
                    keys[i] = chunks[old >> _chunkShift].Keys[old & _chunkMask];
                }
                Write(stream, hash, MemoryMarshal.AsBytes(keys));
            }
            WriteNodeInts(stream, hash, gather, order, batch, old => SavedLevel(chunks, old));
            WriteNodeInts(stream, hash, gather, order, batch, old => SavedState(chunks, old));
            int[] upperCopy = new int[Math.Max(1, MaxLevelCap * _strideUpper)];
            for (int i = 0; i < slots; i++)
            {
                int old = order[i];
                int levels = SavedLevel(chunks, old);
                if (levels == 0)
                {
                    continue;
                }
                Chunk c = chunks[old >> _chunkShift];
                ReadOnlySpan<int> source = c.Upper[old & _chunkMask].AsSpan(0, levels * _strideUpper);
                Span<int> target = upperCopy.AsSpan(0, source.Length);
                target.Clear();
                for (int at = 0; at < source.Length; at += _strideUpper)
                {
                    CopyRenumbered(source.Slice(at, _strideUpper), target.Slice(at, _strideUpper), _m, rank);
                }
                Write(stream, hash, MemoryMarshal.AsBytes(target));
            }
            Span<byte> trailer = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(trailer, hash.GetCurrentHashAsUInt64());
            stream.Write(trailer);
        }
        finally
        {
            _structureLock.ExitWriteLock();
        }
    }

    /// <summary>Writes one int per node in the saved order (new id i is old node order[i]), gathered in batches.</summary>
    private static void WriteNodeInts(Stream stream, XxHash64 hash, byte[] gather, int[] order, int batch, Func<int, int> valueOf)
    {
        for (int first = 0; first < order.Length; first += batch)
        {
            int n = Math.Min(batch, order.Length - first);
            Span<int> values = MemoryMarshal.Cast<byte, int>(gather.AsSpan(0, n * sizeof(int)));
            for (int i = 0; i < n; i++)
            {
                values[i] = valueOf(order[first + i]);
            }
            Write(stream, hash, MemoryMarshal.AsBytes(values));
        }
    }

    /// <summary>Copies a <c>[count, ids…]</c> list with its ids renumbered by <paramref name="rank"/>; the caller clears <paramref name="target"/>, so entries past the count are 0.</summary>
    private static void CopyRenumbered(ReadOnlySpan<int> source, Span<int> target, int max, int[] rank)
    {
        int count = Math.Min(source[0], max);
        target[0] = count;
        for (int j = 1; j <= count; j++)
        {
            target[j] = rank[source[j]];
        }
    }

    /// <summary>
    /// The order nodes are saved in (new id i is old node order[i]; rank is the inverse): breadth-first over layer 0
    /// from the entry point, so that a node's neighbours, which a search reads one after another, lie near each other
    /// in the file and in memory after loading or mapping it; nodes no path reaches follow (each starting its own
    /// breadth-first walk), then free and retired slots, in id order.
    /// </summary>
    private (int[] Order, int[] Rank) LocalityOrder(Chunk[] chunks, int slots, long entry)
    {
        int[] order = new int[slots];
        int[] rank = new int[slots];
        rank.AsSpan().Fill(-1);
        int head = 0, tail = 0;
        void Walk(int start)
        {
            rank[start] = tail;
            order[tail++] = start;
            while (head < tail)
            {
                int id = order[head++];
                Chunk c = chunks[id >> _chunkShift];
                int local = id & _chunkMask;
                if (c.Flags[local] is Retired or Free)
                {
                    continue;
                }
                Span<int> list = ListSpan(c, local, 0);
                int count = Math.Min(list[0], _maxM0);
                for (int j = 1; j <= count; j++)
                {
                    int next = list[j];
                    if ((uint)next < (uint)slots && rank[next] < 0)
                    {
                        rank[next] = tail;
                        order[tail++] = next;
                    }
                }
            }
        }
        if (entry != -1)
        {
            Walk((int)entry);
        }
        for (int id = 0; id < slots; id++)
        {
            if (rank[id] < 0 && chunks[id >> _chunkShift].Flags[id & _chunkMask] is not (Retired or Free))
            {
                Walk(id);
            }
        }
        for (int id = 0; id < slots; id++)
        {
            if (rank[id] < 0)
            {
                rank[id] = tail;
                order[tail++] = id;
            }
        }
        return (order, rank);
    }

    /// <summary>The state a slot is saved with: retired slots are saved free.</summary>
    private int SavedState(Chunk[] chunks, int id)
    {
        int flag = chunks[id >> _chunkShift].Flags[id & _chunkMask];
        return flag == Retired ? Free : flag;
    }

    /// <summary>The level a slot is saved with: 0 for a free or retired slot (saved free, without links).</summary>
    private int SavedLevel(Chunk[] chunks, int id)
    {
        Chunk c = chunks[id >> _chunkShift];
        int local = id & _chunkMask;
        return c.Flags[local] is Retired or Free ? 0 : c.Levels[local];
    }

    /// <summary>Loads an index saved by <see cref="Save(string)"/>.</summary>
    /// <param name="path">The file.</param>
    /// <exception cref="InvalidDataException">The file is not a valid index (the message says why).</exception>
    public static HnswIndex Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Load(stream);
    }

    /// <summary>
    /// Loads an index from a stream positioned at its start. Everything is validated before it is trusted: the header,
    /// that the counts exactly fit the stream's length (checked before any large allocation), the checksum, and the
    /// graph (levels, link counts, link targets, entry point, unique keys).
    /// </summary>
    /// <param name="stream">A readable stream (a non-seekable one is buffered first).</param>
    /// <exception cref="InvalidDataException">The data is not a valid index (the message says why).</exception>
    public static HnswIndex Load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ThrowIfBigEndian();
        if (!stream.CanSeek)
        {
            stream = BufferDeclaredLength(stream);
        }
        long length = stream.Length - stream.Position;
        Span<byte> headerBytes = stackalloc byte[HeaderSize];
        if (length < HeaderSize + 8)
        {
            throw Invalid($"{length} bytes is shorter than the {HeaderSize}-byte header plus checksum.");
        }
        stream.ReadExactly(headerBytes);
        Header h = ParseHeader(headerBytes, length);
        var hash = new XxHash64();
        hash.Append(headerBytes);
        var index = new HnswIndex(h.Dimension, h.Metric, h.Options, mapped: null);
        try
        {
            if (h.Slots > 0)
            {
                index.EnsureCapacity(h.Slots - 1);
            }
            Chunk[] chunks = index._chunks;
            int chunkSize = 1 << index._chunkShift;
            int chunkCount = (int)(((long)h.Slots + chunkSize - 1) / chunkSize);
            for (int c = 0; c < chunkCount; c++)
            {
                int n = Math.Min(chunkSize, h.Slots - (c * chunkSize));
                Read(stream, hash, new Span<byte>(chunks[c].Vectors, n * index._vectorBytes));
            }
            for (int c = 0; c < chunkCount; c++)
            {
                int n = Math.Min(chunkSize, h.Slots - (c * chunkSize));
                Read(stream, hash, new Span<byte>(chunks[c].Links0, n * index._stride0 * sizeof(int)));
            }
            for (int c = 0; c < chunkCount; c++)
            {
                int n = Math.Min(chunkSize, h.Slots - (c * chunkSize));
                Read(stream, hash, MemoryMarshal.AsBytes(chunks[c].Keys.AsSpan(0, n)));
            }
            for (int c = 0; c < chunkCount; c++)
            {
                int n = Math.Min(chunkSize, h.Slots - (c * chunkSize));
                Read(stream, hash, MemoryMarshal.AsBytes(chunks[c].Levels.AsSpan(0, n)));
            }
            for (int c = 0; c < chunkCount; c++)
            {
                int n = Math.Min(chunkSize, h.Slots - (c * chunkSize));
                Read(stream, hash, MemoryMarshal.AsBytes(chunks[c].Flags.AsSpan(0, n)));
            }
            LoadUpperLinks(index, chunks, h, ints =>
            {
                var upper = new int[ints];
                Read(stream, hash, MemoryMarshal.AsBytes(upper.AsSpan()));
                return upper;
            });
            Span<byte> trailer = stackalloc byte[8];
            stream.ReadExactly(trailer);
            ulong expected = BinaryPrimitives.ReadUInt64LittleEndian(trailer);
            ulong actual = hash.GetCurrentHashAsUInt64();
            if (expected != actual)
            {
                throw Invalid($"checksum mismatch (stored {expected:x16}, computed {actual:x16}): the file is corrupt.");
            }
            index.ValidateAndAdopt(h);
            return index;
        }
        catch (EndOfStreamException e)
        {
            index.Dispose();
            throw Invalid("unexpected end of data: " + e.Message);
        }
        catch
        {
            index.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens a saved index read-only with its vectors and layer-0 links memory-mapped (paged in on demand instead of
    /// read up front; small per-node fields are copied). Validated exactly like <see cref="Load(string)"/>, which reads
    /// the file once for the checksum. The file must not change while the index is open; dispose it to unmap.
    /// </summary>
    /// <param name="path">A file written by <see cref="Save(string)"/>.</param>
    /// <exception cref="InvalidDataException">The file is not a valid index.</exception>
    public static HnswIndex OpenMapped(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ThrowIfBigEndian();
        long length = new FileInfo(path).Length;
        if (length < HeaderSize + 8)
        {
            throw Invalid($"{length} bytes is shorter than the {HeaderSize}-byte header plus checksum.");
        }
        var mapped = new MappedFile(path, length);
        HnswIndex? index = null;
        try
        {
            byte* p = mapped.Pointer;
            Header h = ParseHeader(new ReadOnlySpan<byte>(p, HeaderSize), length);
            var hash = new XxHash64();
            for (long off = 0; off < length - 8; off += 1 << 30)
            {
                hash.Append(new ReadOnlySpan<byte>(p + off, (int)Math.Min(1 << 30, length - 8 - off)));
            }
            ulong expected = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(p + length - 8, 8));
            ulong actual = hash.GetCurrentHashAsUInt64();
            if (expected != actual)
            {
                throw Invalid($"checksum mismatch (stored {expected:x16}, computed {actual:x16}): the file is corrupt.");
            }
            index = new HnswIndex(h.Dimension, h.Metric, h.Options, mapped);
            int chunkSize = 1 << index._chunkShift;
            int chunkCount = (int)(((long)h.Slots + chunkSize - 1) / chunkSize);
            long vectorsAt = HeaderSize;
            long linksAt = vectorsAt + ((long)h.Slots * index._vectorBytes);
            long keysAt = linksAt + ((long)h.Slots * index._stride0 * sizeof(int));
            long levelsAt = keysAt + ((long)h.Slots * sizeof(long));
            long flagsAt = levelsAt + ((long)h.Slots * sizeof(int));
            long upperAt = flagsAt + ((long)h.Slots * sizeof(int));
            var chunks = new Chunk[chunkCount];
            for (int c = 0; c < chunkCount; c++)
            {
                long first = (long)c * chunkSize;
                int n = (int)Math.Min(chunkSize, h.Slots - first);
                Chunk chunk = Chunk.Mapped(p + vectorsAt + (first * index._vectorBytes),
                                           (int*)(p + linksAt + (first * index._stride0 * sizeof(int))), chunkSize);
                new ReadOnlySpan<long>(p + keysAt + (first * sizeof(long)), n).CopyTo(chunk.Keys);
                new ReadOnlySpan<int>(p + levelsAt + (first * sizeof(int)), n).CopyTo(chunk.Levels);
                new ReadOnlySpan<int>(p + flagsAt + (first * sizeof(int)), n).CopyTo(chunk.Flags);
                chunks[c] = chunk;
            }
            index._chunks = chunks;
            long upperOffset = 0;
            byte* upperBase = p + upperAt;
            LoadUpperLinks(index, chunks, h, ints =>
            {
                int[] upper = new ReadOnlySpan<int>(upperBase + (upperOffset * sizeof(int)), ints).ToArray();
                upperOffset += ints;
                return upper;
            });
            index.ValidateAndAdopt(h);
            return index;
        }
        catch
        {
            if (index is not null)
            {
                index.Dispose();
            }
            else
            {
                mapped.Dispose();
            }
            throw;
        }
    }

    /// <summary>Checks the loaded graph (everything a search or insert will trust) and sets the counters.</summary>
    private void ValidateAndAdopt(Header h)
    {
        Chunk[] chunks = _chunks;
        int slots = h.Slots;
        int live = 0, deleted = 0;
        var keys = new Dictionary<long, int>();
        var free = new List<int>();
        for (int id = 0; id < slots; id++)
        {
            Chunk c = chunks[id >> _chunkShift];
            int local = id & _chunkMask;
            int flag = c.Flags[local];
            if (flag is not (Live or Deleted or Free))
            {
                throw Invalid($"node {id} has state {flag}, expected 0 (live), 1 (deleted) or 2 (free).");
            }
            if (flag == Free && c.Links0[(long)local * _stride0] != 0)
            {
                throw Invalid($"free node {id} has links.");
            }
            if ((uint)c.Levels[local] > MaxLevelCap)
            {
                throw Invalid($"node {id} declares level {c.Levels[local]}, more than {MaxLevelCap}.");
            }
            for (int level = 0; level <= c.Levels[local]; level++)
            {
                Span<int> list = ListSpan(c, local, level);
                int max = level == 0 ? _maxM0 : _m;
                int n = list[0];
                if ((uint)n > (uint)max)
                {
                    throw Invalid($"node {id} has {n} links on layer {level}, more than {max}.");
                }
                for (int j = 1; j <= n; j++)
                {
                    if ((uint)list[j] >= (uint)slots || list[j] == id)
                    {
                        throw Invalid($"node {id} links to {list[j]} on layer {level}, outside 0..{slots - 1} or itself.");
                    }
                }
            }
            if (flag == Live)
            {
                live++;
                if (!keys.TryAdd(c.Keys[local], id))
                {
                    throw Invalid($"key {c.Keys[local]} is held by live nodes {keys[c.Keys[local]]} and {id}.");
                }
            }
            else if (flag == Deleted)
            {
                deleted++;
            }
            else
            {
                free.Add(id);
            }
        }
        if (live != h.Live)
        {
            throw Invalid($"header declares {h.Live} live keys, the node states hold {live}.");
        }
        if (h.EntryId == -1)
        {
            if (h.MaxLevel != -1 || live + deleted > 0)
            {
                throw Invalid("no entry point although the graph has nodes (or a level without an entry point).");
            }
        }
        else
        {
            if ((uint)h.EntryId >= (uint)slots)
            {
                throw Invalid($"entry point {h.EntryId} is outside 0..{slots - 1}.");
            }
            Chunk c = chunks[h.EntryId >> _chunkShift];
            if (c.Levels[h.EntryId & _chunkMask] != h.MaxLevel || c.Flags[h.EntryId & _chunkMask] == Free)
            {
                throw Invalid($"entry point {h.EntryId} is free or its level is not the declared top level {h.MaxLevel}.");
            }
        }
        foreach (var (key, id) in keys)
        {
            _ids[key] = id;
        }
        for (int i = free.Count - 1; i >= 0; i--)
        {
            _freeSlots.Push(free[i]);
        }
        _slotCount = slots;
        _liveCount = live;
        _deletedCount = deleted;
        _everRemoved = deleted > 0 || free.Count > 0;
        _entry = h.EntryId == -1 ? -1 : Pack(h.MaxLevel, h.EntryId);
        long upper = 0;
        for (int id = 0; id < slots; id++)
        {
            upper += (long)chunks[id >> _chunkShift].Levels[id & _chunkMask] * _strideUpper;
        }
        _upperInts = upper;
        // The parent tree is not stored: rebuild it from the entry point. A writable index also links in live nodes that
        // no path reaches (files written before the tree existed could hold some).
        SearchContext ctx = SearchContext.Rent();
        try
        {
            ctx.Prepare(_maxM0, _dim, _queryBytes, CapacityOf(chunks));
            if (_mapped is null)
            {
                RepairUnreachable(ctx, chunks, slots);
            }
            else
            {
                UnreachableLiveNodes(ctx, chunks, slots, rebuildTree: true);
            }
        }
        finally
        {
            SearchContext.Return(ctx);
        }
    }

    private readonly record struct Header(DistanceMetric Metric, int Dimension, HnswOptions Options, int Slots, int Live,
                                          int EntryId, int MaxLevel, long UpperInts);

    // A non-seekable stream is buffered, but never beyond the length its own header declares (+1 byte
    // to detect trailing data): a crafted or endless stream cannot make Load allocate without bound.
    private static MemoryStream BufferDeclaredLength(Stream stream)
    {
        var head = new byte[HeaderSize];
        int got = stream.ReadAtLeast(head, HeaderSize, throwOnEndOfStream: false);
        if (got < HeaderSize)
        {
            throw Invalid($"{got} bytes is shorter than the {HeaderSize}-byte header.");
        }
        ParseHeaderCore(head, out long expected);
        if (expected > Array.MaxLength)
        {
            throw Invalid($"the header declares {expected} bytes; load indexes over 2 GiB from a file (seekable stream or path) instead.");
        }
        var buffer = new MemoryStream((int)Math.Min(expected, 1 << 24));
        buffer.Write(head);
        var chunk = new byte[1 << 16];
        long remaining = expected - HeaderSize + 1;
        int n;
        while (remaining > 0 && (n = stream.Read(chunk, 0, (int)Math.Min(chunk.Length, remaining))) > 0)
        {
            buffer.Write(chunk, 0, n);
            remaining -= n;
        }
        buffer.Position = 0;
        return buffer;
    }

    private static Header ParseHeader(ReadOnlySpan<byte> header, long length)
    {
        Header parsed = ParseHeaderCore(header, out long expected);
        if (expected != length)
        {
            throw Invalid($"the counts in the header ({parsed.Slots} nodes of {parsed.Dimension}-d, M = {parsed.Options.M}, {parsed.UpperInts} upper-layer link ints) need {expected} bytes, the data holds {length}: truncated or corrupt.");
        }
        return parsed;
    }

    private static Header ParseHeaderCore(ReadOnlySpan<byte> header, out long expected)
    {
        if (!header[..8].SequenceEqual(FileMagic))
        {
            throw Invalid($"wrong magic '{Encoding.ASCII.GetString(header[..8]).Replace("\0", "\\0", StringComparison.Ordinal)}': not an HNSW index file.");
        }
        int version = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
        if (version is < 1 or > FormatVersion)
        {
            throw Invalid($"format version {version} is not supported (this build reads versions 1 to {FormatVersion}).");
        }
        int metric = BinaryPrimitives.ReadInt32LittleEndian(header[12..]);
        int dim = BinaryPrimitives.ReadInt32LittleEndian(header[16..]);
        int m = BinaryPrimitives.ReadInt32LittleEndian(header[20..]);
        int efC = BinaryPrimitives.ReadInt32LittleEndian(header[24..]);
        int ef = BinaryPrimitives.ReadInt32LittleEndian(header[28..]);
        int seed = BinaryPrimitives.ReadInt32LittleEndian(header[32..]);
        int slots = BinaryPrimitives.ReadInt32LittleEndian(header[36..]);
        int live = BinaryPrimitives.ReadInt32LittleEndian(header[40..]);
        int entry = BinaryPrimitives.ReadInt32LittleEndian(header[44..]);
        int maxLevel = BinaryPrimitives.ReadInt32LittleEndian(header[48..]);
        int vectorType = BinaryPrimitives.ReadInt32LittleEndian(header[52..]);
        long upperInts = BinaryPrimitives.ReadInt64LittleEndian(header[56..]);
        if (version == 1 && vectorType != 0)
        {
            throw Invalid($"version 1 files have 0 in the reserved field at byte 52, this one {vectorType}.");
        }
        if (!Enum.IsDefined((VectorType)vectorType))
        {
            throw Invalid($"unknown vector type {vectorType} (0 float32, 1 float16, 2 int8).");
        }
        if (metric is < 0 or > 2)
        {
            throw Invalid($"unknown metric {metric}.");
        }
        if (dim is < 1 or > 1 << 16)
        {
            throw Invalid($"dimension {dim} is outside 1..65536.");
        }
        if (m is < 2 or > 256)
        {
            throw Invalid($"M = {m} is outside 2..256.");
        }
        if (efC < 1 || ef < 1)
        {
            throw Invalid($"efConstruction {efC} / default efSearch {ef} must be positive.");
        }
        if (slots < 0 || live < 0 || live > slots)
        {
            throw Invalid($"node count {slots} / live count {live} are inconsistent.");
        }
        if (entry < -1 || entry >= Math.Max(slots, 0) || maxLevel < -1 || maxLevel > MaxLevelCap || (entry == -1) != (maxLevel == -1))
        {
            throw Invalid($"entry point {entry} at level {maxLevel} does not fit {slots} nodes.");
        }
        if (upperInts < 0)
        {
            throw Invalid($"negative upper-layer link count {upperInts}.");
        }
        long stride0 = 1 + (2L * m);
        long perNode = QuantizedDistance.StoredBytes((VectorType)vectorType, dim) + (stride0 * 4) + 8 + 4 + 4;
        try
        {
            expected = checked(HeaderSize + (slots * perNode) + (upperInts * 4) + 8);
        }
        catch (OverflowException)
        {
            throw Invalid("the declared counts overflow a file size.");
        }
        var options = new HnswOptions { M = m, EfConstruction = efC, DefaultEfSearch = ef, Seed = seed, VectorType = (VectorType)vectorType };
        return new Header((DistanceMetric)metric, dim, options, slots, live, entry, maxLevel, upperInts);
    }

    private static void Write(Stream stream, XxHash64 hash, ReadOnlySpan<byte> bytes)
    {
        hash.Append(bytes);
        stream.Write(bytes);
    }

    private static void Read(Stream stream, XxHash64 hash, Span<byte> bytes)
    {
        stream.ReadExactly(bytes);
        hash.Append(bytes);
    }

    /// <summary>
    /// Gives every node its upper-layer link list, in id order, after checking its level count and that the
    /// lists add up to the header's total; <paramref name="read"/> returns the next list of the given length
    /// (from a stream or from mapped memory).
    /// </summary>
    private static void LoadUpperLinks(HnswIndex index, Chunk[] chunks, Header h, Func<int, int[]> read)
    {
        long total = 0;
        for (int id = 0; id < h.Slots; id++)
        {
            Chunk c = chunks[id >> index._chunkShift];
            int local = id & index._chunkMask;
            int levels = c.Levels[local];
            if (levels == 0)
            {
                continue;
            }
            if ((uint)levels > MaxLevelCap)
            {
                throw Invalid($"node {id} declares level {levels}, more than {MaxLevelCap}.");
            }
            int ints = levels * index._strideUpper;
            total += ints;
            if (total > h.UpperInts)
            {
                throw Invalid($"node levels need more upper-layer links than the header's {h.UpperInts}.");
            }
            c.Upper[local] = read(ints);
        }
        if (total != h.UpperInts)
        {
            throw Invalid($"node levels account for {total} upper-layer link ints, the header declares {h.UpperInts}.");
        }
    }

    private static InvalidDataException Invalid(string reason) => new("Invalid HNSW index: " + reason);

    private static void ThrowIfBigEndian()
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("The HNSW index format is little-endian; big-endian hosts are not supported.");
        }
    }

    /// <summary>A read-only memory-mapped file and its acquired base pointer.</summary>
    internal sealed class MappedFile : IDisposable
    {
        private readonly MemoryMappedFile _file;
        private readonly MemoryMappedViewAccessor _view;
        private bool _disposed;

        public MappedFile(string path, long length)
        {
            _file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, mapName: null, 0, MemoryMappedFileAccess.Read);
            try
            {
                _view = _file.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
                byte* p = null;
                _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
                Pointer = p + _view.PointerOffset;
            }
            catch
            {
                _view?.Dispose();
                _file.Dispose();
                throw;
            }
        }

        public byte* Pointer { get; }

        public void Dispose()
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
            _file.Dispose();
        }
    }
}
