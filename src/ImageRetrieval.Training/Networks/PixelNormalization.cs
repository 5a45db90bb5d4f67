using TorchSharp;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Networks;

/// <summary>
/// <c>(x - mean[c]) / std[c]</c> per channel, on raw 0–255 pixels: the network's input is what ML.NET's
/// ExtractPixels produces, so normalisation lives inside the graph (exported as Sub + Div).
/// </summary>
internal sealed class PixelNormalization : nn.Module<Tensor, Tensor>
{
    private readonly Tensor mean;
    private readonly Tensor std;

    public PixelNormalization(float[] mean, float[] std) : base(nameof(PixelNormalization))
    {
        this.mean = torch.tensor(mean).reshape(1, mean.Length, 1, 1);
        this.std = torch.tensor(std).reshape(1, std.Length, 1, 1);
        register_buffer("mean", this.mean);
        register_buffer("std", this.std);
    }

    public float[] Mean => mean.data<float>().ToArray();

    public float[] Std => std.data<float>().ToArray();

    public override Tensor forward(Tensor input) => (input - mean) / std;
}
