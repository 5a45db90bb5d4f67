using ImageRetrieval.Training.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageRetrieval.Training;

/// <summary>
/// Stops a run when the validation MAP@R has not improved for <c>patience</c> evaluations in a row and keeps a copy
/// of the best weights to restore (<see cref="TrainingOptions.EarlyStoppingPatience"/>; 0 disables it). On held-out
/// classes this is what keeps a run from specialising in its training classes.
/// </summary>
internal sealed class EarlyStopping(int patience) : IDisposable
{
    private Dictionary<string, Tensor>? _best;
    private double _bestScore = double.NegativeInfinity;
    private int _sinceBest;

    /// <summary>The best score seen.</summary>
    public double BestScore => _bestScore;

    /// <summary>Records an evaluation; true when the run should stop (patience exhausted).</summary>
    public bool Observe(EmbeddingNetwork network, double score)
    {
        if (patience == 0)
        {
            return false;
        }
        if (score > _bestScore)
        {
            _bestScore = score;
            _sinceBest = 0;
            DisposeBest();
            using var noGrad = torch.no_grad();
            _best = network.state_dict().ToDictionary(p => p.Key, p => p.Value.detach().clone().DetachFromDisposeScope());
            return false;
        }
        return ++_sinceBest >= patience;
    }

    /// <summary>Copies the best weights (and buffers, e.g. batch-norm statistics) back into <paramref name="network"/>.</summary>
    public void RestoreBest(EmbeddingNetwork network)
    {
        if (_best is null)
        {
            return;
        }
        using var noGrad = torch.no_grad();
        foreach (var (name, tensor) in network.state_dict())
        {
            tensor.copy_(_best[name]);
        }
    }

    public void Dispose() => DisposeBest();

    private void DisposeBest()
    {
        foreach (Tensor tensor in _best?.Values ?? Enumerable.Empty<Tensor>())
        {
            tensor.Dispose();
        }
        _best = null;
    }
}
