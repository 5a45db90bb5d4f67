using ImageRetrieval.Training.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Tests.Networks;

[Collection(TorchCollection.Name)]
public class NetworkFactoryTests
{
    [Theory]
    [InlineData(NetworkFactory.Classic, 1, 28, 64)]
    [InlineData(NetworkFactory.ConvNet, 1, 28, 64)]
    [InlineData(NetworkFactory.ConvNet, 3, 64, 32)]
    public void Networks_map_pixels_to_unit_length_embeddings(string arch, int channels, int side, int dim)
    {
        torch.random.manual_seed(1);
        using var scope = torch.NewDisposeScope();
        using var network = NetworkFactory.Create(NetworkSpec.Create(arch, channels, side, side, dim, mean: 72f, std: 90f));
        network.eval();
        var input = torch.rand(5, channels, side, side) * 255;
        using var _ = torch.no_grad();
        var output = network.forward(input);

        Assert.Equal(new long[] { 5, dim }, output.shape);
        var norms = output.norm(1).data<float>().ToArray();
        Assert.All(norms, n => Assert.Equal(1f, n, 4));
    }

    [Fact]
    public void Classic_network_has_the_recipe_layer_sizes()
    {
        using var network = NetworkFactory.Create(NetworkSpec.Create(NetworkFactory.Classic, 1, 28, 28, 64));
        var shapes = network.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        Assert.Equal(new long[] { 32, 1, 5, 5 }, shapes["features.conv1.weight"]);
        Assert.Equal(new long[] { 64, 32, 5, 5 }, shapes["features.conv2.weight"]);
        Assert.Equal(new long[] { 256, 1024 }, shapes["features.fc1.weight"]);
        Assert.Equal(new long[] { 256, 256 }, shapes["features.fc2.weight"]);
        Assert.Equal(new long[] { 64, 256 }, shapes["features.fc3.weight"]);
    }

    [Fact]
    public void Unknown_architecture_and_tiny_inputs_are_rejected_with_clear_messages()
    {
        var unknown = Assert.Throws<ArgumentException>(() => NetworkFactory.Create(NetworkSpec.Create("vgg", 1, 28, 28, 64)));
        Assert.Contains("vgg", unknown.Message, StringComparison.Ordinal);
        var tiny = Assert.Throws<ArgumentException>(() => NetworkFactory.Create(NetworkSpec.Create(NetworkFactory.Classic, 1, 12, 12, 64)));
        Assert.Contains("16x16", tiny.Message, StringComparison.Ordinal);
    }
}
