namespace ImageRetrieval.ML.Indexing;

public sealed unsafe partial class HnswIndex
{
    /// <summary>
    /// Checks every structural invariant of the graph while holding off writers (searches may run): states and counts,
    /// the key ↔ node map, every link (in range, not to itself, no repeats, not to a free or retired slot, the target has
    /// that layer), the parent tree (each recorded parent links to its child), the entry point, and that every live node is
    /// reachable from the entry point on layer 0. Used by the tests after concurrent runs; cost O(nodes × M).
    /// </summary>
    internal IntegrityReport CheckIntegrity()
    {
        SchedulePoint.EnterWrite(_structureLock);
        SchedulePoint.Enter(_allocLock);
        SearchContext ctx = SearchContext.Rent();
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var problems = new List<string>();
            void Problem(string text)
            {
                if (problems.Count < 20)
                {
                    problems.Add(text);
                }
            }

            Chunk[] chunks = _chunks;
            int slots = _slotCount;
            int live = 0, deleted = 0, retired = 0, free = 0;
            long links0 = 0;
            for (int id = 0; id < slots; id++)
            {
                Chunk c = chunks[id >> _chunkShift];
                int local = id & _chunkMask;
                int flag = c.Flags[local];
                switch (flag)
                {
                    case Live:
                        live++;
                        if (!_ids.TryGetValue(c.Keys[local], out int mapped) || mapped != id)
                        {
                            Problem($"live node {id} holds key {c.Keys[local]}, which maps to {(_ids.TryGetValue(c.Keys[local], out int m) ? m : -1)}");
                        }
                        break;
                    case Deleted:
                        deleted++;
                        break;
                    case Retired:
                        retired++;
                        continue;
                    case Free:
                        free++;
                        continue;
                    default:
                        Problem($"node {id} is in state {flag} with no writer running");
                        continue;
                }
                if (c.Locks[local] != 0 || (c.Versions[local] & 1) != 0)
                {
                    Problem($"node {id} is still locked or mid-write");
                }
                for (int level = 0; level <= c.Levels[local]; level++)
                {
                    int[]? upper = c.Upper[local];
                    if (level > 0 && (upper is null || upper.Length < level * _strideUpper))
                    {
                        Problem($"node {id} has level {c.Levels[local]} but no list for layer {level}");
                        break;
                    }
                    Span<int> list = ListSpan(c, local, level);
                    int n = list[0];
                    int max = level == 0 ? _maxM0 : _m;
                    if ((uint)n > (uint)max)
                    {
                        Problem($"node {id} has {n} links on layer {level}, more than {max}");
                        continue;
                    }
                    if (level == 0 && flag == Live)
                    {
                        links0 += n;
                    }
                    for (int j = 1; j <= n; j++)
                    {
                        int t = list[j];
                        if ((uint)t >= (uint)slots || t == id)
                        {
                            Problem($"node {id} links to {t} on layer {level}: out of range or itself");
                            continue;
                        }
                        if (list.Slice(1, j - 1).Contains(t))
                        {
                            Problem($"node {id} links to {t} twice on layer {level}");
                        }
                        Chunk tc = chunks[t >> _chunkShift];
                        int tflag = tc.Flags[t & _chunkMask];
                        if (tflag is Free or Retired)
                        {
                            Problem($"node {id} ({(flag == Live ? "live" : "removed")}) links to {(tflag == Free ? "free" : "retired")} slot {t} on layer {level}");
                        }
                        if (tc.Levels[t & _chunkMask] < level)
                        {
                            Problem($"node {id} links to {t} on layer {level}, above that node's level {tc.Levels[t & _chunkMask]}");
                        }
                    }
                }
            }
            int treeProblems = 0;
            for (int id = 0; id < slots; id++)
            {
                int flag = FlagOf(chunks, id);
                int parent = ParentOf(chunks, id);
                if (flag is Free or Retired || parent < 0)
                {
                    continue;
                }
                bool linked = (uint)parent < (uint)slots && FlagOf(chunks, parent) is not (Free or Retired) &&
                              ListSpan(chunks[parent >> _chunkShift], parent & _chunkMask, 0).Slice(1, Math.Min(_maxM0, ListSpan(chunks[parent >> _chunkShift], parent & _chunkMask, 0)[0])).Contains(id);
                if (!linked)
                {
                    treeProblems++;
                    Problem($"node {id}: its parent {parent} does not link to it on layer 0");
                }
            }
            if (live != _liveCount || live != _ids.Count)
            {
                Problem($"{live} live nodes, live count {_liveCount}, key map {_ids.Count}");
            }
            if (deleted != _deletedCount)
            {
                Problem($"{deleted} removed nodes, removed count {_deletedCount}");
            }
            int inLimbo = _limbo.Sum(l => l.Slots.Length);
            if (retired != _retiredCount || retired != inLimbo)
            {
                Problem($"{retired} retired slots, retired count {_retiredCount}, waiting for reuse {inLimbo}");
            }
            if (free != _freeSlots.Count)
            {
                Problem($"{free} free slots, free list {_freeSlots.Count}");
            }
            long entry = _entry;
            if (entry == -1)
            {
                if (live + deleted > 0)
                {
                    Problem("no entry point although the graph has nodes");
                }
            }
            else
            {
                int e = (int)entry;
                int flag = FlagOf(chunks, e);
                if (flag is Free or Retired || chunks[e >> _chunkShift].Levels[e & _chunkMask] != (int)(entry >> 32))
                {
                    Problem($"entry point {e} is {(flag is Free or Retired ? "free or retired" : "not at its recorded level")}");
                }
            }
            ctx.Prepare(_maxM0, _dim, _queryBytes, CapacityOf(chunks));
            List<int> unreachable = UnreachableLiveNodes(ctx, chunks, slots);
            if (unreachable.Count > 0)
            {
                Problem($"{unreachable.Count} live node(s) not reachable from the entry point on layer 0, e.g. {string.Join(", ", unreachable.Take(5))}");
            }
            return new IntegrityReport(live, deleted, retired, free, unreachable.Count, treeProblems, live == 0 ? 0 : (double)links0 / live, problems);
        }
        finally
        {
            SearchContext.Return(ctx);
            Monitor.Exit(_allocLock);
            _structureLock.ExitWriteLock();
        }
    }

    /// <summary>What <see cref="CheckIntegrity"/> found.</summary>
    internal sealed record IntegrityReport(int Live, int Deleted, int Retired, int Free, int UnreachableLive, int TreeLinkProblems, double MeanLayer0Links, IReadOnlyList<string> Problems)
    {
        public bool IsValid => Problems.Count == 0;

        public override string ToString() =>
            $"live {Live}, removed {Deleted}, retired {Retired}, free {Free}, unreachable {UnreachableLive}" +
            (Problems.Count == 0 ? "" : ":\n  " + string.Join("\n  ", Problems));
    }
}
