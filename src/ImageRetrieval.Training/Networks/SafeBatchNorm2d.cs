using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Networks;

/// <summary>
/// 2-D batch normalisation with the behaviour, parameters and buffers of TorchSharp's <see cref="BatchNorm2d"/>
/// (<c>weight</c>, <c>bias</c>, <c>running_mean</c>, <c>running_var</c>, <c>num_batches_tracked</c>, so
/// checkpoints and the ONNX exporter see the same module), but whose forward keeps the scalars it hands to
/// libtorch alive.
/// </summary>
/// <remarks>
/// TorchSharp 0.107's <c>BatchNorm.forward</c> counts batches with <c>num_batches_tracked.add_(1)</c>: the
/// <c>1</c> and the hidden <c>alpha = 1</c> become temporary <see cref="Scalar"/> objects whose only reference
/// is gone once their handles are read, so a garbage collection on another thread during the native call can
/// let the finalizer free them while libtorch reads them ("Unknown scalar type", seen in CI; reproduced under
/// GC pressure at about 1 forward in 13,000). Here the increment uses <see cref="Runtime.ScalarOps.One"/>,
/// which lives for the whole process; the rest is TorchSharp's computation, unchanged.
/// </remarks>
internal sealed class SafeBatchNorm2d : BatchNorm
{
    public SafeBatchNorm2d(long features, double eps = 1e-5, double momentum = 0.1, bool affine = true, bool trackRunningStats = true)
        : base(features, eps, momentum, affine, trackRunningStats, null, null, nameof(BatchNorm2d))
    {
    }

    public override Tensor forward(Tensor input)
    {
        ValidateInputDimensions(input);
        double averagingFactor = momentum ?? 0.0;
        if (training && track_running_stats && num_batches_tracked is not null)
        {
            num_batches_tracked.add_(Runtime.ScalarOps.One, Runtime.ScalarOps.One);
            averagingFactor = momentum ?? (1.0 / num_batches_tracked.item<long>());
        }
        // As PyTorch: batch statistics while training, or when there are no running statistics to use.
        bool useBatchStatistics = training || (running_mean is null && running_var is null);
        bool passRunningStatistics = !training || track_running_stats;
        return nn.functional.batch_norm(
            input,
            passRunningStatistics ? running_mean : null,
            passRunningStatistics ? running_var : null,
            weight,
            bias,
            useBatchStatistics,
            averagingFactor,
            eps);
    }

    protected override void ValidateInputDimensions(Tensor input)
    {
        if (input.ndim != 4)
        {
            throw new ArgumentException($"expected 4D input, but got {input.ndim}D input.");
        }
    }
}
