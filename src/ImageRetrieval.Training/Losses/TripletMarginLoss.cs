using ImageRetrieval.Training.Mining;
using ImageRetrieval.Training.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Losses;

/// <summary>The value of one batch's loss and how many mined triplets contributed to it.</summary>
/// <param name="Loss">The scalar loss (differentiable).</param>
/// <param name="TripletCount">Triplets the miner returned.</param>
/// <param name="ActiveCount">Triplets with a positive loss (the ones averaged).</param>
internal sealed record TripletLossValue(Tensor Loss, long TripletCount, long ActiveCount);

/// <summary>
/// Triplet loss over mined triplets: <c>max(0, d(a,p) − d(a,n) + margin)</c>, or the soft-margin
/// <c>log(1 + exp(d(a,p) − d(a,n)))</c> (Hermans et al., 2017). Hinge terms are averaged over the
/// triplets with a positive loss, as pytorch-metric-learning's <c>AvgNonZeroReducer</c> does.
/// </summary>
internal sealed class TripletMarginLoss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="margin">The hinge margin, in distance units (ignored with <paramref name="softMargin"/>).</param>
    /// <param name="softMargin">Use the soft-plus form instead of the hinge.</param>
    /// <exception cref="ArgumentOutOfRangeException">A negative or non-finite margin.</exception>
    public TripletMarginLoss(float margin, bool softMargin = false)
    {
        if (!float.IsFinite(margin) || margin < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(margin), margin, "The margin must be finite and non-negative.");
        }
        Margin = margin;
        SoftMargin = softMargin;
    }

    /// <summary>The hinge margin.</summary>
    public float Margin { get; }

    /// <summary>Whether the soft-plus form is used.</summary>
    public bool SoftMargin { get; }

    /// <summary>The loss of <paramref name="triplets"/> under <paramref name="distances"/>.</summary>
    /// <param name="distances">The <c>[B, B]</c> distance matrix the gradient flows through.</param>
    /// <param name="triplets">Indices into the batch.</param>
    public TripletLossValue Compute(Tensor distances, TripletIndices triplets)
    {
        ArgumentNullException.ThrowIfNull(distances);
        ArgumentNullException.ThrowIfNull(triplets);
        using var scope = torch.NewDisposeScope();
        long count = triplets.Count;
        if (count == 0)
        {
            // Zero that still belongs to the graph, so backward() works on an all-easy batch.
            return new TripletLossValue(distances.sum().mul(ScalarOps.Zero).MoveToOuterDisposeScope(), 0, 0);
        }
        long b = distances.shape[1];
        var flat = distances.flatten();
        var dap = flat.index_select(0, triplets.Anchors.Times(b).Plus(triplets.Positives));
        var dan = flat.index_select(0, triplets.Anchors.Times(b).Plus(triplets.Negatives));
        if (SoftMargin)
        {
            var soft = nn.functional.softplus(dap - dan);
            return new TripletLossValue(soft.mean().MoveToOuterDisposeScope(), count, count);
        }
        var hinge = (dap - dan).Plus(Margin).relu();
        long active;
        using (torch.no_grad())
        {
            active = hinge.gt(ScalarOps.Zero).sum().item<long>();
        }
        var loss = active == 0 ? hinge.sum() : hinge.sum().DividedBy(active);
        return new TripletLossValue(loss.MoveToOuterDisposeScope(), count, active);
    }
}
