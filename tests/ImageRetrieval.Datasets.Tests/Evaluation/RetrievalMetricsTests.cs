using CsCheck;
using ImageRetrieval.Datasets.Evaluation;
using ImageRetrieval.ML.Indexing;

namespace ImageRetrieval.Datasets.Tests.Evaluation;

public class RetrievalMetricsTests
{
    [Fact]
    public void Map_at_r_matches_the_worked_example()
    {
        // pytorch-metric-learning's docs example: R = 10, relevant at ranks 1, 3, 4 →
        // MAP@R = (1/10)(1/1 + 2/3 + 3/4) = 0.241666…
        int[] ranked = [7, 0, 7, 7, 0, 0, 0, 0, 0, 0];
        var result = RetrievalMetrics.ComputeFromNeighbours([ranked], [7], [10]);
        Assert.Equal((1 + 2.0 / 3 + 3.0 / 4) / 10, result.MapAtR, 12);
        Assert.Equal(1, result.PrecisionAt1);
        Assert.Equal(1, result.RecallAt5);
    }

    [Fact]
    public void Exact_search_on_a_tiny_gallery_gives_hand_computed_values()
    {
        // 1-D points: gallery 0,1 (label 0), 10, 11 (label 1). Query 0.4 (label 0): ranking 0,1,10,11 → perfect.
        // Query 5.4 (label 1): ranking 1 (label 0), 0? no: distances 4.4,5.4 vs 4.6,5.6 → 1,10,0,11 → labels 0,1,0,1.
        float[] gallery = [0, 1, 10, 11];
        int[] galleryLabels = [0, 0, 1, 1];
        float[] queries = [0.4f, 5.4f];
        int[] queryLabels = [0, 1];
        var result = RetrievalMetrics.Compute(queries, queryLabels, gallery, galleryLabels, 1);
        Assert.Equal(0.5, result.PrecisionAt1, 12);
        // Query 2: R = 2, ranked labels 0,1 → (1/2)(1/2) = 0.25. Mean (1 + 0.25)/2.
        Assert.Equal((1 + 0.25) / 2, result.MapAtR, 12);
        Assert.Equal(1, result.RecallAt5, 12);
        Assert.Equal(2, result.QueryCount);
    }

    [Fact]
    public void Compute_agrees_with_a_naive_full_sort_reference()
    {
        Gen.Select(Gen.Int[0, 4].Select(i => new[] { 1, 3, 8, 16, 24 }[i]), Gen.Int[1, 40], Gen.Int[1, 80], Gen.Int[2, 5], Gen.Int)
            .Sample((dimension, queryCount, galleryCount, classes, seed) =>
            {
                var random = new Random(seed);
                float[] queries = Values(random, queryCount * dimension);
                float[] gallery = Values(random, galleryCount * dimension);
                int[] queryLabels = Labels(random, queryCount, classes);
                int[] galleryLabels = Labels(random, galleryCount, classes);
                var fast = RetrievalMetrics.Compute(queries, queryLabels, gallery, galleryLabels, dimension, maxDegreeOfParallelism: 2);
                var reference = Naive(queries, queryLabels, gallery, galleryLabels, dimension, sameSource: false);
                AssertClose(reference, fast);
            }, iter: 200);
    }

    [Fact]
    public void Same_source_evaluation_leaves_each_query_out_of_its_own_ranking()
    {
        var random = new Random(3);
        const int n = 300, d = 16;
        float[] vectors = Values(random, n * d);
        int[] labels = Labels(random, n, 4);
        var fast = RetrievalMetrics.Compute(vectors, labels, vectors, labels, d, sameSource: true);
        var reference = Naive(vectors, labels, vectors, labels, d, sameSource: true);
        AssertClose(reference, fast);
        Assert.True(fast.PrecisionAt1 < 1, "a query must not find itself");
    }

    [Fact]
    public void Many_small_classes_agree_with_the_reference_on_coarse_and_fine_values()
    {
        // 40 classes over 3,000 gallery items: R ≈ 75, a small fraction of the gallery, as in real collections.
        var random = new Random(9);
        const int d = 8;
        float[] queries = Values(random, 120 * d);
        float[] gallery = Values(random, 3000 * d);
        int[] queryLabels = Labels(random, 120, 40);
        int[] galleryLabels = Labels(random, 3000, 40);
        AssertClose(
            Naive(queries, queryLabels, gallery, galleryLabels, d, sameSource: false),
            RetrievalMetrics.Compute(queries, queryLabels, gallery, galleryLabels, d));
        float[] fine = queries.Select(v => v + (float)random.NextDouble()).ToArray();
        float[] fineGallery = gallery.Select(v => v + (float)random.NextDouble()).ToArray();
        AssertClose(
            Naive(fine, queryLabels, fineGallery, galleryLabels, d, sameSource: false),
            RetrievalMetrics.Compute(fine, queryLabels, fineGallery, galleryLabels, d));
    }

