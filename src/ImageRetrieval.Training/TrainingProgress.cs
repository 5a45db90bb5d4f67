using ImageRetrieval.Datasets.Evaluation;

namespace ImageRetrieval.Training;

/// <summary>What the trainer is doing.</summary>
public enum TrainingPhase
{
    /// <summary>Optimising; <see cref="TrainingProgress.Batch"/> advances.</summary>
    Training,

    /// <summary>Embedding and scoring the validation set.</summary>
    Evaluating,

    /// <summary>An epoch ended; <see cref="TrainingProgress.Summary"/> holds it.</summary>
    EpochCompleted,

    /// <summary>
    /// Before the first epoch, the frozen backbone runs once over every image (<see cref="TrainingOptions.CacheFrozenFeatures"/>):
    /// <see cref="TrainingProgress.Batch"/> counts the images done of <see cref="TrainingProgress.BatchesPerEpoch"/>; the epoch is 0.
    /// </summary>
    CachingFeatures,
}

/// <summary>A progress report from <see cref="TripletTrainer"/>.</summary>
/// <param name="Phase">What is happening.</param>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Epochs">Epochs in the run.</param>
/// <param name="Batch">Batches done in this epoch.</param>
/// <param name="BatchesPerEpoch">Batches per epoch.</param>
/// <param name="Loss">Mean loss of the epoch so far.</param>
/// <param name="Summary">The finished epoch (with <see cref="TrainingPhase.EpochCompleted"/>).</param>
public sealed record TrainingProgress(
    TrainingPhase Phase,
    int Epoch,
    int Epochs,
    int Batch,
    int BatchesPerEpoch,
    double Loss,
    EpochSummary? Summary = null);

/// <summary>One finished epoch.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Loss">Mean batch loss.</param>
/// <param name="ActiveTripletFraction">Mean fraction of mined triplets with a positive loss.</param>
/// <param name="TripletsPerBatch">Mean number of mined triplets per batch.</param>
/// <param name="LearningRate">The learning rate used.</param>
/// <param name="Seconds">Wall time of the optimisation (evaluation excluded).</param>
/// <param name="ImagesPerSecond">Training throughput (images per wall-clock second).</param>
/// <param name="CpuSeconds">Process CPU time spent on the optimisation (all threads).</param>
/// <param name="Validation">Retrieval metrics on the validation set, when evaluated.</param>
/// <param name="BatchAssemblySeconds">Wall time spent assembling batches (pixels → augmented tensor, labels), part of <paramref name="Seconds"/>.</param>
/// <param name="Triplets">What the training batches' embeddings looked like (every valid triplet, not only the mined ones).</param>
/// <param name="StoppedEarly">Validation stopped improving (<see cref="TrainingOptions.EarlyStoppingPatience"/>): the run ended here with the best epoch's weights.</param>
public sealed record EpochSummary(
    int Epoch,
    double Loss,
    double ActiveTripletFraction,
    double TripletsPerBatch,
    double LearningRate,
    double Seconds,
    double ImagesPerSecond,
    double CpuSeconds,
    RetrievalMetricsResult? Validation,
    double BatchAssemblySeconds = 0,
    TripletStatistics? Triplets = null,
    bool StoppedEarly = false);
