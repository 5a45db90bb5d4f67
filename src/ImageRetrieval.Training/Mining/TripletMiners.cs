using ImageRetrieval.Training.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Mining;

/// <summary>Triplets as three index vectors into the batch (<c>long</c> tensors of equal length).</summary>
/// <param name="Anchors">Anchor positions.</param>
/// <param name="Positives">Positive positions (same label as the anchor, not the anchor).</param>
/// <param name="Negatives">Negative positions (another label).</param>
internal sealed record TripletIndices(Tensor Anchors, Tensor Positives, Tensor Negatives)
{
    /// <summary>Number of triplets.</summary>
    public long Count => Anchors.shape[0];
}

/// <summary>Chooses triplets from one batch's pairwise distance matrix.</summary>
internal interface ITripletMiner
{
    /// <summary>Mines triplets; no gradient flows through mining.</summary>
    /// <param name="distances">The <c>[B, B]</c> distance matrix (detached or not; it is not modified).</param>
    /// <param name="labels">The <c>[B]</c> labels (<c>long</c>).</param>
    TripletIndices Mine(Tensor distances, Tensor labels);
}

/// <summary>Creates the miners.</summary>
internal static class TripletMiners
{
    /// <summary>A miner for <paramref name="strategy"/>.</summary>
    /// <param name="strategy">Which triplets to choose.</param>
    /// <param name="margin">The loss margin; batch-all keeps the triplets that violate it.</param>
    /// <param name="generator">Random source for <see cref="TripletMiningStrategy.RandomInBatch"/>; <see langword="null"/> uses torch's global generator.</param>
    public static ITripletMiner Create(TripletMiningStrategy strategy, float margin, Generator? generator = null) => strategy switch
    {
        TripletMiningStrategy.Random => new RandomTripletMiner(),
        TripletMiningStrategy.RandomInBatch => new RandomInBatchMiner(generator),
        TripletMiningStrategy.BatchHard => new BatchHardMiner(),
        TripletMiningStrategy.BatchAll => new BatchAllMiner(margin),
        TripletMiningStrategy.SemiHard => new SemiHardMiner(),
        _ => throw new ArgumentOutOfRangeException(nameof(strategy), strategy, "Unknown mining strategy."),
    };

    /// <summary>Positive-pair mask (same label, off the diagonal) and negative mask (different label), both <c>[B, B]</c> bool.</summary>
    internal static (Tensor Positive, Tensor Negative) Masks(Tensor labels)
    {
        using var scope = torch.NewDisposeScope();
        var same = labels.unsqueeze(1).eq(labels.unsqueeze(0));
        var eye = torch.eye(labels.shape[0], dtype: ScalarType.Bool, device: labels.device);
        var positive = same.logical_and(eye.logical_not());
        var negative = same.logical_not();
        return (positive.MoveToOuterDisposeScope(), negative.MoveToOuterDisposeScope());
    }

    /// <summary>Moves the three index tensors out of the current dispose scope.</summary>
    internal static TripletIndices Outlive(TripletIndices t) =>
        new(t.Anchors.MoveToOuterDisposeScope(), t.Positives.MoveToOuterDisposeScope(), t.Negatives.MoveToOuterDisposeScope());

    internal static TripletIndices Empty(Device device)
    {
        var empty = torch.empty(0, dtype: ScalarType.Int64, device: device);
        return new TripletIndices(empty, empty.alias(), empty.alias());
    }
}

/// <summary>
/// The shared frame of every miner: argument checks, no gradient, a dispose scope, the detached
/// distances and the label masks; subclasses only choose the triplets.
/// </summary>
internal abstract class TripletMinerBase : ITripletMiner
{
    /// <inheritdoc />
    public TripletIndices Mine(Tensor distances, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(distances);
        ArgumentNullException.ThrowIfNull(labels);
        using var _ = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var (positive, negative) = TripletMiners.Masks(labels);
        return TripletMiners.Outlive(Mine(distances.detach(), positive, negative));
    }

    /// <summary>Chooses triplets; runs under <c>no_grad</c> inside a dispose scope the result is moved out of.</summary>
    /// <param name="distances">The detached <c>[B, B]</c> distances.</param>
    /// <param name="positive">Same label, off the diagonal (<c>[B, B]</c> bool).</param>
    /// <param name="negative">Different label (<c>[B, B]</c> bool).</param>
    protected abstract TripletIndices Mine(Tensor distances, Tensor positive, Tensor negative);

    /// <summary>Anchors that have at least one positive and one negative in the batch.</summary>
    protected static Tensor ValidAnchors(Tensor positive, Tensor negative) =>
        positive.any(1).logical_and(negative.any(1)).nonzero().flatten();
}

/// <summary>The miner of <see cref="TripletMiningStrategy.RandomInBatch"/>: per anchor, one positive and one negative drawn uniformly from the batch.</summary>
internal sealed class RandomInBatchMiner(Generator? generator = null) : TripletMinerBase
{
    /// <inheritdoc />
    protected override TripletIndices Mine(Tensor distances, Tensor positive, Tensor negative)
    {
        var anchors = ValidAnchors(positive, negative);
        if (anchors.shape[0] == 0)
        {
            return TripletMiners.Empty(distances.device);
        }
        var p = torch.multinomial(positive.index_select(0, anchors).to_type(ScalarType.Float32), 1, generator: generator).flatten();
        var n = torch.multinomial(negative.index_select(0, anchors).to_type(ScalarType.Float32), 1, generator: generator).flatten();
        return new TripletIndices(anchors, p, n);
    }
}

