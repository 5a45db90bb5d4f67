using TorchSharp;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Mining;

/// <summary>How triplets are chosen inside a P×K batch.</summary>
public enum TripletMiningStrategy
{
    /// <summary>Per anchor, one random positive and one random negative of the batch (random triplets).</summary>
    Random,

    /// <summary>Per anchor, its farthest positive and closest negative (Hermans et al., 2017).</summary>
    BatchHard,

    /// <summary>Every valid triplet that violates the margin (pytorch-metric-learning's TripletMarginMiner "all").</summary>
    BatchAll,

    /// <summary>Per anchor–positive pair, the closest negative farther than the positive (FaceNet); if none, the farthest negative.</summary>
    SemiHard,
}

/// <summary>Triplets as three index vectors into the batch (<c>long</c> tensors of equal length).</summary>
/// <param name="Anchors">Anchor positions.</param>
/// <param name="Positives">Positive positions (same label as the anchor, not the anchor).</param>
/// <param name="Negatives">Negative positions (another label).</param>
public sealed record TripletIndices(Tensor Anchors, Tensor Positives, Tensor Negatives)
{
    /// <summary>Number of triplets.</summary>
    public long Count => Anchors.shape[0];
}

/// <summary>Chooses triplets from one batch's pairwise distance matrix.</summary>
public interface ITripletMiner
{
    /// <summary>Mines triplets; no gradient flows through mining.</summary>
    /// <param name="distances">The <c>[B, B]</c> distance matrix (detached or not; it is not modified).</param>
    /// <param name="labels">The <c>[B]</c> labels (<c>long</c>).</param>
    TripletIndices Mine(Tensor distances, Tensor labels);
}

/// <summary>Creates the miners.</summary>
public static class TripletMiners
{
    /// <summary>A miner for <paramref name="strategy"/>.</summary>
    /// <param name="strategy">Which triplets to choose.</param>
    /// <param name="margin">The loss margin; batch-all keeps the triplets that violate it.</param>
    /// <param name="generator">Random source for <see cref="TripletMiningStrategy.Random"/>; <see langword="null"/> uses torch's global generator.</param>
    public static ITripletMiner Create(TripletMiningStrategy strategy, float margin, Generator? generator = null) => strategy switch
    {
        TripletMiningStrategy.Random => new RandomTripletMiner(generator),
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

/// <summary>Per anchor, one positive and one negative drawn uniformly from the batch.</summary>
public sealed class RandomTripletMiner(Generator? generator = null) : ITripletMiner
{
    /// <inheritdoc />
    public TripletIndices Mine(Tensor distances, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        using var _ = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var (positive, negative) = TripletMiners.Masks(labels);
        var valid = positive.any(1).logical_and(negative.any(1));
        var anchors = valid.nonzero().flatten();
        if (anchors.shape[0] == 0)
        {
            return TripletMiners.Outlive(TripletMiners.Empty(labels.device));
        }
        var p = torch.multinomial(positive.index_select(0, anchors).to_type(ScalarType.Float32), 1, generator: generator).flatten();
        var n = torch.multinomial(negative.index_select(0, anchors).to_type(ScalarType.Float32), 1, generator: generator).flatten();
        return TripletMiners.Outlive(new TripletIndices(anchors, p, n));
    }
}

/// <summary>Per anchor, the farthest positive and the closest negative.</summary>
public sealed class BatchHardMiner : ITripletMiner
{
    /// <inheritdoc />
    public TripletIndices Mine(Tensor distances, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(distances);
        ArgumentNullException.ThrowIfNull(labels);
        using var _ = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var d = distances.detach();
        var (positive, negative) = TripletMiners.Masks(labels);
        var valid = positive.any(1).logical_and(negative.any(1));
        var anchors = valid.nonzero().flatten();
        var hardestPositive = d.masked_fill(positive.logical_not(), float.NegativeInfinity).argmax(1);
        var hardestNegative = d.masked_fill(negative.logical_not(), float.PositiveInfinity).argmin(1);
        return TripletMiners.Outlive(new TripletIndices(anchors, hardestPositive.index_select(0, anchors), hardestNegative.index_select(0, anchors)));
    }
}

/// <summary>All valid triplets with <c>d(a,p) − d(a,n) + margin &gt; 0</c>.</summary>
public sealed class BatchAllMiner(float margin) : ITripletMiner
{
    /// <inheritdoc />
    public TripletIndices Mine(Tensor distances, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(distances);
        ArgumentNullException.ThrowIfNull(labels);
        using var _ = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var d = distances.detach();
        var (positive, negative) = TripletMiners.Masks(labels);
        // [B, B, B]: anchor a, positive p, negative n.
        var valid = positive.unsqueeze(2).logical_and(negative.unsqueeze(1));
        var violation = (d.unsqueeze(2) - d.unsqueeze(1) + margin).gt(0);
        var triplets = valid.logical_and(violation).nonzero();
        return TripletMiners.Outlive(new TripletIndices(triplets[.., 0].contiguous(), triplets[.., 1].contiguous(), triplets[.., 2].contiguous()));
    }
}

/// <summary>
/// Per anchor–positive pair, the closest negative with <c>d(a,n) &gt; d(a,p)</c>; if there is none, the
/// farthest negative (TensorFlow Addons' <c>triplet_semihard_loss</c> rule).
/// </summary>
public sealed class SemiHardMiner : ITripletMiner
{
    /// <inheritdoc />
    public TripletIndices Mine(Tensor distances, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(distances);
        ArgumentNullException.ThrowIfNull(labels);
        using var _ = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var d = distances.detach();
        var (positive, negative) = TripletMiners.Masks(labels);
        var hasNegative = negative.any(1);
        var pairs = positive.logical_and(hasNegative.unsqueeze(1)).nonzero();
        if (pairs.shape[0] == 0)
        {
            return TripletMiners.Outlive(TripletMiners.Empty(labels.device));
        }
        var a = pairs[.., 0].contiguous();
        var p = pairs[.., 1].contiguous();
        var rows = d.index_select(0, a);                       // [P, B]
        var dap = d.flatten().index_select(0, a * d.shape[1] + p).unsqueeze(1);
        var negativeRows = negative.index_select(0, a);
        var outside = negativeRows.logical_and(rows.gt(dap));
        var closestOutside = rows.masked_fill(outside.logical_not(), float.PositiveInfinity).argmin(1);
        var farthest = rows.masked_fill(negativeRows.logical_not(), float.NegativeInfinity).argmax(1);
        var n = torch.where(outside.any(1), closestOutside, farthest);
        return TripletMiners.Outlive(new TripletIndices(a, p, n));
    }
}
