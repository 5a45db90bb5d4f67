using ImageRetrieval.ML.Indexing;

namespace ImageRetrieval.ML.Tests.Indexing;

/// <summary>What <see cref="IVectorIndex"/> promises, checked against every implementation.</summary>
public class VectorIndexContractTests
{
    public static TheoryData<string> Indexes => new() { nameof(HnswIndex), nameof(BruteForceIndex) };

    private static IVectorIndex Create(string kind) => kind switch
    {
        nameof(HnswIndex) => new HnswIndex(4, DistanceMetric.SquaredL2),
        _ => new BruteForceIndex(4, DistanceMetric.SquaredL2),
    };

    [Theory]
    [MemberData(nameof(Indexes))]
    public void Vectors_holding_NaN_or_an_infinity_are_refused_and_leave_the_index_unchanged(string kind)
    {
        using IVectorIndex index = Create(kind);
        index.Add(1, [1, 2, 3, 4]);
        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            var error = Assert.Throws<ArgumentException>(() => index.Add(2, [0, bad, 0, 0]));
            Assert.Contains("finite", error.Message, StringComparison.Ordinal);
            Assert.Throws<ArgumentException>(() => index.Add(1, [bad, 0, 0, 0]));   // an update of a live key too
            Assert.Throws<ArgumentException>(() => index.AddRange([(3, new float[] { 0, 0, 0, bad })]));
        }
        Assert.Equal(1, index.Count);
        Assert.False(index.Contains(2));
        Assert.False(index.Contains(3));
        SearchHit hit = Assert.Single(index.Search([1, 2, 3, 4], 5));
        Assert.Equal(1, hit.Key);
        Assert.Equal(0f, hit.Distance);   // key 1 still holds its original vector
    }

    [Theory]
    [MemberData(nameof(Indexes))]
    public void Vectors_of_the_wrong_length_are_refused(string kind)
    {
        using IVectorIndex index = Create(kind);
        Assert.Throws<ArgumentException>(() => index.Add(1, [1, 2, 3]));
        Assert.Equal(0, index.Count);
    }
}
