using System.Text.Json.Serialization;
using ImageRetrieval.Training.Networks;

namespace ImageRetrieval.Training;

/// <summary>
/// Transfer learning settings of a run (<see cref="TrainingOptions.FineTuning"/>): where the backbone's
/// initial weights come from, which layers train, and how batch-norm layers behave. They are stored in
/// the checkpoint with the other options, so a resumed run freezes the same layers.
/// </summary>
public sealed record FineTuningOptions
{
    /// <summary>
    /// ML.NET's ImageNet <c>ResNet18.onnx</c> whose weights initialise the <c>resnet18</c> backbone (see
    /// <see cref="ResNet18Weights.FindPackagedModel"/> / <see cref="ResNet18Weights.RequirePackagedModel"/>);
    /// the network then normalises its input with ImageNet's channel means (<see cref="ResNet18Weights.CreateSpec"/>)
    /// instead of the training set's statistics. <see langword="null"/>: random initialisation. Only read when
    /// a run starts, not when it resumes (the checkpoint holds the weights).
    /// </summary>
    public string? PretrainedWeights { get; init; }

    /// <summary>Train only the embedding head (<see cref="EmbeddingNetwork.FreezeBackbone"/>).</summary>
    public bool FreezeBackbone { get; init; }

    /// <summary>
    /// Train the head and the last N residual stages of a <c>resnet18</c> (<see cref="EmbeddingNetwork.UnfreezeStages"/>;
    /// 0–4; it freezes the rest, so <see cref="FreezeBackbone"/> is implied). <see langword="null"/>: not used.
    /// </summary>
    public int? UnfreezeStages { get; init; }

    /// <summary>Batch-norm behaviour while training (<see cref="EmbeddingNetwork.SetBatchNormMode"/>).</summary>
    public BatchNormMode BatchNormMode { get; init; } = BatchNormMode.Train;

    /// <summary>Whether any layer is frozen.</summary>
    [JsonIgnore]
    public bool FreezesLayers => FreezeBackbone || UnfreezeStages is not null;

    /// <summary>Checks the values against the architecture they will be applied to.</summary>
    /// <param name="architecture">The run's <see cref="TrainingOptions.Architecture"/>.</param>
    /// <exception cref="ArgumentException">Pretrained weights or stage unfreezing for an architecture other than <c>resnet18</c>, or a value out of range.</exception>
    public void Validate(string architecture)
    {
        if (PretrainedWeights is not null && architecture != NetworkFactory.ResNet18)
        {
            throw new ArgumentException(
                $"Pretrained ImageNet weights fit only the '{NetworkFactory.ResNet18}' architecture, not '{architecture}'.", nameof(PretrainedWeights));
        }
        if (PretrainedWeights is { Length: 0 })
        {
            throw new ArgumentException("The pretrained weights path is empty.", nameof(PretrainedWeights));
        }
        if (UnfreezeStages is { } stages)
        {
            if (architecture != NetworkFactory.ResNet18)
            {
                throw new ArgumentException(
                    $"Unfreezing residual stages applies to '{NetworkFactory.ResNet18}', not '{architecture}'; use FreezeBackbone.", nameof(UnfreezeStages));
            }
            if (stages < 0 || stages > ResNet18.StageNames.Count)
            {
                throw new ArgumentException($"UnfreezeStages must be in 0..{ResNet18.StageNames.Count}, got {stages}.", nameof(UnfreezeStages));
            }
        }
        if (!Enum.IsDefined(BatchNormMode))
        {
            throw new ArgumentException($"Unknown batch-norm mode {BatchNormMode}.", nameof(BatchNormMode));
        }
    }

    /// <summary>Applies the freezing and batch-norm settings to <paramref name="network"/> (not the weights).</summary>
    internal void ApplyTo(EmbeddingNetwork network)
    {
        if (UnfreezeStages is { } stages)
        {
            network.UnfreezeStages(stages);
        }
        else if (FreezeBackbone)
        {
            network.FreezeBackbone();
        }
        else
        {
            network.UnfreezeAll();
        }
        network.SetBatchNormMode(BatchNormMode);
    }
}
