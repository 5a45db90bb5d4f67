using ImageRetrieval.Training.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ImageRetrieval.Training;

/// <summary>
/// A linear head over feature vectors computed beforehand, followed by L2 normalisation — the embedding head of a network
/// whose backbone is frozen, on its own. Trained with <see cref="TripletTrainer.TrainHead"/>; <see cref="Embed"/> applies it.
/// </summary>
public sealed class FeatureHead : IDisposable
{
    private readonly Linear _layer;

    private FeatureHead(Linear layer, int inputDimension, int outputDimension)
    {
        _layer = layer;
        InputDimension = inputDimension;
        OutputDimension = outputDimension;
    }

    /// <summary>Length of the feature vectors the head takes.</summary>
    public int InputDimension { get; }

    /// <summary>Length of the L2-normalised embeddings it gives.</summary>
    public int OutputDimension { get; }

    internal Linear Layer => _layer;

    /// <summary>
    /// A square head that starts as the identity (weights the identity matrix, bias zero): before training it gives the
    /// features themselves, L2-normalised, so training starts from the backbone's own retrieval quality.
    /// </summary>
    /// <param name="dimension">Feature and embedding length.</param>
    public static FeatureHead Identity(int dimension)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 2);
        TorchRuntime.Initialize();
        var layer = nn.Linear(dimension, dimension);
        using (torch.no_grad())
        {
            layer.weight!.copy_(torch.eye(dimension));
            layer.bias!.zero_();
        }
        return new FeatureHead(layer, dimension, dimension);
    }

    /// <summary>A head with libtorch's default random initialisation (seed with <c>torch.random.manual_seed</c> first for reproducible weights).</summary>
    /// <param name="inputDimension">Feature length.</param>
    /// <param name="outputDimension">Embedding length.</param>
    public static FeatureHead Random(int inputDimension, int outputDimension)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputDimension, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputDimension, 2);
        TorchRuntime.Initialize();
        return new FeatureHead(nn.Linear(inputDimension, outputDimension), inputDimension, outputDimension);
    }

    /// <summary>The L2-normalised embeddings of feature rows (no gradients; row after row, <see cref="OutputDimension"/> values each).</summary>
    /// <param name="features">Row after row, <see cref="InputDimension"/> values each.</param>
    /// <exception cref="ArgumentException">The length is not a whole number of rows.</exception>
    public float[] Embed(float[] features)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.Length % InputDimension != 0)
        {
            throw new ArgumentException($"{features.Length} values are not whole rows of {InputDimension}.", nameof(features));
        }
        using var rows = torch.tensor(features, [features.Length / InputDimension, InputDimension]);
        return FeatureBatches.Embed(_layer, rows);
    }

    /// <inheritdoc />
    public void Dispose() => _layer.Dispose();
}
