using TorchSharp;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Networks;

/// <summary>Row-wise L2 normalisation, x / max(‖x‖₂, 1e-12) (exported as ReduceL2 → Max → Div, which also maps a zero row to zero).</summary>
internal sealed class L2Normalize : nn.Module<Tensor, Tensor>
{
    public L2Normalize() : base(nameof(L2Normalize))
    {
    }

    public override Tensor forward(Tensor input) => nn.functional.normalize(input, p: 2, dim: 1, eps: 1e-12);
}
