using System.Diagnostics;
using ImageRetrieval.Datasets;
using ImageRetrieval.Datasets.Evaluation;
using ImageRetrieval.Training.Checkpoints;
using ImageRetrieval.Training.Losses;
using ImageRetrieval.Training.Mining;
using ImageRetrieval.Training.Networks;
using ImageRetrieval.Training.Runtime;
using TorchSharp;
using OptimizerHelper = TorchSharp.Modules.OptimizerHelper;
using TripletMarginLoss = ImageRetrieval.Training.Losses.TripletMarginLoss;
using static TorchSharp.torch;

namespace ImageRetrieval.Training;

/// <summary>The outcome of a training run.</summary>
/// <param name="Network">The trained network (in evaluation mode); the caller disposes it.</param>
/// <param name="Info">Its description and per-epoch history (what the checkpoint stores).</param>
public sealed record TrainingResult(EmbeddingNetwork Network, CheckpointInfo Info)
{
    /// <summary>
    /// How the frozen backbone's features were computed once for this run (<see cref="TrainingOptions.CacheFrozenFeatures"/>),
    /// or <see langword="null"/> when the backbone ran on every training batch.
    /// </summary>
    public FrozenFeatureSummary? FrozenFeatures { get; init; }
}

/// <summary>
/// Trains an <see cref="EmbeddingNetwork"/> with triplet loss: P×K batches, online mining on one
/// pairwise distance matrix per batch, Adam with step decay, optional augmentation, retrieval
/// evaluation (validation images as queries against the training images as gallery) and resumable
/// checkpoints after every epoch.
/// </summary>
public static class TripletTrainer
{
    /// <summary>Runs the training.</summary>
    /// <param name="train">Training images (their mean/std become the network's input normalisation).</param>
    /// <param name="validation">Images to evaluate retrieval with, or <see langword="null"/>.</param>
    /// <param name="options">The recipe.</param>
    /// <param name="progress">Receives batch, evaluation and epoch reports.</param>
    /// <param name="cancellationToken">Stops between batches; the last checkpoint stays valid.</param>
    /// <exception cref="ArgumentException">Invalid options, or data that does not fit the network (or the checkpoint resumed).</exception>
    /// <exception cref="InvalidDataException">The checkpoint to resume is unreadable.</exception>
    public static TrainingResult Train(
        LabeledImageSet train,
        LabeledImageSet? validation,
        TrainingOptions options,
        IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellationToken = default) =>
        Train(train, validation, null, options, progress, cancellationToken);

