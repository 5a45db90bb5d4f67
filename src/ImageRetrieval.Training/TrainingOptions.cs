using ImageRetrieval.Training.Augmentation;
using ImageRetrieval.Training.Mining;
using ImageRetrieval.Training.Networks;

namespace ImageRetrieval.Training;

/// <summary>How the learning rate changes over a run.</summary>
public enum LearningRateSchedule
{
    /// <summary>Multiply by <see cref="TrainingOptions.LearningRateDecay"/> every <see cref="TrainingOptions.LearningRateStepEpochs"/> epochs.</summary>
    Step,

    /// <summary>Cosine annealing, updated every batch, to 1 % of the initial rate at the end of the run.</summary>
    Cosine,
}

/// <summary>
/// Everything that shapes a triplet-loss training run. Defaults: the measured 10-minute recipe of
/// docs/training.md — the <c>classic</c> network, 64-d, P×K = 10×25 with batch-all mining, margin 0.2 on
/// Euclidean distance, Adam 2e-3 with a per-batch cosine schedule over 20 epochs (or over the time budget,
/// if that ends sooner: <c>imgret train --time-budget 600</c> is the 10-minute recipe), flip + ±2-pixel shift.
/// </summary>
public sealed record TrainingOptions
{
    /// <summary>Network architecture, one of <see cref="NetworkFactory.Architectures"/>.</summary>
    public string Architecture { get; init; } = NetworkFactory.Classic;

    /// <summary>Embedding length.</summary>
    public int EmbeddingDimension { get; init; } = 64;

    /// <summary>Passes over the training set.</summary>
    public int Epochs { get; init; } = 20;

    /// <summary>P: classes per batch (clamped to the number of classes).</summary>
    public int ClassesPerBatch { get; init; } = 10;

    /// <summary>K: images per class per batch.</summary>
    public int SamplesPerClass { get; init; } = 25;

    /// <summary>Adam's learning rate at epoch 1.</summary>
    public double LearningRate { get; init; } = 2e-3;

    /// <summary>Adam's L2 weight decay.</summary>
    public double WeightDecay { get; init; }

    /// <summary>The learning rate is multiplied by <see cref="LearningRateDecay"/> every this many epochs (0: never).</summary>
    public int LearningRateStepEpochs { get; init; } = 8;

    /// <summary>The step decay factor.</summary>
    public double LearningRateDecay { get; init; } = 0.1;

    /// <summary>
    /// How the learning rate moves during the run: <see cref="LearningRateSchedule.Step"/> (the two
    /// settings above) or <see cref="LearningRateSchedule.Cosine"/> (per batch, from
    /// <see cref="LearningRate"/> down to 1 % of it at the end of the run; with a
    /// <see cref="TimeBudgetSeconds"/>, the end is whichever of the last epoch and the budget comes first).
    /// </summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Cosine;

    /// <summary>Triplet choice within a batch.</summary>
    public TripletMiningStrategy Miner { get; init; } = TripletMiningStrategy.BatchAll;

    /// <summary>The distance mined and penalised.</summary>
    public TripletDistance Distance { get; init; } = TripletDistance.Euclidean;

    /// <summary>The hinge margin.</summary>
    public float Margin { get; init; } = 0.2f;

    /// <summary>Use the soft-margin loss instead of the hinge.</summary>
    public bool SoftMargin { get; init; }

    /// <summary>Training-time augmentation.</summary>
    public AugmentationOptions Augmentation { get; init; } = new();

    /// <summary>Seed for weights, batches, augmentation and random mining.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>libtorch intra-op threads (0: leave libtorch's default).</summary>
    public int Threads { get; init; }

    /// <summary>Evaluate on the validation set every this many epochs (and always after the last; 0: only after the last).</summary>
    public int EvaluateEvery { get; init; } = 1;

    /// <summary>Batch size used to embed images for evaluation.</summary>
    public int EvaluationBatchSize { get; init; } = 500;

