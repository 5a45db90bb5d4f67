using ImageRetrieval.Training.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Tests.Platform;

[Collection(TorchCollection.Name)]
public class ScalarOpsTests
{
    [Fact]
    public void Scalar_helpers_compute_what_the_operators_compute_and_keep_integer_types()
    {
        torch.random.manual_seed(2);
        using var scope = torch.NewDisposeScope();
        var x = torch.randn(5, 7);
        var y = torch.randn(5, 7);
        Assert.True((x + y).equal(x.Plus(y)).all().item<bool>());
        Assert.True((x + 0.2f).equal(x.Plus(0.2f)).all().item<bool>());
        Assert.True((2 - 2 * x).equal(x.Times(2.0).SubtractedFrom(2.0)).all().item<bool>());
        Assert.True((x / 7L).equal(x.DividedBy(7L)).all().item<bool>());
        Assert.True((x / 3.0).equal(x.DividedBy(3.0)).all().item<bool>());
        Assert.True(x.gt(0).equal(x.GreaterThan(0)).all().item<bool>());
        Assert.True(x.clamp_min(1e-12).equal(x.AtLeast(1e-12)).all().item<bool>());
        Assert.True(x.masked_fill(x.gt(0), float.NegativeInfinity).equal(x.FilledWhere(x.GreaterThan(0), double.NegativeInfinity)).all().item<bool>());
        Assert.True(x.clone().clamp_(-0.5, 0.5).equal(x.clone().ClampInPlace(-0.5, 0.5)).all().item<bool>());

        var indices = torch.arange(6L);
        Assert.Equal(ScalarType.Int64, indices.Plus(3L).dtype);
        Assert.Equal(ScalarType.Int64, indices.Times(4L).dtype);
        Assert.True((indices * 4 + 3).equal(indices.Times(4L).Plus(3L)).all().item<bool>());
    }
}
