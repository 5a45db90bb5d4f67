using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ImageRetrieval.Training;

/// <summary>
/// Optimizers whose native calls cannot lose their scalar arguments to the finalizer (see <see cref="Runtime.ScalarOps"/>).
/// </summary>
internal static class SafeOptimizers
{
    /// <summary>
    /// TorchSharp's <see cref="TorchSharp.Modules.Adam"/>, step for step the same arithmetic, with the scalars of the update held
    /// alive across the native calls that read them. TorchSharp 0.107's <c>Adam.step</c> passes about ten temporary
    /// <see cref="Scalar"/> objects per parameter per step (β₁, 1 − β₁, β₂, 1 − β₂, √(1 − β₂ᵗ), ε, −lr / (1 − β₁ᵗ)
    /// and hidden <c>alpha = 1</c>s) whose only reference is gone once their handles are read, so a garbage
    /// collection on another thread can let the finalizer free one while libtorch reads it (the failure mode of
    /// BatchNorm's batch counter, see <see cref="Networks.SafeBatchNorm2d"/>). Here each scalar is created once per
    /// parameter group and step and disposed after the last call that uses it.
    /// </summary>
    /// <remarks>
    /// The state (<c>step</c>, <c>exp_avg</c>, <c>exp_avg_sq</c>, <c>max_exp_avg_sq</c>), the parameter groups
    /// and the saved format are <see cref="TorchSharp.Modules.Adam"/>'s own. The class is called <c>Adam</c> because
    /// TorchSharp writes the optimizer's type name into the saved state and refuses another name on load: checkpoints
    /// written with either optimizer resume with either. A test checks that both produce identical parameters, bit for bit.
    /// </remarks>
    internal sealed class Adam : TorchSharp.Modules.Adam
    {
        public Adam(IEnumerable<Parameter> parameters, double lr, double weightDecay = 0)
            : base(parameters, lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: weightDecay, amsgrad: false, maximize: false)
        {
        }

        public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
        {
            var options = (Options)group.Options;
            double beta1 = options.beta1!.Value;
            double beta2 = options.beta2!.Value;
            double weightDecay = options.weight_decay!.Value;
            bool amsgrad = options.amsgrad!.Value;
            bool maximize = options.maximize!.Value;
            double learningRate = options.LearningRate!.Value;
            using var beta1Scalar = beta1.ToScalar();
            using var oneMinusBeta1 = (1 - beta1).ToScalar();
            using var beta2Scalar = beta2.ToScalar();
            using var oneMinusBeta2 = (1 - beta2).ToScalar();
            using var epsScalar = options.eps!.Value.ToScalar();
            using var weightDecayScalar = weightDecay.ToScalar();
            var one = Runtime.ScalarOps.One;

            foreach (var param in group.Parameters)
            {
                var state = (State)_state[param.Handle];
                var grad = param.grad;
                if (grad is null)
                {
                    continue;
                }
                if (maximize)
                {
                    grad = -grad;
                }
                state.step += 1;
                double biasCorrection1 = 1 - Math.Pow(beta1, state.step);
                double biasCorrection2 = 1 - Math.Pow(beta2, state.step);
                if (weightDecay != 0)
                {
                    grad = grad.add(param, weightDecayScalar);
                }
                state.exp_avg.mul_(beta1Scalar).add_(grad, oneMinusBeta1);
                state.exp_avg_sq.mul_(beta2Scalar).addcmul_(grad, grad.conj(), oneMinusBeta2);

                using var sqrtBiasCorrection2 = Math.Sqrt(biasCorrection2).ToScalar();
                Tensor denominator;
                if (amsgrad)
                {
                    var previous = state.max_exp_avg_sq;
                    state.max_exp_avg_sq = torch.maximum(previous, state.exp_avg_sq).DetachFromDisposeScope();
                    previous.Dispose();
                    denominator = state.max_exp_avg_sq.sqrt().div(sqrtBiasCorrection2).add_(epsScalar, one);
                }
                else
                {
                    denominator = state.exp_avg_sq.sqrt().div(sqrtBiasCorrection2).add_(epsScalar, one);
                }
                using var negativeStepSize = (-(learningRate / biasCorrection1)).ToScalar();
                param.addcdiv_(state.exp_avg, denominator, negativeStepSize);
            }
        }, closure);
    }
}