    /// <summary>Write a resumable checkpoint here after every epoch (<see langword="null"/>: none).</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>
    /// Stop training after this many seconds of wall-clock training time (checked after every batch;
    /// evaluation and checkpointing between epochs do not count); the epoch in progress is closed as a
    /// partial epoch, evaluated and checkpointed. Null: run all epochs.
    /// </summary>
    public double? TimeBudgetSeconds { get; init; }

    /// <summary>Continue the run stored in this checkpoint (its spec and epoch count win over the options above).</summary>
    public string? ResumeFrom { get; init; }

    /// <summary>
    /// Photo augmentation (random resized crop, flip, colour jitter) instead of <see cref="Augmentation"/>.
    /// The network's input side is then <see cref="PhotoAugmentationOptions.OutputSize"/> and the training
    /// images may be stored larger (<see cref="PhotoAugmentationOptions.StorageSize()"/>). Null: shift/flip.
    /// </summary>
    public PhotoAugmentationOptions? PhotoAugmentation { get; init; }

    /// <summary>Pretrained weights, frozen layers and batch-norm mode. Null: every layer trains from random weights.</summary>
    public FineTuningOptions? FineTuning { get; init; }

    /// <summary>
    /// Stop with an <see cref="EmbeddingCollapseException"/> when an epoch's mean embedding
    /// <see cref="TripletStatistics.Spread"/> falls below this (0, the default: never). A collapsed network maps every
    /// image to about one point; <c>imgret train</c> on a folder uses 0.05. Off by default because batch-all runs can
    /// shrink every distance while their ranking still improves (docs/training.md, "Known problem").
    /// </summary>
    public double CollapseSpread { get; init; }

    /// <summary>
    /// Stop when the validation MAP@R has not improved for this many evaluations in a row, and keep the weights
    /// of the best evaluation (0: never stop early; the last weights are kept).
    /// </summary>
    public int EarlyStoppingPatience { get; init; }

    /// <summary>
    /// Weight of the instance-discrimination term (<c>0</c>: none): each batch image is embedded under two augmentation
    /// draws and a second triplet loss makes the two views of one image each other's only positives, so a class does not
    /// shrink to a point and the embedding keeps what tells images apart — what classes unseen in training need.
    /// Doubles the images per step. Ignored with <see cref="TripletMiningStrategy.Random"/> triplets.
    /// </summary>
    public double InstanceLossWeight { get; init; }

    /// <summary>
    /// With a frozen backbone (<see cref="FineTuningOptions.FreezeBackbone"/>, no stage unfrozen, batch norm on its stored
    /// statistics, no instance term), compute the backbone's features once per image and train only the head on them,
    /// instead of running the backbone on every batch of every epoch (true, the default). The head then trains on the
    /// features of the un-augmented images at the input size (the augmentation settings are not applied), and validation
    /// runs the head over cached features too. Ignored when layers are not all frozen. A resumed run computes them again.
    /// </summary>
    public bool CacheFrozenFeatures { get; init; } = true;

    /// <summary>
    /// The form of the instance term. <c>0</c> (the default): a triplet loss mined like the class term, the other view the
    /// only positive. Positive: NT-Xent (InfoNCE, as in SimCLR) at this temperature — the cosine similarities of every view
    /// to all other views of the batch, divided by the temperature, scored by cross-entropy against the other view of the
    /// same image, so every other image is a soft negative (0.1–0.2 is usual).
    /// </summary>
    public double InstanceTemperature { get; init; }

    /// <summary>
    /// Layers whose outputs form the embedding instead of the head's (<see cref="NetworkSpec.EmbeddingLayers"/>, e.g.
    /// <c>pool2</c>, the classic network's pooled convolutional features): the losses train the head as a projection head
    /// and the exported model stops at these layers. Null (the default): the head's output is the embedding.
    /// </summary>
    public string[]? EmbeddingLayers { get; init; }

