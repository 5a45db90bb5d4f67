using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using ImageRetrieval.ML.Indexing;

namespace ImageRetrieval.Datasets.Evaluation;

/// <summary>Retrieval quality of one evaluation. Every value is a fraction in 0–1, averaged over the evaluated queries.</summary>
/// <param name="PrecisionAt1">Fraction of queries whose nearest gallery item has the query's label.</param>
/// <param name="RecallAt1">Fraction of queries with at least one same-label item among the 1 nearest (equals <paramref name="PrecisionAt1"/>).</param>
/// <param name="RecallAt5">Fraction of queries with at least one same-label item among the 5 nearest.</param>
/// <param name="RecallAt10">Fraction of queries with at least one same-label item among the 10 nearest.</param>
/// <param name="MapAtR">Mean average precision at R (Musgrave et al., 2020), as pytorch-metric-learning computes it.</param>
/// <param name="QueryCount">Queries evaluated (queries whose label has no gallery item are left out).</param>
/// <param name="SkippedQueries">Queries left out because the gallery holds no item of their label.</param>
public sealed record RetrievalMetricsResult(
    double PrecisionAt1,
    double RecallAt1,
    double RecallAt5,
    double RecallAt10,
    double MapAtR,
    int QueryCount,
    int SkippedQueries);

/// <summary>
/// Exact retrieval metrics: precision@1, recall@K (K = 1, 5, 10) and MAP@R, computed by brute-force
/// search (blocked, SIMD, parallel) or from neighbour lists another search produced (e.g. HNSW).
/// </summary>
/// <remarks>
/// <para>Definitions follow pytorch-metric-learning's <c>AccuracyCalculator</c>: for a query with label
/// <c>y</c>, <c>R</c> is the number of gallery items labelled <c>y</c> (minus the query itself when
/// queries and gallery are the same set); MAP@R = <c>(1/R) Σ_{i≤R} P(i)·rel(i)</c> over the R nearest
/// items, where <c>P(i)</c> is the precision of the first i. Recall@K is the deep-metric-learning
/// convention: 1 if any of the K nearest has label <c>y</c>, else 0.</para>
/// <para>Ties in distance are broken by gallery index (lower first), so results are deterministic.</para>
/// </remarks>
public static class RetrievalMetrics
{
    private const int QueryBlock = 64;
    private const int GalleryTile = 512;

    /// <summary>The K values of the recall@K columns.</summary>
    public static IReadOnlyList<int> RecallKs { get; } = [1, 5, 10];