    /// <summary>Runs the training, evaluating <paramref name="validation"/> as queries against <paramref name="validationGallery"/>.</summary>
    /// <param name="train">Training images (their mean/std become the network's input normalisation).</param>
    /// <param name="validation">Images to evaluate retrieval with, or <see langword="null"/>.</param>
    /// <param name="validationGallery">
    /// The gallery the validation queries search, e.g. the rest of the held-out classes of a <see cref="ValidationSplit"/>;
    /// <see langword="null"/>: the training images.
    /// </param>
    /// <param name="options">The recipe.</param>
    /// <param name="progress">Receives batch, evaluation and epoch reports.</param>
    /// <param name="cancellationToken">Stops between batches; the last checkpoint stays valid.</param>
    /// <exception cref="ArgumentException">Invalid options, or data that does not fit the network (or the checkpoint resumed).</exception>
    /// <exception cref="InvalidDataException">The checkpoint to resume is unreadable.</exception>
    /// <exception cref="EmbeddingCollapseException">The embeddings collapsed (<see cref="TrainingOptions.CollapseSpread"/>); the checkpoint holds that epoch.</exception>
    public static TrainingResult Train(
        LabeledImageSet train,
        LabeledImageSet? validation,
        LabeledImageSet? validationGallery,
        TrainingOptions options,
        IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        TorchRuntime.SetThreads(options.Threads);

        EmbeddingNetwork network;
        CheckpointInfo info;
        TrainingOptions recipe = options;
        if (options.ResumeFrom is { } resumePath)
        {
            network = CheckpointFile.Load(resumePath, out info);
            recipe = (info.Options ?? options) with
            {
                Epochs = options.Epochs,
                CheckpointPath = options.CheckpointPath,
                ResumeFrom = resumePath,
                Threads = options.Threads,
                EvaluateEvery = options.EvaluateEvery,
                EvaluationBatchSize = options.EvaluationBatchSize,
                CollapseSpread = options.CollapseSpread,
                EarlyStoppingPatience = options.EarlyStoppingPatience,
                CacheFrozenFeatures = options.CacheFrozenFeatures,
            };
        }
        else
        {
            torch.random.manual_seed(options.Seed);
            network = TrainingInputs.CreateNetwork(train, options);
            info = new CheckpointInfo
            {
                Spec = network.Spec,
                TrainingDataset = train.Name,
                Metric = PairwiseDistances.MetricName(options.Distance),
                ClassNames = train.ClassNames,
                Options = options,
            };
        }
        recipe.FineTuning?.ApplyTo(network);
        TrainingInputs.RequireTrainingShape(train, network.Spec, recipe);
        if (validation is not null)
        {
            // Sets carved from a training folder stored larger for photo crops are compared whole, at the input size.
            validation = recipe.PhotoAugmentation is null ? validation : TrainingInputs.EvaluationGallery(validation, network.Spec);
            NetworkEmbedder.RequireShape(validation, network.Spec);
        }
        if (validationGallery is not null)
        {
            validationGallery = recipe.PhotoAugmentation is null ? validationGallery : TrainingInputs.EvaluationGallery(validationGallery, network.Spec);
            NetworkEmbedder.RequireShape(validationGallery, network.Spec);
        }

        FrozenFeatures? frozen = null;
        try
        {
            // A frozen backbone (batch norm on stored statistics) gives every image the same features in every epoch:
            // compute them once and train the head on them (FrozenFeatures). Resumed runs compute them again, once.
            if (FrozenFeatures.Applies(recipe, network))
            {
                frozen = FrozenFeatures.Compute(network, TrainingInputs.EvaluationGallery(train, network.Spec), validation, validationGallery, recipe, progress, cancellationToken);
            }
            IBatchSampler sampler = TrainingBatches.Sampler(train.Labels, recipe);
            using var labelsOnDevice = torch.tensor(train.Labels.ToArray().Select(l => (long)l).ToArray());
            TrainingBatches batches = frozen is null ? new ImageBatches(network, train, labelsOnDevice) : new FeatureBatches(network.HeadLayer, frozen.Train, labelsOnDevice);
            var optimizer = new SafeOptimizers.Adam(batches.Parameters(), recipe.LearningRate, recipe.WeightDecay);
            if (recipe.ResumeFrom is not null)
            {
                CheckpointFile.TryLoadOptimizer(recipe.ResumeFrom, optimizer);
            }
            var history = new List<EpochSummary>(info.History);
            LabeledImageSet? gallery = validation is null ? null : validationGallery ?? TrainingInputs.EvaluationGallery(train, network.Spec);
            Func<RetrievalMetricsResult>? evaluate = validation is null ? null
                : frozen is null ? () => Evaluate(network, validation, gallery!, recipe.EvaluationBatchSize, cancellationToken)
                : () => frozen.Evaluate(network.HeadLayer, validation, gallery!);
            using var earlyStopping = new EarlyStopping(recipe.EarlyStoppingPatience);
            RunEpochs(batches, sampler, optimizer, recipe, info.Epoch, evaluate, progress, cancellationToken, summary =>
            {
                bool stopEarly = summary.Validation is { } metrics && earlyStopping.Observe(network, metrics.MapAtR);
                if (stopEarly)
                {
                    // Keep the best weights: the checkpoint and the result are the network that validated best.
                    earlyStopping.RestoreBest(network);
                    summary = summary with { StoppedEarly = true };
                }
                history.Add(summary);
                info = info with { Epoch = summary.Epoch, History = history.ToArray(), Options = recipe with { ResumeFrom = null } };
                if (recipe.CheckpointPath is { } checkpointPath)
                {
                    CheckpointFile.Save(checkpointPath, network, info, optimizer);
                }
                return (summary, stopEarly);
            });
            network.eval();
            return new TrainingResult(network, info) { FrozenFeatures = frozen?.Summary };
        }
        catch
        {
            network.Dispose();
            throw;
        }
        finally
        {
            frozen?.Dispose();
        }
    }

