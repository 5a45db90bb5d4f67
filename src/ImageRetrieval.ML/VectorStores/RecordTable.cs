namespace ImageRetrieval.ML.VectorStores;

/// <summary>
/// Records by internal id in one array (ids are handed out densely), so the filter the HNSW traversal calls for every
/// node it reaches is an array read, not a hash lookup. Writers (holding the collection's writer lock) replace whole
/// records and grow the array by copying and publishing a new one; readers take no lock and see each record either
/// before or after a write, never in between.
/// </summary>
internal sealed class RecordTable
{
    private StoredRecord?[] _slots = new StoredRecord?[64];
    private int _count;

    public int Count => Volatile.Read(ref _count);

    /// <summary>One past the highest id slot (ids below it may be empty).</summary>
    public int Capacity => Volatile.Read(ref _slots).Length;

    public bool TryGet(long id, out StoredRecord? record)
    {
        StoredRecord?[] slots = Volatile.Read(ref _slots);
        record = (ulong)id < (ulong)slots.Length ? Volatile.Read(ref slots[id]) : null;
        return record is not null;
    }

    /// <summary>The record in slot <paramref name="id"/> or null (for samplers that walk ids).</summary>
    public StoredRecord? At(int id)
    {
        StoredRecord?[] slots = Volatile.Read(ref _slots);
        return (uint)id < (uint)slots.Length ? Volatile.Read(ref slots[id]) : null;
    }

    /// <summary>Inserts or replaces the record with this id. Writers only.</summary>
    public void Set(StoredRecord record)
    {
        StoredRecord?[] slots = _slots;
        if (record.Id >= slots.Length)
        {
            var grown = new StoredRecord?[Math.Max(slots.Length * 2, checked((int)record.Id + 1))];
            Array.Copy(slots, grown, slots.Length);
            Volatile.Write(ref _slots, grown);
            slots = grown;
        }
        if (slots[record.Id] is null)
        {
            Interlocked.Increment(ref _count);
        }
        Volatile.Write(ref slots[record.Id], record);
    }

    /// <summary>Removes the record with this id. Writers only.</summary>
    public bool Remove(long id)
    {
        StoredRecord?[] slots = _slots;
        if ((ulong)id >= (ulong)slots.Length || slots[id] is null)
        {
            return false;
        }
        Volatile.Write(ref slots[id], null);
        Interlocked.Decrement(ref _count);
        return true;
    }

    /// <summary>The slot array as it is now (for scans that index it directly; entries may be null).</summary>
    public StoredRecord?[] Slots => Volatile.Read(ref _slots);

    /// <summary>The records in id order (a lock-free walk: concurrent writes may or may not be seen).</summary>
    public IEnumerable<StoredRecord> All()
    {
        StoredRecord?[] slots = Volatile.Read(ref _slots);
        for (int i = 0; i < slots.Length; i++)
        {
            if (Volatile.Read(ref slots[i]) is StoredRecord record)
            {
                yield return record;
            }
        }
    }
}