    /// <summary>Evaluates query embeddings against gallery embeddings by exact search.</summary>
    /// <param name="queries">Query vectors, row after row (<c>queryLabels.Length × dimension</c>).</param>
    /// <param name="queryLabels">One label per query.</param>
    /// <param name="gallery">Gallery vectors, row after row (<c>galleryLabels.Length × dimension</c>).</param>
    /// <param name="galleryLabels">One label per gallery item.</param>
    /// <param name="dimension">Vector length.</param>
    /// <param name="metric">How items are ranked: squared L2 (the Euclidean ranking), cosine (rows L2-normalised, on copies) or inner product (largest first).</param>
    /// <param name="sameSource">The queries are the gallery itself (same order): each query's own row is excluded.</param>
    /// <param name="maxDegreeOfParallelism">Worker threads; -1 for <see cref="Environment.ProcessorCount"/>.</param>
    /// <exception cref="ArgumentException">Lengths disagree, or <paramref name="sameSource"/> with different sets.</exception>
    public static RetrievalMetricsResult Compute(
        ReadOnlySpan<float> queries,
        ReadOnlySpan<int> queryLabels,
        ReadOnlySpan<float> gallery,
        ReadOnlySpan<int> galleryLabels,
        int dimension,
        DistanceMetric metric = DistanceMetric.SquaredL2,
        bool sameSource = false,
        int maxDegreeOfParallelism = -1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        if (queries.Length != (long)queryLabels.Length * dimension)
        {
            throw new ArgumentException($"Expected {queryLabels.Length} × {dimension} = {(long)queryLabels.Length * dimension} query values, got {queries.Length}.", nameof(queries));
        }
        if (gallery.Length != (long)galleryLabels.Length * dimension)
        {
            throw new ArgumentException($"Expected {galleryLabels.Length} × {dimension} = {(long)galleryLabels.Length * dimension} gallery values, got {gallery.Length}.", nameof(gallery));
        }
        if (sameSource && queryLabels.Length != galleryLabels.Length)
        {
            throw new ArgumentException("sameSource needs the queries to be the gallery itself.", nameof(sameSource));
        }

        RequireFinite(queries, nameof(queries));
        RequireFinite(gallery, nameof(gallery));
        float[] q = queries.ToArray();
        float[] g = gallery.ToArray();
        if (!Enum.IsDefined(metric))
        {
            throw new ArgumentOutOfRangeException(nameof(metric), metric, "Unknown distance metric.");
        }
        if (metric == DistanceMetric.Cosine)
        {
            NormalizeRows(q, dimension);
            NormalizeRows(g, dimension);
        }
        int[] qLabels = queryLabels.ToArray();
        int[] gLabels = galleryLabels.ToArray();
        int[] relevant = RelevantCounts(qLabels, gLabels, sameSource);

        // Squared norms of the gallery rows: ||q - g||² = ||q||² - 2 q·g + ||g||², and ||q||² does not change the ranking.
        // For the inner product the norms stay 0: the score -2 q·g ranks the largest inner product first.
        var galleryNorms = new float[gLabels.Length];
        for (int j = 0; j < galleryNorms.Length && metric != DistanceMetric.InnerProduct; j++)
        {
            ReadOnlySpan<float> row = g.AsSpan(j * dimension, dimension);
            galleryNorms[j] = TensorPrimitives.Dot(row, row);
        }

        var totals = new Accumulator();
        int blocks = (qLabels.Length + QueryBlock - 1) / QueryBlock;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism };
        Parallel.For(
            0,
            blocks,
            parallel,
            () => new Workspace(QueryBlock, gLabels.Length),
            (block, _, work) =>
            {
                int start = block * QueryBlock;
                int count = Math.Min(QueryBlock, qLabels.Length - start);
                ScoreBlock(q.AsSpan(start * dimension, count * dimension), g, galleryNorms, dimension, work.Scores);
                for (int i = 0; i < count; i++)
                {
                    int query = start + i;
                    if (relevant[query] == 0)
                    {
                        work.Partial.Skipped++;
                        continue;
                    }
                    Span<float> scores = work.Scores.AsSpan(i * gLabels.Length, gLabels.Length);
                    if (sameSource)
                    {
                        scores[query] = float.PositiveInfinity;
                    }
                    int depth = Math.Max(relevant[query], RecallKs[^1]);
                    int taken = SelectSmallest(scores, Math.Min(depth, gLabels.Length - (sameSource ? 1 : 0)), work.Keys, work.Indices, work.SortKeys);
                    for (int r = 0; r < taken; r++)
                    {
                        work.Ranked[r] = gLabels[work.Indices[r]];
                    }
                    work.Partial.Add(work.Ranked.AsSpan(0, taken), qLabels[query], relevant[query]);
                }
                return work;
            },
            work =>
            {
                lock (totals)
                {
                    totals.Merge(work.Partial);
                }
            });
        return totals.ToResult();
    }

    /// <summary>
    /// Evaluates neighbour lists produced elsewhere (an approximate index, an ONNX model's search).
    /// Each list holds the labels of the retrieved gallery items, nearest first; items past the end of a
    /// short list count as not relevant.
    /// </summary>
    /// <param name="rankedNeighbourLabels">Per query, the labels of its neighbours, nearest first (at least R long for an exact MAP@R).</param>
    /// <param name="queryLabels">One label per query.</param>
    /// <param name="relevantCounts">Per query, R: the number of gallery items sharing its label. Queries with R = 0 are skipped.</param>
    /// <exception cref="ArgumentException">The three inputs have different lengths.</exception>
    public static RetrievalMetricsResult ComputeFromNeighbours(
        IReadOnlyList<int[]> rankedNeighbourLabels,
        ReadOnlySpan<int> queryLabels,
        ReadOnlySpan<int> relevantCounts)
    {
        ArgumentNullException.ThrowIfNull(rankedNeighbourLabels);
        if (rankedNeighbourLabels.Count != queryLabels.Length || relevantCounts.Length != queryLabels.Length)
        {
            throw new ArgumentException(
                $"Expected one neighbour list and one R per query: {queryLabels.Length} queries, {rankedNeighbourLabels.Count} lists, {relevantCounts.Length} counts.",
                nameof(rankedNeighbourLabels));
        }
        var totals = new Accumulator();
        for (int i = 0; i < queryLabels.Length; i++)
        {
            if (relevantCounts[i] <= 0)
            {
                totals.Skipped++;
                continue;
            }
            totals.Add(rankedNeighbourLabels[i], queryLabels[i], relevantCounts[i]);
        }
        return totals.ToResult();
    }

    /// <summary>Per query, R: how many gallery items share its label (excluding itself when <paramref name="sameSource"/>).</summary>
    public static int[] RelevantCounts(ReadOnlySpan<int> queryLabels, ReadOnlySpan<int> galleryLabels, bool sameSource = false)
    {
        var perLabel = new Dictionary<int, int>();
        foreach (int label in galleryLabels)
        {
            perLabel[label] = perLabel.GetValueOrDefault(label) + 1;
        }
        var counts = new int[queryLabels.Length];
        for (int i = 0; i < counts.Length; i++)
        {
            counts[i] = Math.Max(0, perLabel.GetValueOrDefault(queryLabels[i]) - (sameSource ? 1 : 0));
        }
        return counts;
    }

    private static void RequireFinite(ReadOnlySpan<float> values, string name)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                throw new ArgumentException($"Embedding value {i} is {values[i]}; every value must be finite.", name);
            }
        }
    }

    private static void NormalizeRows(float[] values, int dimension)
    {
        for (int offset = 0; offset < values.Length; offset += dimension)
        {
            Span<float> row = values.AsSpan(offset, dimension);
            float norm = TensorPrimitives.Norm(row);
            if (norm > 0)
            {
                TensorPrimitives.Divide(row, norm, row);
            }
        }
    }

    // scores[i * n + j] = ||g_j||² - 2 q_i·g_j for a block of queries, tiled over the gallery so a tile
    // stays in cache while every query of the block passes over it.
    private static void ScoreBlock(ReadOnlySpan<float> queryBlock, float[] gallery, float[] galleryNorms, int dimension, float[] scores)
    {
        int n = galleryNorms.Length;
        int count = queryBlock.Length / dimension;
        bool vectorised = Vector256.IsHardwareAccelerated && dimension % Vector256<float>.Count == 0;
        for (int tile = 0; tile < n; tile += GalleryTile)
        {
            int tileEnd = Math.Min(n, tile + GalleryTile);
            int i = 0;
            if (vectorised)
            {
                for (; i + 4 <= count; i += 4)
                {
                    ScoreTile4(queryBlock.Slice(i * dimension, 4 * dimension), gallery, galleryNorms, dimension, scores.AsSpan(i * n, 4 * n), n, tile, tileEnd);
                }
            }
            for (; i < count; i++)
            {
                ReadOnlySpan<float> query = queryBlock.Slice(i * dimension, dimension);
                Span<float> row = scores.AsSpan(i * n, n);
                for (int j = tile; j < tileEnd; j++)
                {
                    row[j] = galleryNorms[j] - 2f * TensorPrimitives.Dot(query, gallery.AsSpan(j * dimension, dimension));
                }
            }
        }
    }

    // Register-blocked kernel: 4 queries × 2 gallery rows per step, 8 accumulators, each gallery load used 4 times.
    private static void ScoreTile4(ReadOnlySpan<float> queries, float[] gallery, float[] galleryNorms, int dimension, Span<float> scores, int n, int tile, int tileEnd)
    {
        ref float q0 = ref MemoryMarshal.GetReference(queries);
        ref float q1 = ref Unsafe.Add(ref q0, dimension);
        ref float q2 = ref Unsafe.Add(ref q1, dimension);
        ref float q3 = ref Unsafe.Add(ref q2, dimension);
        ref float galleryBase = ref MemoryMarshal.GetArrayDataReference(gallery);
        int step = Vector256<float>.Count;
        int j = tile;
        for (; j + 2 <= tileEnd; j += 2)
        {
            ref float g0 = ref Unsafe.Add(ref galleryBase, (nint)j * dimension);
            ref float g1 = ref Unsafe.Add(ref g0, dimension);
            Vector256<float> a00 = default, a01 = default, a10 = default, a11 = default;
            Vector256<float> a20 = default, a21 = default, a30 = default, a31 = default;
            for (int k = 0; k < dimension; k += step)
            {
                var v0 = Vector256.LoadUnsafe(ref g0, (nuint)k);
                var v1 = Vector256.LoadUnsafe(ref g1, (nuint)k);
                var u = Vector256.LoadUnsafe(ref q0, (nuint)k);
                a00 = Vector256.MultiplyAddEstimate(u, v0, a00);
                a01 = Vector256.MultiplyAddEstimate(u, v1, a01);
                u = Vector256.LoadUnsafe(ref q1, (nuint)k);
                a10 = Vector256.MultiplyAddEstimate(u, v0, a10);
                a11 = Vector256.MultiplyAddEstimate(u, v1, a11);
                u = Vector256.LoadUnsafe(ref q2, (nuint)k);
                a20 = Vector256.MultiplyAddEstimate(u, v0, a20);
                a21 = Vector256.MultiplyAddEstimate(u, v1, a21);
                u = Vector256.LoadUnsafe(ref q3, (nuint)k);
                a30 = Vector256.MultiplyAddEstimate(u, v0, a30);
                a31 = Vector256.MultiplyAddEstimate(u, v1, a31);
            }
            float n0 = galleryNorms[j];
            float n1 = galleryNorms[j + 1];
            scores[j] = n0 - 2f * Vector256.Sum(a00);
            scores[j + 1] = n1 - 2f * Vector256.Sum(a01);
            scores[n + j] = n0 - 2f * Vector256.Sum(a10);
            scores[n + j + 1] = n1 - 2f * Vector256.Sum(a11);
            scores[2 * n + j] = n0 - 2f * Vector256.Sum(a20);
            scores[2 * n + j + 1] = n1 - 2f * Vector256.Sum(a21);
            scores[3 * n + j] = n0 - 2f * Vector256.Sum(a30);
            scores[3 * n + j + 1] = n1 - 2f * Vector256.Sum(a31);
        }
        for (; j < tileEnd; j++)
        {
            ReadOnlySpan<float> g = gallery.AsSpan(j * dimension, dimension);
            for (int r = 0; r < 4; r++)
            {
                scores[r * n + j] = galleryNorms[j] - 2f * TensorPrimitives.Dot(queries.Slice(r * dimension, dimension), g);
            }
        }
    }

    // Puts the `take` smallest scores' indices, sorted ascending (ties by index), into indices[0..take).
    private static int SelectSmallest(Span<float> scores, int take, float[] keys, int[] indices, long[] sortKeys)
    {
        if (take <= 0)
        {
            return 0;
        }
        // Threshold by partial selection on a copy, then gather and sort the survivors.
        Span<float> copy = keys.AsSpan(0, scores.Length);
        scores.CopyTo(copy);
        float threshold = take >= scores.Length ? float.PositiveInfinity : QuickSelect(copy, take - 1);
        int found = 0;
        int ties = 0;
        for (int j = 0; j < scores.Length; j++)
        {
            if (scores[j] < threshold)
            {
                indices[found++] = j;
            }
            else if (scores[j] == threshold)
            {
                ties++;
            }
        }
        // Equal-to-threshold items fill the remaining places in index order.
        for (int j = 0; j < scores.Length && found < take && ties > 0; j++)
        {
            if (scores[j] == threshold)
            {
                indices[found++] = j;
            }
        }
        // Sort by (score, index): the float's order-preserving integer in the high half, the index in the low half.
        Span<long> order = sortKeys.AsSpan(0, found);
        for (int r = 0; r < found; r++)
        {
            int bits = BitConverter.SingleToInt32Bits(scores[indices[r]]);
            long sortable = bits < 0 ? bits ^ 0x7FFFFFFF : bits;
            order[r] = (sortable << 32) | (uint)indices[r];
        }
        order.Sort();
        for (int r = 0; r < found; r++)
        {
            indices[r] = (int)(order[r] & 0xFFFFFFFF);
        }
        return found;
    }

    // k-th smallest (0-based) of values; reorders values.
    private static float QuickSelect(Span<float> values, int k)
    {
        int left = 0;
        int right = values.Length - 1;
        uint state = 2463534242;
        while (left < right)
        {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            float pivot = values[left + (int)(state % (uint)(right - left + 1))];
            int i = left;
            int j = right;
            while (i <= j)
            {
                while (values[i] < pivot)
                {
                    i++;
                }
                while (values[j] > pivot)
                {
                    j--;
                }
                if (i <= j)
                {
                    (values[i], values[j]) = (values[j], values[i]);
                    i++;
                    j--;
                }
            }
            if (k <= j)
            {
                right = j;
            }
            else if (k >= i)
            {
                left = i;
            }
            else
            {
                return values[k];
            }
        }
        return values[k];
    }

    private sealed class Workspace
    {
        public Workspace(int queries, int gallery)
        {
            Scores = new float[queries * gallery];
            Keys = new float[gallery];
            Indices = new int[gallery];
            Ranked = new int[gallery];
            SortKeys = new long[gallery];
        }

        public long[] SortKeys { get; }

        public float[] Scores { get; }

        public float[] Keys { get; }

        public int[] Indices { get; }

        public int[] Ranked { get; }

        public Accumulator Partial { get; } = new();
    }

    private sealed class Accumulator
    {
        private double _precisionAt1;
        private readonly double[] _recall = new double[RecallKs.Count];
        private double _map;
        private int _queries;

        public int Skipped { get; set; }

        public void Add(ReadOnlySpan<int> ranked, int label, int relevant)
        {
            _queries++;
            if (ranked.Length > 0 && ranked[0] == label)
            {
                _precisionAt1++;
            }
            for (int k = 0; k < RecallKs.Count; k++)
            {
                int limit = Math.Min(RecallKs[k], ranked.Length);
                if (ranked[..limit].Contains(label))
                {
                    _recall[k]++;
                }
            }
            int depth = Math.Min(relevant, ranked.Length);
            double sum = 0;
            int hits = 0;
            for (int i = 0; i < depth; i++)
            {
                if (ranked[i] == label)
                {
                    hits++;
                    sum += (double)hits / (i + 1);
                }
            }
            _map += sum / relevant;
        }

        public void Merge(Accumulator other)
        {
            _precisionAt1 += other._precisionAt1;
            for (int k = 0; k < _recall.Length; k++)
            {
                _recall[k] += other._recall[k];
            }
            _map += other._map;
            _queries += other._queries;
            Skipped += other.Skipped;
        }

        public RetrievalMetricsResult ToResult()
        {
            double n = Math.Max(1, _queries);
            return new RetrievalMetricsResult(
                _precisionAt1 / n, _recall[0] / n, _recall[1] / n, _recall[2] / n, _map / n, _queries, Skipped);
        }
    }
}
