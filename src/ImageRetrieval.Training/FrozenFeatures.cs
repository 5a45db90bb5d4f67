using System.Diagnostics;
using ImageRetrieval.Datasets;
using ImageRetrieval.Datasets.Evaluation;
using ImageRetrieval.Training.Mining;
using ImageRetrieval.Training.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ImageRetrieval.Training;

/// <summary>
/// A frozen backbone's features, computed once per image so that only the head trains
/// (<see cref="TrainingOptions.CacheFrozenFeatures"/>). With every layer but the head frozen and batch norm on its stored
/// statistics, the backbone's output for an image never changes during the run, so running it again every epoch only
/// costs time. Each image is embedded once, un-augmented, at the network's input size — the training images as the
/// evaluation gallery sees them (<see cref="TrainingInputs.EvaluationGallery"/>: photos stored larger for random crops are
/// resized whole) — and the validation queries and their gallery likewise; evaluation then runs the head over the cached
/// rows too. Augmentation is therefore not applied to the head's training steps.
/// </summary>
internal sealed class FrozenFeatures : IDisposable
{
    /// <summary>Images per backbone pass while the features are computed.</summary>
    public const int BatchSize = 64;

    private FrozenFeatures(Tensor train, Tensor? queries, Tensor? gallery, int images, double seconds)
    {
        Train = train;
        Queries = queries;
        Gallery = gallery;
        Summary = new FrozenFeatureSummary(images, seconds);
    }

    /// <summary>The training images' features <c>[N, F]</c>, in dataset order.</summary>
    public Tensor Train { get; }

    /// <summary>The validation queries' features, or null without validation.</summary>
    public Tensor? Queries { get; }

    /// <summary>The validation gallery's features; null: the training images' (<see cref="Train"/>).</summary>
    public Tensor? Gallery { get; }

    /// <summary>How many images went through the backbone, and how long it took.</summary>
    public FrozenFeatureSummary Summary { get; }

    /// <summary>
    /// Whether a run can train on cached features: enabled, every backbone layer frozen (<see cref="FineTuningOptions.FreezeBackbone"/>,
    /// no stage unfrozen), batch norm on its stored statistics (or no batch norm at all), and no instance term (it needs two
    /// augmented views of every image per step).
    /// </summary>
    public static bool Applies(TrainingOptions recipe, EmbeddingNetwork network) =>
        recipe.CacheFrozenFeatures
        && recipe.FineTuning is { FreezeBackbone: true, UnfreezeStages: null } fineTuning
        && (fineTuning.BatchNormMode == BatchNormMode.Eval || !network.modules().OfType<BatchNorm>().Any())
        && !InstanceViews.Apply(recipe)
        && !network.Spec.EmbedsLayers;

    /// <summary>Runs the backbone once over every image of the three sets (already at the network's input size).</summary>
    public static FrozenFeatures Compute(
        EmbeddingNetwork network, LabeledImageSet train, LabeledImageSet? queries, LabeledImageSet? gallery,
        TrainingOptions recipe, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        int total = train.Count + (queries?.Count ?? 0) + (gallery?.Count ?? 0);
        int done = 0;
        Tensor Features(LabeledImageSet set)
        {
            var rows = new List<Tensor>();
            using var _ = torch.no_grad();
            for (int start = 0; start < set.Count; start += BatchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int count = Math.Min(BatchSize, set.Count - start);
                using var scope = torch.NewDisposeScope();
                var batch = NetworkEmbedder.ToTensor(set.Pixels.Slice(start * set.ImageSize, count * set.ImageSize), count, set.Channels, set.Height, set.Width);
                rows.Add(network.ForwardBackbone(network.Preprocess.forward(batch)).contiguous().MoveToOuterDisposeScope());
                done += count;
                progress?.Report(new TrainingProgress(TrainingPhase.CachingFeatures, 0, recipe.Epochs, done, total, 0));
            }
            Tensor all = torch.cat(rows);
            rows.ForEach(r => r.Dispose());
            return all;
        }

        bool wasTraining = network.training;
        network.eval();
        try
        {
            Tensor trainFeatures = Features(train);
            Tensor? queryFeatures = queries is null ? null : Features(queries);
            Tensor? galleryFeatures = gallery is null ? null : Features(gallery);
            return new FrozenFeatures(trainFeatures, queryFeatures, galleryFeatures, total, watch.Elapsed.TotalSeconds);
        }
        finally
        {
            network.train(wasTraining);
        }
    }

    /// <summary>Retrieval metrics of the head over the cached validation queries against the cached gallery.</summary>
    public RetrievalMetricsResult Evaluate(Linear head, LabeledImageSet queries, LabeledImageSet gallery) =>
        RetrievalMetrics.Compute(FeatureBatches.Embed(head, Queries!), queries.Labels, FeatureBatches.Embed(head, Gallery ?? Train), gallery.Labels, (int)head.weight!.shape[0]);

    public void Dispose()
    {
        Train.Dispose();
        Queries?.Dispose();
        Gallery?.Dispose();
    }
}

/// <summary>What <see cref="TripletTrainer"/> did to train on cached backbone features (<see cref="TrainingOptions.CacheFrozenFeatures"/>).</summary>
/// <param name="Images">Images that went through the frozen backbone, once each: training images, validation queries and their gallery.</param>
/// <param name="Seconds">Wall time of those backbone passes (not part of the epochs' training time).</param>
public sealed record FrozenFeatureSummary(int Images, double Seconds);