/// <summary>Per anchor, the farthest positive and the closest negative.</summary>
internal sealed class BatchHardMiner : TripletMinerBase
{
    /// <inheritdoc />
    protected override TripletIndices Mine(Tensor distances, Tensor positive, Tensor negative)
    {
        var anchors = ValidAnchors(positive, negative);
        var hardestPositive = distances.FilledWhere(positive.logical_not(), double.NegativeInfinity).argmax(1);
        var hardestNegative = distances.FilledWhere(negative.logical_not(), double.PositiveInfinity).argmin(1);
        return new TripletIndices(anchors, hardestPositive.index_select(0, anchors), hardestNegative.index_select(0, anchors));
    }
}

/// <summary>
/// All valid triplets with <c>d(a,p) − d(a,n) + margin &gt; 0</c>. Works on a <c>[B, Pmax, B]</c> block
/// (anchor, its j-th positive, negative) rather than <c>[B, B, B]</c>: with P×K batches that is K−1
/// positives per anchor instead of B, about P times less memory traffic.
/// </summary>
internal sealed class BatchAllMiner(float margin) : TripletMinerBase
{
    /// <inheritdoc />
    protected override TripletIndices Mine(Tensor distances, Tensor positive, Tensor negative)
    {
        long maxPositives = positive.sum(1).max().item<long>();
        if (maxPositives == 0)
        {
            return TripletMiners.Empty(distances.device);
        }
        // Each anchor's positives first (mask value 1), padding after (value 0).
        var (flags, positiveIndex) = positive.to_type(ScalarType.Float32).topk((int)maxPositives, dim: 1);   // [B, Pmax]
        var dap = distances.gather(1, positiveIndex);                                                      // [B, Pmax]
        var violation = (dap.unsqueeze(2) - distances.unsqueeze(1)).PlusInPlace(margin).GreaterThan(0);       // [B, Pmax, B]
        var valid = flags.GreaterThan(0).unsqueeze(2).logical_and(negative.unsqueeze(1)).logical_and(violation);
        var triplets = valid.nonzero();                                                                    // [T, 3]: a, j, n
        var a = triplets[.., 0].contiguous();
        var p = positiveIndex.flatten().index_select(0, a.Times(maxPositives).Plus(triplets[.., 1]));
        return new TripletIndices(a, p, triplets[.., 2].contiguous());
    }
}

/// <summary>
/// Per anchor–positive pair, the closest negative with <c>d(a,n) &gt; d(a,p)</c>; if there is none, the
/// farthest negative (TensorFlow Addons' <c>triplet_semihard_loss</c> rule).
/// </summary>
internal sealed class SemiHardMiner : TripletMinerBase
{
    /// <inheritdoc />
    protected override TripletIndices Mine(Tensor distances, Tensor positive, Tensor negative)
    {
        var d = distances;
        var hasNegative = negative.any(1);
        var pairs = positive.logical_and(hasNegative.unsqueeze(1)).nonzero();
        if (pairs.shape[0] == 0)
        {
            return TripletMiners.Empty(d.device);
        }
        var a = pairs[.., 0].contiguous();
        var p = pairs[.., 1].contiguous();
        var rows = d.index_select(0, a);                       // [P, B]
        var dap = d.flatten().index_select(0, a.Times(d.shape[1]).Plus(p)).unsqueeze(1);
        var negativeRows = negative.index_select(0, a);
        var outside = negativeRows.logical_and(rows.gt(dap));
        var closestOutside = rows.FilledWhere(outside.logical_not(), double.PositiveInfinity).argmin(1);
        var farthest = rows.FilledWhere(negativeRows.logical_not(), double.NegativeInfinity).argmax(1);
        var n = torch.where(outside.any(1), closestOutside, farthest);
        return new TripletIndices(a, p, n);
    }
}

/// <summary>
/// The miner of <see cref="TripletMiningStrategy.Random"/>: the triplets <see cref="RandomTripletSampler"/> drew over the
/// whole dataset, read back from the batch layout (for 3T rows: anchor i, positive T + i, negative 2T + i). The distances
/// are not looked at.
/// </summary>
internal sealed class RandomTripletMiner : TripletMinerBase
{
    /// <inheritdoc />
    protected override TripletIndices Mine(Tensor distances, Tensor positive, Tensor negative)
    {
        long rows = distances.shape[0];
        if (rows % 3 != 0)
        {
            throw new ArgumentException($"A fixed-triplet batch has 3T rows (anchors | positives | negatives); got {rows}.", nameof(distances));
        }
        long t = rows / 3;
        var a = torch.arange(t, dtype: ScalarType.Int64, device: distances.device);
        return new TripletIndices(a, a.Plus(t), a.Plus(2 * t));
    }
}