    /// <summary>Checks the values.</summary>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public void Validate()
    {
        if (!NetworkFactory.Architectures.Contains(Architecture))
        {
            throw new ArgumentException($"Unknown architecture '{Architecture}'; expected one of: {string.Join(", ", NetworkFactory.Architectures)}.", nameof(Architecture));
        }
        Require(EmbeddingDimension >= 2, $"Embedding dimension must be at least 2, got {EmbeddingDimension}.", nameof(EmbeddingDimension));
        Require(Epochs >= 1, $"Epochs must be at least 1, got {Epochs}.", nameof(Epochs));
        Require(ClassesPerBatch >= 2, $"Classes per batch must be at least 2, got {ClassesPerBatch}.", nameof(ClassesPerBatch));
        Require(SamplesPerClass >= 2, $"Samples per class must be at least 2, got {SamplesPerClass}.", nameof(SamplesPerClass));
        Require(LearningRate > 0 && double.IsFinite(LearningRate), $"Learning rate must be positive, got {LearningRate}.", nameof(LearningRate));
        Require(WeightDecay >= 0, $"Weight decay must be non-negative, got {WeightDecay}.", nameof(WeightDecay));
        Require(LearningRateStepEpochs >= 0, $"Learning-rate step must be non-negative, got {LearningRateStepEpochs}.", nameof(LearningRateStepEpochs));
        Require(LearningRateDecay is > 0 and <= 1, $"Learning-rate decay must be in (0, 1], got {LearningRateDecay}.", nameof(LearningRateDecay));
        Require(float.IsFinite(Margin) && Margin >= 0, $"Margin must be non-negative, got {Margin}.", nameof(Margin));
        Require(Augmentation.MaxShift >= 0, $"Max shift must be non-negative, got {Augmentation.MaxShift}.", nameof(Augmentation));
        Require(Threads >= 0, $"Threads must be non-negative, got {Threads}.", nameof(Threads));
        Require(EvaluateEvery >= 0, $"EvaluateEvery must be non-negative, got {EvaluateEvery}.", nameof(EvaluateEvery));
        Require(TimeBudgetSeconds is null or > 0, $"The time budget must be positive, got {TimeBudgetSeconds}.", nameof(TimeBudgetSeconds));
        Require(EvaluationBatchSize >= 1, $"Evaluation batch size must be positive, got {EvaluationBatchSize}.", nameof(EvaluationBatchSize));
        Require(CollapseSpread is >= 0 and <= 1, $"The collapse threshold must be in 0-1, got {CollapseSpread}.", nameof(CollapseSpread));
        Require(InstanceLossWeight >= 0 && double.IsFinite(InstanceLossWeight), $"The instance-loss weight must be non-negative, got {InstanceLossWeight}.", nameof(InstanceLossWeight));
        Require(InstanceTemperature >= 0 && double.IsFinite(InstanceTemperature), $"The instance temperature must be non-negative, got {InstanceTemperature}.", nameof(InstanceTemperature));
        Require(EarlyStoppingPatience >= 0, $"Early-stopping patience must be non-negative, got {EarlyStoppingPatience}.", nameof(EarlyStoppingPatience));
        PhotoAugmentation?.Validate();
        FineTuning?.Validate(Architecture);
    }

    /// <summary>The learning rate during 0-based epoch <paramref name="epoch"/> (step decay).</summary>
    public double LearningRateAt(int epoch) =>
        LearningRateStepEpochs == 0 ? LearningRate : LearningRate * Math.Pow(LearningRateDecay, epoch / LearningRateStepEpochs);

    /// <summary>Smallest learning rate of the cosine schedule, as a fraction of <see cref="LearningRate"/>.</summary>
    public const double CosineFloor = 0.01;

    /// <summary>
    /// The learning rate after a fraction <paramref name="progress"/> (0–1) of the run: the step schedule
    /// at epoch <paramref name="epoch"/>, or the cosine curve at <paramref name="progress"/>.
    /// </summary>
    public double LearningRateAt(int epoch, double progress) => Schedule switch
    {
        LearningRateSchedule.Cosine => LearningRate * (CosineFloor + (1 - CosineFloor) * 0.5 * (1 + Math.Cos(Math.PI * Math.Clamp(progress, 0, 1)))),
        _ => LearningRateAt(epoch),
    };

    private static void Require(bool condition, string message, string name)
    {
        if (!condition)
        {
            throw new ArgumentException(message, name);
        }
    }
}
