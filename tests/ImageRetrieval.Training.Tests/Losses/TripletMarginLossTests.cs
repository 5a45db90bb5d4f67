using ImageRetrieval.Training.Losses;
using ImageRetrieval.Training.Mining;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Tests.Losses;

[Collection(TorchCollection.Name)]
public class TripletMarginLossTests
{
    [Fact]
    public void Hinge_is_averaged_over_the_triplets_with_positive_loss()
    {
        using var scope = torch.NewDisposeScope();
        var d = torch.tensor(new float[,] { { 0, .5f, .6f, 1f }, { .5f, 0, .1f, .2f }, { .6f, .1f, 0, .3f }, { 1f, .2f, .3f, 0 } }, requires_grad: true);
        // Triplets (0,1,2): .5-.6+.2 = .1 ; (0,1,3): .5-1+.2 < 0 ; (1,0,3): .5-.2+.2 = .5.
        var t = new TripletIndices(torch.tensor(new long[] { 0, 0, 1 }), torch.tensor(new long[] { 1, 1, 0 }), torch.tensor(new long[] { 2, 3, 3 }));
        var value = new TripletMarginLoss(0.2f).Compute(d, t);
        Assert.Equal(3, value.TripletCount);
        Assert.Equal(2, value.ActiveCount);
        Assert.Equal(0.3f, value.Loss.item<float>(), 5);
        value.Loss.backward();
        Assert.Equal(0.5f, d.grad![0, 1].item<float>(), 5);   // appears in both active triplets, weight 1/2 each
        Assert.Equal(0f, d.grad![0, 3].item<float>(), 5);     // inactive triplet contributes nothing
    }

    [Fact]
    public void Soft_margin_is_the_mean_softplus_of_the_distance_gap()
    {
        using var scope = torch.NewDisposeScope();
        var d = torch.tensor(new float[,] { { 0, .5f, .6f }, { .5f, 0, .1f }, { .6f, .1f, 0 } });
        var t = new TripletIndices(torch.tensor(new long[] { 0 }), torch.tensor(new long[] { 1 }), torch.tensor(new long[] { 2 }));
        var value = new TripletMarginLoss(0.2f, softMargin: true).Compute(d, t);
        Assert.Equal(MathF.Log(1 + MathF.Exp(-0.1f)), value.Loss.item<float>(), 5);
    }

    [Fact]
    public void No_triplets_give_a_zero_loss_that_still_backpropagates()
    {
        using var scope = torch.NewDisposeScope();
        var e = torch.randn(4, 3, requires_grad: true);
        var d = PairwiseDistances.Compute(nn.functional.normalize(e, p: 2, dim: 1), TripletDistance.Euclidean);
        var empty = new TripletIndices(torch.empty(0, dtype: ScalarType.Int64), torch.empty(0, dtype: ScalarType.Int64), torch.empty(0, dtype: ScalarType.Int64));
        var value = new TripletMarginLoss(0.2f).Compute(d, empty);
        Assert.Equal(0f, value.Loss.item<float>());
        value.Loss.backward();
        Assert.NotNull(e.grad);
    }

    [Fact]
    public void Negative_margin_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TripletMarginLoss(-0.1f));
    }
}