    /// <summary>
    /// Trains a linear head on feature vectors computed beforehand — by any backbone, e.g. the rows an
    /// <c>ImageEmbedder</c> returns for <c>imagenet-resnet18</c> — with the same loop as <see cref="Train(LabeledImageSet, LabeledImageSet?, TrainingOptions, IProgress{TrainingProgress}?, CancellationToken)"/>:
    /// the recipe's sampler, miner, loss, optimiser, learning-rate schedule, time budget, triplet statistics, collapse guard
    /// and progress reports. What a run with a frozen backbone does inside (<see cref="TrainingOptions.CacheFrozenFeatures"/>),
    /// for features that come from elsewhere. There is no augmentation, validation, checkpoint or instance term: the
    /// features are fixed, and the caller scores the head (<see cref="FeatureHead.Embed"/>).
    /// </summary>
    /// <param name="head">The head to train (its weights change in place).</param>
    /// <param name="features">Row after row, <paramref name="labels"/>.Length × <see cref="FeatureHead.InputDimension"/> values.</param>
    /// <param name="labels">One class label per row.</param>
    /// <param name="options">The recipe (<see cref="TrainingOptions.Architecture"/>, the network and fine-tuning settings, checkpoints and validation settings are not used).</param>
    /// <param name="progress">Receives batch and epoch reports.</param>
    /// <param name="cancellationToken">Stops between batches.</param>
    /// <returns>One summary per epoch.</returns>
    /// <exception cref="ArgumentException">Invalid options, or features that do not fit the head or the labels.</exception>
    /// <exception cref="EmbeddingCollapseException">The embeddings collapsed (<see cref="TrainingOptions.CollapseSpread"/>).</exception>
    public static IReadOnlyList<EpochSummary> TrainHead(
        FeatureHead head,
        float[] features,
        int[] labels,
        TrainingOptions options,
        IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(head);
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (features.Length != (long)labels.Length * head.InputDimension)
        {
            throw new ArgumentException(
                $"{features.Length} feature values do not make {labels.Length} rows of {head.InputDimension} (the head's input).", nameof(features));
        }
        TorchRuntime.SetThreads(options.Threads);
        torch.random.manual_seed(options.Seed);
        IBatchSampler sampler = TrainingBatches.Sampler(labels, options);
        using var rows = torch.tensor(features, [labels.Length, head.InputDimension]);
        using var labelsOnDevice = torch.tensor(labels.Select(l => (long)l).ToArray());
        var batches = new FeatureBatches(head.Layer, rows, labelsOnDevice);
        var optimizer = new SafeOptimizers.Adam(batches.Parameters(), options.LearningRate, options.WeightDecay);
        var history = new List<EpochSummary>();
        RunEpochs(batches, sampler, optimizer, options, 0, null, progress, cancellationToken, summary =>
        {
            history.Add(summary);
            return (summary, false);
        });
        head.Layer.eval();
        return history;
    }

