using TorchSharp;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Tests.Platform;

/// <summary>
/// Proves libtorch loads on this machine (on Debian 12 this needs the build step in
/// build/ImageRetrieval.TorchSharpNativeFix.targets) and that autograd and an optimizer work.
/// </summary>
[Collection(TorchCollection.Name)]
public class TorchSharpTests
{
    [Fact]
    public void A_tensor_op_and_one_optimizer_step_work()
    {
        torch.random.manual_seed(42);
        using var scope = torch.NewDisposeScope();
        var a = torch.tensor(new float[] { 1, 2, 3, 4 }, 2, 2);
        var product = a.matmul(a);
        Assert.Equal(new float[] { 7, 10, 15, 22 }, product.data<float>().ToArray());

        var layer = nn.Linear(4, 1);
        var optimizer = optim.SGD(layer.parameters(), 0.1);
        var x = torch.randn(16, 4);
        var y = x.sum(1, keepdim: true);
        float first = 0, last = 0;
        for (int step = 0; step < 20; step++)
        {
            optimizer.zero_grad();
            var loss = nn.functional.mse_loss(layer.forward(x), y);
            loss.backward();
            optimizer.step();
            if (step == 0)
            {
                first = loss.item<float>();
            }
            last = loss.item<float>();
        }
        Assert.True(last < first * 0.5f, $"loss should fall: {first} -> {last}");
    }
}