    [Fact]
    public void Neighbour_lists_give_the_same_result_as_exact_search()
    {
        var random = new Random(5);
        const int d = 4;
        float[] queries = Values(random, 50 * d);
        float[] gallery = Values(random, 200 * d);
        int[] queryLabels = Labels(random, 50, 3);
        int[] galleryLabels = Labels(random, 200, 3);
        int[] r = RetrievalMetrics.RelevantCounts(queryLabels, galleryLabels);
        var lists = new List<int[]>();
        for (int i = 0; i < 50; i++)
        {
            lists.Add(Ranking(queries.AsSpan(i * d, d), gallery, d, -1).Select(j => galleryLabels[j]).ToArray());
        }
        AssertClose(RetrievalMetrics.ComputeFromNeighbours(lists, queryLabels, r), RetrievalMetrics.Compute(queries, queryLabels, gallery, galleryLabels, d));
    }

    [Fact]
    public void Cosine_ignores_vector_length()
    {
        float[] gallery = [1, 0, 0, 10, 10, 10];
        int[] galleryLabels = [0, 1, 2];
        float[] queries = [0.1f, 1f];
        var cosine = RetrievalMetrics.Compute(queries, [1], gallery, galleryLabels, 2, DistanceMetric.Cosine);
        var euclidean = RetrievalMetrics.Compute(queries, [1], gallery, galleryLabels, 2, DistanceMetric.SquaredL2);
        Assert.Equal(1, cosine.PrecisionAt1);
        Assert.Equal(0, euclidean.PrecisionAt1);
    }

    [Fact]
    public void Inner_product_ranks_the_largest_dot_product_first()
    {
        // Query (1, 0): the largest dot product is 2 (label 0, the query's); the nearest in L2 is (0.9, 0.1) (label 1).
        float[] gallery = [2, 0, 0.9f, 0.1f, 0, 1];
        int[] galleryLabels = [0, 1, 2];
        float[] queries = [1, 0];
        Assert.Equal(1, RetrievalMetrics.Compute(queries, [0], gallery, galleryLabels, 2, DistanceMetric.InnerProduct).PrecisionAt1);
        Assert.Equal(0, RetrievalMetrics.Compute(queries, [0], gallery, galleryLabels, 2, DistanceMetric.SquaredL2).PrecisionAt1);
        Assert.Throws<ArgumentOutOfRangeException>(() => RetrievalMetrics.Compute(queries, [0], gallery, galleryLabels, 2, (DistanceMetric)7));
    }

    [Fact]
    public void Bad_inputs_are_rejected_and_labels_missing_from_the_gallery_are_skipped()
    {
        Assert.Throws<ArgumentException>(() => RetrievalMetrics.Compute(new float[5], [0, 1], new float[4], [0, 1], 2));
        Assert.Throws<ArgumentException>(() => RetrievalMetrics.Compute([float.NaN, 0], [0], [0, 0], [0], 2));
        Assert.Throws<ArgumentException>(() => RetrievalMetrics.ComputeFromNeighbours([[0]], [0, 1], [1, 1]));
        var result = RetrievalMetrics.Compute([0f, 1f], [0, 9], [0f, 1f], [0, 0], 1);
        Assert.Equal(1, result.QueryCount);
        Assert.Equal(1, result.SkippedQueries);
    }

    private static void AssertClose(RetrievalMetricsResult expected, RetrievalMetricsResult actual)
    {
        Assert.Equal(expected.QueryCount, actual.QueryCount);
        Assert.Equal(expected.PrecisionAt1, actual.PrecisionAt1, 9);
        Assert.Equal(expected.RecallAt5, actual.RecallAt5, 9);
        Assert.Equal(expected.RecallAt10, actual.RecallAt10, 9);
        Assert.Equal(expected.MapAtR, actual.MapAtR, 9);
    }

    private static RetrievalMetricsResult Naive(float[] queries, int[] queryLabels, float[] gallery, int[] galleryLabels, int d, bool sameSource)
    {
        var lists = new List<int[]>();
        int[] r = RetrievalMetrics.RelevantCounts(queryLabels, galleryLabels, sameSource);
        for (int i = 0; i < queryLabels.Length; i++)
        {
            lists.Add(Ranking(queries.AsSpan(i * d, d), gallery, d, sameSource ? i : -1).Select(j => galleryLabels[j]).ToArray());
        }
        return RetrievalMetrics.ComputeFromNeighbours(lists, queryLabels, r);
    }

    // Full stable sort by squared distance computed the same way as the library (‖g‖² − 2 q·g), ties by index.
    private static int[] Ranking(ReadOnlySpan<float> query, float[] gallery, int d, int exclude)
    {
        int n = gallery.Length / d;
        var scores = new (float Score, int Index)[n];
        for (int j = 0; j < n; j++)
        {
            ReadOnlySpan<float> g = gallery.AsSpan(j * d, d);
            scores[j] = (System.Numerics.Tensors.TensorPrimitives.Dot(g, g) - 2f * System.Numerics.Tensors.TensorPrimitives.Dot(query, g), j);
        }
        return scores.Where(s => s.Index != exclude).OrderBy(s => s.Score).ThenBy(s => s.Index).Select(s => s.Index).ToArray();
    }

    // Coarse values so that ties happen and the tie rule is exercised.
    private static float[] Values(Random random, int count) => Enumerable.Range(0, count).Select(_ => (float)random.Next(-3, 4)).ToArray();

    private static int[] Labels(Random random, int count, int classes) => Enumerable.Range(0, count).Select(_ => random.Next(classes)).ToArray();
}
