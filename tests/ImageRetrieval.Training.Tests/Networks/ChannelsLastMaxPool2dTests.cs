using ImageRetrieval.Training.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Tests.Networks;

[Collection(TorchCollection.Name)]
public class ChannelsLastMaxPool2dTests
{
    [Theory]
    [InlineData(2, 2)]
    [InlineData(3, 2)]
    public void Gives_the_output_and_gradient_of_MaxPool2d_with_ties_and_NaN(int kernel, int stride)
    {
        torch.set_num_threads(1);
        torch.random.manual_seed(11);
        using var scope = torch.NewDisposeScope();
        // Rounded values make ties in almost every window (as a zero background does after a convolution), plus a NaN.
        var values = (torch.randn(3, 8, 9, 9) * 2).round();
        values[1, 2, 4, 4] = torch.tensor(float.NaN);
        var reference = nn.MaxPool2d(kernel, stride);
        var pool = new ChannelsLastMaxPool2d(kernel, stride);

        var a = values.clone().requires_grad_();
        var b = values.clone().requires_grad_();
        var expected = reference.forward(a);
        var actual = pool.forward(b);
        Assert.Equal(expected.shape, actual.shape);
        Assert.True(expected.isnan().equal(actual.isnan()).all().item<bool>());
        Assert.True(expected.nan_to_num().equal(actual.nan_to_num()).all().item<bool>(), "pooled values differ");

        var upstream = torch.randn(expected.shape);
        (expected * upstream).nan_to_num().sum().backward();
        (actual * upstream).nan_to_num().sum().backward();
        Assert.True(a.grad!.equal(b.grad!).all().item<bool>(), "gradients differ: the two kernels chose different maxima");
        // The pooled tensor has NHWC strides and the usual logical [N, C, H, W] shape.
        Assert.Equal(1, actual.stride(1));
        Assert.True(expected.flatten(1).nan_to_num().equal(actual.flatten(1).nan_to_num()).all().item<bool>(), "flattening depends on the layout");
    }

    [Fact]
    public void Refuses_input_that_is_not_four_dimensional()
    {
        using var pool = new ChannelsLastMaxPool2d(2);
        using var x = torch.randn(4, 4);
        Assert.Throws<ArgumentException>(() => pool.forward(x));
    }
}
