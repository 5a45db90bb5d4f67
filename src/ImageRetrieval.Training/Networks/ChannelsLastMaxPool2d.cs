using TorchSharp;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Networks;

/// <summary>
/// Max pooling (no padding, no dilation, floor mode) computed in the channels-last memory layout. libtorch
/// 2.10 pools an NCHW tensor with a scalar loop (<c>cpu_max_pool</c>: 22 % of a classic-recipe step) and an
/// NHWC one with a vectorised loop over channels (<c>cpu_max_pool_channels_last</c>, about half the time); both
/// keep the first maximum of each window in the same row-major order and propagate NaN, so the output, the
/// indices and therefore the gradient are the same. The input is given an NHWC layout when it does not already
/// have one (a convolution of an NHWC input returns NHWC, so one conversion per stack of layers is enough); the
/// output keeps it. The tensor's logical shape is always <c>[N, C, H, W]</c>, so every later layer, Flatten
/// included, computes the same values. Exported to ONNX as <c>MaxPool</c>.
/// </summary>
internal sealed class ChannelsLastMaxPool2d : nn.Module<Tensor, Tensor>
{
    public ChannelsLastMaxPool2d(long kernelSize, long? stride = null) : base(nameof(ChannelsLastMaxPool2d))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(kernelSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride ?? kernelSize, 1);
        KernelSize = kernelSize;
        Stride = stride ?? kernelSize;
    }

    /// <summary>Window side.</summary>
    public long KernelSize { get; }

    /// <summary>Step between windows.</summary>
    public long Stride { get; }

    public override Tensor forward(Tensor input)
    {
        if (input.ndim != 4)
        {
            throw new ArgumentException($"{nameof(ChannelsLastMaxPool2d)} expects [N, C, H, W] input, got {input.ndim} dimensions.", nameof(input));
        }
        using var scope = torch.NewDisposeScope();
        // [N, C, H, W] with NHWC strides; a no-op copy when the input already has them.
        var channelsLast = input.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
        return nn.functional.max_pool2d(channelsLast, KernelSize, Stride).MoveToOuterDisposeScope();
    }
}