    /// <summary>
    /// The epochs of a run from <paramref name="firstEpoch"/>: train, evaluate when due, hand the summary to
    /// <paramref name="closeEpoch"/> (history, checkpoint, early stopping; true: stop), report it, stop on a collapse.
    /// </summary>
    private static void RunEpochs(
        TrainingBatches batches,
        IBatchSampler sampler,
        OptimizerHelper optimizer,
        TrainingOptions recipe,
        int firstEpoch,
        Func<RetrievalMetricsResult>? evaluate,
        IProgress<TrainingProgress>? progress,
        CancellationToken cancellationToken,
        Func<EpochSummary, (EpochSummary Summary, bool Stop)> closeEpoch)
    {
        var loss = new TripletMarginLoss(recipe.Margin, recipe.SoftMargin);
        // The budget counts training only: the clock stops for evaluation and checkpointing.
        var budget = new Stopwatch();
        bool BudgetSpent() => recipe.TimeBudgetSeconds is { } seconds && budget.Elapsed.TotalSeconds >= seconds;
        for (int epoch = firstEpoch; epoch < recipe.Epochs; epoch++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // Ctrl+C (cancellation) or the time budget closes the epoch after the current batch:
            // it is checkpointed (and, for the budget, evaluated) like a full one.
            budget.Start();
            EpochSummary summary = RunEpoch(batches, optimizer, loss, sampler, recipe, epoch, progress,
                () => BudgetSpent() || cancellationToken.IsCancellationRequested,
                () => recipe.TimeBudgetSeconds is { } seconds ? budget.Elapsed.TotalSeconds / seconds : 0);
            budget.Stop();
            bool interrupted = cancellationToken.IsCancellationRequested;
            bool lastEpoch = epoch == recipe.Epochs - 1 || BudgetSpent();
            bool due = evaluate is not null && !interrupted &&
                (lastEpoch || (recipe.EvaluateEvery > 0 && (epoch + 1) % recipe.EvaluateEvery == 0));
            if (due)
            {
                progress?.Report(new TrainingProgress(TrainingPhase.Evaluating, epoch + 1, recipe.Epochs, sampler.BatchesPerEpoch, sampler.BatchesPerEpoch, summary.Loss));
                summary = summary with { Validation = evaluate!() };
            }
            (summary, bool stop) = closeEpoch(summary);
            progress?.Report(new TrainingProgress(TrainingPhase.EpochCompleted, epoch + 1, recipe.Epochs, sampler.BatchesPerEpoch, sampler.BatchesPerEpoch, summary.Loss, summary));
            cancellationToken.ThrowIfCancellationRequested();
            if (recipe.CollapseSpread > 0 && summary.Triplets is { } triplets && triplets.Spread < recipe.CollapseSpread)
            {
                throw new EmbeddingCollapseException(epoch + 1, triplets, recipe.CollapseSpread);
            }
            if (lastEpoch || stop)
            {
                break;
            }
        }
    }

    /// <summary>Retrieval metrics of <paramref name="network"/>: <paramref name="queries"/> against <paramref name="gallery"/>.</summary>
    public static RetrievalMetricsResult Evaluate(EmbeddingNetwork network, LabeledImageSet queries, LabeledImageSet gallery, int batchSize = 500, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(queries);
        ArgumentNullException.ThrowIfNull(gallery);
        float[] q = NetworkEmbedder.Embed(network, queries, batchSize, null, cancellationToken);
        float[] g = NetworkEmbedder.Embed(network, gallery, batchSize, null, cancellationToken);
        return RetrievalMetrics.Compute(q, queries.Labels, g, gallery.Labels, network.OutputDimension);
    }

