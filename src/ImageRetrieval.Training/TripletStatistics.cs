using ImageRetrieval.Training.Mining;

namespace ImageRetrieval.Training;

/// <summary>
/// What the embeddings of the training batches look like, averaged over an epoch's batches: signals that tell
/// learning from failure whatever the miner (with batch-all mining the loss stays near the margin and every mined
/// triplet is active by construction, learning or not). Every valid triplet of a batch counts here — anchor and
/// positive of one class, negative of another — not only the mined ones.
/// </summary>
/// <param name="ViolatingFraction">Share of all valid triplets inside the margin (<c>d(a,n) &lt; d(a,p) + margin</c>): falls as the network learns.</param>
/// <param name="WrongOrderFraction">Share of all valid triplets whose negative is closer than the positive (<c>d(a,n) &lt; d(a,p)</c>): the batch's ranking error; about 0.5 for random or collapsed embeddings.</param>
/// <param name="MeanPositiveDistance">Mean distance between images of one class.</param>
/// <param name="MeanNegativeDistance">Mean distance between images of different classes.</param>
/// <param name="Spread">
/// Root-mean-square distance of the (unit-length) embeddings from their batch mean, in 0–1: near 1 when they are
/// spread over the sphere, 0 when they have collapsed to one point (<see cref="TrainingOptions.CollapseSpread"/>).
/// </param>
public sealed record TripletStatistics(
    double ViolatingFraction,
    double WrongOrderFraction,
    double MeanPositiveDistance,
    double MeanNegativeDistance,
    double Spread)
{
    /// <summary>Mean negative minus mean positive distance: grows as classes separate.</summary>
    public double DistanceGap => MeanNegativeDistance - MeanPositiveDistance;
}

/// <summary>Measures <see cref="TripletStatistics"/> from batches' distance matrices and averages them over an epoch.</summary>
internal sealed class TripletStatisticsAccumulator(float margin, TripletDistance distance)
{
    private double _violating, _wrongOrder, _positive, _negative, _spread;
    private int _batches;

    /// <summary>Batches measured.</summary>
    public int Batches => _batches;

    /// <summary>Adds one batch: its row-major <c>[n, n]</c> distance matrix and the labels of its rows.</summary>
    public void Add(ReadOnlySpan<float> distances, ReadOnlySpan<int> labels)
    {
        if (Measure(distances, labels, margin, distance) is not { } batch)
        {
            return;
        }
        _violating += batch.ViolatingFraction;
        _wrongOrder += batch.WrongOrderFraction;
        _positive += batch.MeanPositiveDistance;
        _negative += batch.MeanNegativeDistance;
        _spread += batch.Spread;
        _batches++;
    }

    /// <summary>The mean over the batches added, or <see langword="null"/> if none held a valid triplet.</summary>
    public TripletStatistics? Mean() => _batches == 0
        ? null
        : new TripletStatistics(_violating / _batches, _wrongOrder / _batches, _positive / _batches, _negative / _batches, _spread / _batches);

    /// <summary>
    /// The statistics of one batch, or <see langword="null"/> when it holds no valid triplet. Per anchor the negative
    /// distances are sorted once and every positive distance is located among them by binary search:
    /// O(n² log n) instead of the O(n³) of enumerating triplets.
    /// </summary>
    public static TripletStatistics? Measure(ReadOnlySpan<float> distances, ReadOnlySpan<int> labels, float margin, TripletDistance distance)
    {
        int n = labels.Length;
        if (distances.Length != n * n)
        {
            throw new ArgumentException($"Expected a {n}x{n} distance matrix ({n * n} values), got {distances.Length} values.", nameof(distances));
        }
        long triplets = 0, violating = 0, wrongOrder = 0, positivePairs = 0, negativePairs = 0;
        double positiveSum = 0, negativeSum = 0, squaredEuclideanSum = 0;
        var negatives = new float[n];
        var positives = new float[n];
        for (int a = 0; a < n; a++)
        {
            ReadOnlySpan<float> row = distances.Slice(a * n, n);
            int p = 0, q = 0;
            for (int j = 0; j < n; j++)
            {
                if (j == a)
                {
                    continue;
                }
                float d = row[j];
                // Unit vectors: |x − y|² = 2 − 2·cos = d² (Euclidean) or 2·d (cosine distance 1 − cos).
                squaredEuclideanSum += distance == TripletDistance.Cosine ? 2.0 * d : (double)d * d;
                if (labels[j] == labels[a])
                {
                    positives[p++] = d;
                    positiveSum += d;
                }
                else
                {
                    negatives[q++] = d;
                    negativeSum += d;
                }
            }
            positivePairs += p;
            negativePairs += q;
            if (p == 0 || q == 0)
            {
                continue;
            }
            Span<float> sorted = negatives.AsSpan(0, q);
            sorted.Sort();
            for (int i = 0; i < p; i++)
            {
                wrongOrder += CountBelow(sorted, positives[i]);
                violating += CountBelow(sorted, positives[i] + margin);
            }
            triplets += (long)p * q;
        }
        if (triplets == 0)
        {
            return null;
        }
        // Mean squared distance over ordered pairs i ≠ j is twice the mean squared distance from the centroid
        // (times n/(n−1)); spread is the root of the latter.
        double meanSquared = squaredEuclideanSum / ((double)n * (n - 1));
        double spread = Math.Sqrt(Math.Max(0, meanSquared * (n - 1) / n / 2));
        return new TripletStatistics(
            (double)violating / triplets,
            (double)wrongOrder / triplets,
            positiveSum / positivePairs,
            negativeSum / negativePairs,
            Math.Min(1, spread));
    }

    /// <summary>A batch's <c>[n, n]</c> distance matrix copied out of libtorch, without its autograd history.</summary>
    public static float[] ToArray(TorchSharp.torch.Tensor distances)
    {
        using var detached = distances.detach().contiguous();
        return detached.data<float>().ToArray();
    }

    // Values of the ascending span strictly below the threshold.
    private static int CountBelow(ReadOnlySpan<float> ascending, float threshold)
    {
        int low = 0, high = ascending.Length;
        while (low < high)
        {
            int mid = (low + high) >>> 1;
            if (ascending[mid] < threshold)
            {
                low = mid + 1;
            }
            else
            {
                high = mid;
            }
        }
        return low;
    }
}