    private static EpochSummary RunEpoch(
        TrainingBatches batchSource,
        OptimizerHelper optimizer,
        TripletMarginLoss loss,
        IBatchSampler sampler,
        TrainingOptions recipe,
        int epoch,
        IProgress<TrainingProgress>? progress,
        Func<bool> stop,
        Func<double> budgetFraction)
    {
        // Every epoch is seeded on its own, so a resumed run draws the same batches as an uninterrupted one.
        int epochSeed = EpochSeed(recipe.Seed, epoch);
        torch.random.manual_seed(epochSeed);
        var random = new Random(epochSeed);
        double learningRate = recipe.LearningRateAt(epoch);
        void SetLearningRate(double value)
        {
            foreach (var group in optimizer.ParamGroups)
            {
                group.LearningRate = value;
            }
        }
        SetLearningRate(learningRate);
        ITripletMiner miner = TripletMiners.Create(recipe.Miner, recipe.Margin);
        var statistics = new TripletStatisticsAccumulator(recipe.Margin, recipe.Distance);

        batchSource.Train();
        var watch = Stopwatch.StartNew();
        TimeSpan cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
        double lossSum = 0;
        double activeFractionSum = 0;
        double tripletSum = 0;
        double assemblySeconds = 0;
        int batches = 0;
        int images = 0;
        foreach (int[] indices in sampler.Epoch(epochSeed))
        {
            if (batches > 0 && stop())
            {
                break;
            }
            if (recipe.Schedule != LearningRateSchedule.Step)
            {
                // Progress through the run: by batches over all epochs, or by the time budget if that ends sooner.
                double progressByBatches = (epoch + (double)batches / sampler.BatchesPerEpoch) / recipe.Epochs;
                learningRate = recipe.LearningRateAt(epoch, Math.Max(progressByBatches, budgetFraction()));
                SetLearningRate(learningRate);
            }
            using var scope = torch.NewDisposeScope();
            long assemblyStart = Stopwatch.GetTimestamp();
            var (input, labels, instances) = batchSource.Assemble(indices, recipe, random);
            assemblySeconds += Stopwatch.GetElapsedTime(assemblyStart).TotalSeconds;

            var embeddings = batchSource.Embed(input);
            var distances = PairwiseDistances.Compute(embeddings, recipe.Distance);
            statistics.Add(TripletStatisticsAccumulator.ToArray(distances), labels.data<long>().Select(l => (int)l).ToArray());
            TripletIndices triplets = miner.Mine(distances, labels);
            TripletLossValue value = loss.Compute(distances, triplets);
            Tensor total = !instances ? value.Loss
                : value.Loss + recipe.InstanceLossWeight * (recipe.InstanceTemperature > 0
                    ? InstanceViews.NtXentLoss(embeddings, recipe.InstanceTemperature)
                    : InstanceViews.Loss(distances, miner, loss));

            optimizer.zero_grad();
            total.backward();
            optimizer.step();

            double batchLoss = value.Loss.item<float>();
            if (!double.IsFinite(batchLoss))
            {
                throw new InvalidOperationException($"The loss became {batchLoss} in epoch {epoch + 1}, batch {batches + 1}; lower the learning rate.");
            }
            lossSum += batchLoss;
            tripletSum += value.TripletCount;
            activeFractionSum += value.TripletCount == 0 ? 0 : (double)value.ActiveCount / value.TripletCount;
            batches++;
            images += indices.Length;
            if (progress is not null && (batches % 10 == 0 || batches == sampler.BatchesPerEpoch))
            {
                progress.Report(new TrainingProgress(TrainingPhase.Training, epoch + 1, recipe.Epochs, batches, sampler.BatchesPerEpoch, lossSum / batches));
            }
        }
        double seconds = watch.Elapsed.TotalSeconds;
        double cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds;
        return new EpochSummary(epoch + 1, lossSum / batches, activeFractionSum / batches, tripletSum / batches, learningRate, seconds, images / seconds, cpuSeconds, null, assemblySeconds, statistics.Mean());
    }

    /// <summary>
    /// The seed of one epoch, a fixed function of the run's seed and the epoch number (SplitMix64's finaliser), so
    /// the same command draws the same batches in every process. <c>HashCode.Combine</c>, used before, is seeded
    /// randomly per process: two runs of one command, or a run resumed in a new process, drew different batches.
    /// </summary>
    internal static int EpochSeed(int seed, int epoch)
    {
        ulong z = unchecked(((ulong)(uint)seed << 32 | (uint)epoch) + 0x9E3779B97F4A7C15UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return unchecked((int)(z ^ (z >> 31)));
    }

    /// <summary>Per-channel mean and standard deviation of 0–255 pixel values.</summary>
    internal static (float[] Mean, float[] Std) ChannelStatistics(LabeledImageSet set)
    {
        var mean = new float[set.Channels];
        var std = new float[set.Channels];
        int plane = set.Height * set.Width;
        for (int c = 0; c < set.Channels; c++)
        {
            double sum = 0;
            double squares = 0;
            for (int i = 0; i < set.Count; i++)
            {
                foreach (byte value in set.GetImage(i).Slice(c * plane, plane))
                {
                    sum += value;
                    squares += (double)value * value;
                }
            }
            double n = (double)set.Count * plane;
            double m = sum / n;
            mean[c] = (float)m;
            std[c] = (float)Math.Max(Math.Sqrt(Math.Max(0, squares / n - m * m)), 1e-3);
        }
        return (mean, std);
    }
}
