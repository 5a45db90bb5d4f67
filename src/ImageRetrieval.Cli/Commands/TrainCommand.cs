using System.Text.Json.Serialization;
using System.CommandLine;
using ImageRetrieval.Cli.Output;
using ImageRetrieval.Cli.Services;
using ImageRetrieval.Training;
using ImageRetrieval.Training.Augmentation;
using ImageRetrieval.Training.Checkpoints;
using ImageRetrieval.Training.Mining;
using ImageRetrieval.Training.Networks;
using Spectre.Console;

namespace ImageRetrieval.Cli.Commands;

/// <summary><c>imgret train</c>: triplet-loss training of an embedding network, with a resumable checkpoint per epoch.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var flags = new Flags();
        var command = new Command("train", "Train a siamese embedding network with triplet loss (TorchSharp, CPU).");
        flags.AddTo(command);
        command.SetAction((parse, cancellationToken) => Task.FromResult(CliOutput.Run(() => Run(parse, flags, cancellationToken))));
        return command;
    }

    private static int Run(ParseResult parse, Flags flags, CancellationToken cancellationToken)
    {
        string? resumePath = parse.GetValue(flags.Resume);
        CheckpointInfo? resumed = resumePath is null ? null : CheckpointFile.ReadInfo(resumePath);
        string? trainDir = parse.GetValue(flags.TrainDir);
        // A folder's input size and channels follow its images unless given (a resumed run keeps the checkpoint's).
        FolderInput? input = trainDir is null || resumed is not null ? null
            : FolderTrainingSetup.InferInput(trainDir, parse.GetValue(flags.Architecture)!, parse.GetValue(flags.Size), parse.GetValue(flags.Channels));
        TrainingOptions options = flags.Recipe(parse, resumed, input?.Side, out int side);
        bool quiet = parse.GetValue(flags.Json);
        // Photo augmentation crops from images stored larger than the network input; validation images are stored at the input size.
        SelectedSets sets = DatasetSelection.ForTraining(parse.GetValue(flags.Dataset)!, parse.GetValue(flags.Data), trainDir, parse.GetValue(flags.TestDir),
            resumed?.Spec.Channels ?? input?.Channels ?? parse.GetValue(flags.Channels) ?? 3, options.PhotoAugmentation?.StorageSize() ?? side, side,
            parse.GetValue(flags.Limit), parse.GetValue(flags.ValidationLimit), parse.GetValue(flags.Threads), cancellationToken);
        CliOutput.ReportSkipped(sets.Skipped);
        TrainingValidation validation = FolderTrainingSetup.ChooseValidation(sets.First, sets.Second, trainDir is not null, parse.GetValue(flags.Validation)!, options.Seed);

        TrainingResult result;
        try
        {
            result = TrainingConsole.Train(validation, options, input, quiet, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            AnsiConsole.MarkupLineInterpolated($"[yellow]Interrupted.[/] The checkpoint [green]{options.CheckpointPath}[/] holds the last (possibly partial) epoch; continue with --resume {options.CheckpointPath}.");
            return 130;
        }
        using var network = result.Network;
        string? onnxPath = parse.GetValue(flags.Output);
        float? parity = null;
        if (onnxPath is not null)
        {
            ModelExport.Export(network, result.Info, onnxPath);
            parity = ModelExport.Verify(network, onnxPath);
        }
        var history = result.Info.History;
        double trainSeconds = history.Sum(h => h.Seconds);
        // Images per batch: P×K, or 3 per triplet for the classic random triplets.
        int batchSize = options.ClassesPerBatch * options.SamplesPerClass * (options.Miner == TripletMiningStrategy.Random ? 3 : 1);
        // Triplets the loss saw per second of training, over the whole run (all epochs of this process and before).
        double tripletsPerSecond = history.Sum(h => h.TripletsPerBatch * h.ImagesPerSecond * h.Seconds / batchSize) / Math.Max(1e-9, trainSeconds);
        double imagesPerSecond = history.Sum(h => h.ImagesPerSecond * h.Seconds) / Math.Max(1e-9, trainSeconds);
        if (quiet)
        {
            CliOutput.WriteJson(Json(options, result, sets, validation, onnxPath, parity, trainSeconds, imagesPerSecond, tripletsPerSecond), CliJsonContext.Default.TrainJson);
            return 0;
        }
        AnsiConsole.MarkupLineInterpolated($"Checkpoint: [green]{options.CheckpointPath}[/] (epoch {result.Info.Epoch}); {trainSeconds:F0} s of training, {imagesPerSecond:F0} images/s, {tripletsPerSecond:F0} triplets/s.");
        if (onnxPath is not null)
        {
            AnsiConsole.MarkupLineInterpolated($"ONNX model: [green]{onnxPath}[/] (max |TorchSharp − ONNX Runtime| = {parity:E2}).");
        }
        return 0;
    }

    private static TrainJson Json(TrainingOptions options, TrainingResult result, SelectedSets sets, TrainingValidation check, string? onnxPath, float? parity,
        double trainSeconds, double imagesPerSecond, double tripletsPerSecond)
    {
        EmbeddingNetwork network = result.Network;
        var history = result.Info.History;
        var validation = history.LastOrDefault(h => h.Validation is not null)?.Validation;
        return new TrainJson(
            options.CheckpointPath,
            onnxPath,
            parity,
            sets.First.Name,
            sets.Skipped.Count,
            network.Spec.Architecture,
            options.FineTuning?.PretrainedWeights is not null,
            options.PhotoAugmentation is null ? (options.Augmentation.Enabled ? "shift-flip" : "none") : "photo",
            network.Spec.Height,
            network.parameters().Where(p => p.requires_grad).Sum(p => p.numel()),
            network.OutputDimension,
            options.Miner.ToString(),
            result.Info.Epoch,
            history[^1].Loss,
            trainSeconds,
            imagesPerSecond,
            tripletsPerSecond,
            history.Sum(h => h.BatchAssemblySeconds) / Math.Max(1e-9, trainSeconds),
            ImageRetrieval.Training.Runtime.TorchRuntime.Description,
            history.Select(h => h.ImagesPerSecond * h.Seconds / h.CpuSeconds).Order().ElementAt(history.Count / 2),
            validation?.QueryCount,
            validation?.PrecisionAt1,
            validation?.RecallAt1,
            validation?.RecallAt5,
            validation?.RecallAt10,
            validation?.MapAtR,
            network.Spec.Channels,
            check.Kind,
            history[^1].StoppedEarly,
            history[^1].Triplets?.ViolatingFraction,
            history[^1].Triplets?.WrongOrderFraction,
            history[^1].Triplets?.MeanPositiveDistance,
            history[^1].Triplets?.MeanNegativeDistance,
            history[^1].Triplets?.Spread,
            result.FrozenFeatures?.Images,
            result.FrozenFeatures?.Seconds);
    }

    /// <summary>
    /// <c>--json</c> of <c>imgret train</c>; the validation metrics are null (left out) without a validation set, and
    /// <c>cached_feature_images</c> / <c>feature_cache_seconds</c> without a frozen backbone's cached features.
    /// </summary>
    internal sealed record TrainJson(string? Checkpoint, string? Model, [property: JsonPropertyName("onnx_max_abs_diff")] float? OnnxMaxAbsDiff, string Dataset,
        int SkippedFiles, string Architecture, bool Pretrained, string Augmentation, int InputSize, long TrainableParameters, int EmbeddingDimension,
        string Miner, int Epochs, double Loss, double TrainSeconds, double ImagesPerSecond, double TripletsPerSecond, double BatchAssemblyFraction,
        string Runtime, double ImagesPerCpuSecond, int? QueryCount, [property: JsonPropertyName("p_at_1")] double? PAt1, [property: JsonPropertyName("recall_at_1")] double? RecallAt1,
        [property: JsonPropertyName("recall_at_5")] double? RecallAt5, [property: JsonPropertyName("recall_at_10")] double? RecallAt10, double? MapAtR,
        int InputChannels, string Validation, bool StoppedEarly, double? ViolatingFraction, double? WrongOrderFraction, double? MeanPositiveDistance,
        double? MeanNegativeDistance, double? Spread, int? CachedFeatureImages, double? FeatureCacheSeconds);

    /// <summary>The flags of <c>imgret train</c> and how they become a <see cref="TrainingOptions"/> recipe.</summary>
    private sealed class Flags
    {
        private static readonly TrainingOptions Defaults = new();

        public Option<string> Dataset { get; } = new("--dataset")
        {
            Description = "fashion-mnist; folder (then --train-dir is required); or oxford102 (Oxford 102 Flowers in --data: trains on the train split trnid, validates with the validation split valid as queries against the train split as gallery).",
            DefaultValueFactory = _ => DatasetSelection.FashionMnistName,
        };

        public Option<string?> Data { get; } = new("--data") { Description = DatasetSelection.DataDescription };
        public Option<string?> TrainDir { get; } = new("--train-dir", "--train") { Description = "Training images, one sub-folder per class." };
        public Option<string?> TestDir { get; } = new("--test-dir", "--test") { Description = "Validation images labelled like --train-dir (optional)." };
        public Option<int?> Size { get; } = new("--size") { Description = "Network input side in pixels for folder and oxford102 images (default: a folder's most common image size, at most 64, 224 for resnet18; 224 for oxford102)." };
        public Option<int?> Channels { get; } = new("--channels") { Description = "1 (grey) or 3 (RGB) for folder images (default: 1 when every sampled image is grey, else 3; 3 for resnet18)." };

        public Option<string> Validation { get; } = new("--validation")
        {
            Description = "Without --test-dir, what a folder run validates with: classes (held-out classes never trained on, queries against their other images), images (held-out images against the training images), none; auto: classes with 8 or more classes, else images.",
            DefaultValueFactory = _ => "auto",
        };

        public Option<int> EarlyStopping { get; } = new("--early-stopping") { Description = "Stop when validation MAP@R has not improved for N evaluations and keep the best weights (0: never).", DefaultValueFactory = _ => Defaults.EarlyStoppingPatience };
        public Option<double> InstanceWeight { get; } = new("--instance-weight") { Description = "Weight of the instance term: two augmented views of every batch image, each the other's only positive (keeps what tells images of a class apart; doubles the images per step; 0: none; folder from scratch: 0.1 unless given).", DefaultValueFactory = _ => Defaults.InstanceLossWeight };
        public Option<double> InstanceTemperature { get; } = new("--instance-temperature") { Description = "The instance term's form: 0, a triplet loss mined like the class term; above 0, NT-Xent (InfoNCE) at this temperature, every other image of the batch a soft negative (folder from scratch: 0.1 unless given).", DefaultValueFactory = _ => Defaults.InstanceTemperature };
        public Option<double> CollapseSpread { get; } = new("--collapse-spread") { Description = "Stop when the embeddings' spread (0-1) over an epoch falls below this: they collapsed to a point (0: never; folder from scratch: 0.05 unless given).", DefaultValueFactory = _ => Defaults.CollapseSpread };
        public Option<int> Limit { get; } = new("--limit") { Description = "Train on the first N images only.", DefaultValueFactory = _ => int.MaxValue };
        public Option<int> ValidationLimit { get; } = new("--validation-limit") { Description = "Validate with the first N test images only.", DefaultValueFactory = _ => int.MaxValue };
        public Option<string> Architecture { get; } = new("--arch") { Description = "Network architecture.", DefaultValueFactory = _ => Defaults.Architecture };
        public Option<string?> EmbeddingLayers { get; } = new("--embedding-layers") { Description = "Embed with these layers' outputs (comma-separated names, e.g. pool2: the classic network's pooled conv features; flattened, normalised, concatenated) instead of the head, which the losses still train; 'head': the head (folder from scratch, classic: pool2 unless given)." };
        public Option<int> Dimension { get; } = new("--embedding-dim", "--dim") { Description = "Embedding dimension (folder from scratch: 128 unless given).", DefaultValueFactory = _ => Defaults.EmbeddingDimension };
        public Option<int> Epochs { get; } = new("--epochs") { Description = "Epochs (in total, when resuming).", DefaultValueFactory = _ => Defaults.Epochs };
        public Option<int> ClassesPerBatch { get; } = new("--classes-per-batch", "--p", "-p") { Description = "P: classes per batch.", DefaultValueFactory = _ => Defaults.ClassesPerBatch };
        public Option<int> SamplesPerClass { get; } = new("--samples-per-class", "--k", "-k") { Description = "K: images per class per batch.", DefaultValueFactory = _ => Defaults.SamplesPerClass };
        public Option<double> LearningRate { get; } = new("--lr") { Description = "Adam learning rate (folder from scratch: 2e-3 when embedding with inner layers, else 5e-4, unless given).", DefaultValueFactory = _ => Defaults.LearningRate };
        public Option<int> LrStep { get; } = new("--lr-step") { Description = "Decay the learning rate every N epochs (0: never).", DefaultValueFactory = _ => Defaults.LearningRateStepEpochs };
        public Option<double> LrDecay { get; } = new("--lr-decay") { Description = "Learning-rate decay factor.", DefaultValueFactory = _ => Defaults.LearningRateDecay };
        public Option<string> LrSchedule { get; } = new("--lr-schedule") { Description = "step (--lr-step/--lr-decay) or cosine (per batch, to 1 % of --lr at the last epoch or the end of --time-budget, whichever is sooner).", DefaultValueFactory = _ => Kebab(Defaults.Schedule) };
        public Option<double> WeightDecay { get; } = new("--weight-decay") { Description = "Adam weight decay.", DefaultValueFactory = _ => Defaults.WeightDecay };
        public Option<string> Miner { get; } = new("--miner") { Description = "Triplet mining.", DefaultValueFactory = _ => Kebab(Defaults.Miner) };
        public Option<string> Distance { get; } = new("--distance") { Description = "Distance mined and penalised.", DefaultValueFactory = _ => Kebab(Defaults.Distance) };
        public Option<float> Margin { get; } = new("--margin") { Description = "Triplet margin.", DefaultValueFactory = _ => Defaults.Margin };
        public Option<bool> SoftMargin { get; } = new("--soft-margin") { Description = "Soft-plus loss instead of the hinge." };
        public Option<bool> NoFlip { get; } = new("--no-flip") { Description = "No random horizontal flips." };
        public Option<int> Shift { get; } = new("--shift") { Description = "Random translation of up to N pixels (0: none).", DefaultValueFactory = _ => Defaults.Augmentation.MaxShift };
        public Option<int> Seed { get; } = new("--seed") { Description = "Random seed.", DefaultValueFactory = _ => Defaults.Seed };
        public Option<int> Threads { get; } = new("--threads") { Description = "libtorch threads (0: libtorch's default).", DefaultValueFactory = _ => 0 };
        public Option<int> EvalEvery { get; } = new("--eval-every") { Description = "Evaluate every N epochs (0: only at the end).", DefaultValueFactory = _ => Defaults.EvaluateEvery };
        public Option<string?> Checkpoint { get; } = new("--checkpoint") { Description = "Checkpoint written after every epoch (default: checkpoint.ckpt in --checkpoint-dir; else beside --out, with the extension .ckpt; else imgret-train-ARCH-DATASET.ckpt in the working directory)." };
        public Option<string?> CheckpointDir { get; } = new("--checkpoint-dir") { Description = "Folder for the checkpoint (checkpoint.ckpt)." };
        public Option<string?> Resume { get; } = new("--resume") { Description = "Continue the run stored in this checkpoint." };
        public Option<int?> Batch { get; } = new("--batch") { Description = "Images per batch, B = P × K (sets K = B / P)." };
        public Option<double?> TimeBudget { get; } = new("--time-budget") { Description = "Stop after this many seconds of training, evaluation and checkpoints not counted (the epoch in progress is closed, evaluated and checkpointed)." };
        public Option<string?> Output { get; } = new("--out") { Description = "Also export the trained network to this ONNX file (verified against ONNX Runtime)." };
        public Option<bool> Json { get; } = new("--json") { Description = "Print the final summary as one JSON line." };

        public Option<string> Augment { get; } = new("--augment")
        {
            Description = "photo: random resized crop + flip + colour jitter (training images stored at size x 256/224); shift-flip: --shift and flips; none; auto: photo for oxford102, shift-flip otherwise.",
            DefaultValueFactory = _ => "auto",
        };

        public Option<bool> Pretrained { get; } = new("--pretrained") { Description = $"Start --arch resnet18 from ImageNet weights ({ResNet18Weights.PackageId} {ResNet18Weights.PackageVersion}, shipped with imgret); the input is then normalised with ImageNet's channel means." };
        public Option<bool> FreezeBackbone { get; } = new("--freeze-backbone") { Description = "Train only the embedding head (with batch norm in eval mode: on the backbone's features, computed once per un-augmented image)." };
        public Option<bool> NoFeatureCache { get; } = new("--no-feature-cache") { Description = "With --freeze-backbone, run the frozen backbone on every batch (augmented) instead of computing its features once." };
        public Option<int?> UnfreezeStages { get; } = new("--unfreeze-stages") { Description = "resnet18: train the head and the last N residual stages (0-4), freeze the rest." };

        public Option<string> BnMode { get; } = new("--bn-mode")
        {
            Description = "Batch norm while training: train (batch statistics, running statistics updated) or eval (stored statistics kept); auto: eval when layers are frozen, else train.",
            DefaultValueFactory = _ => "auto",
        };

        public void AddTo(Command command)
        {
            Dataset.AcceptOnlyFromAmong([.. DatasetSelection.Names]);
            Channels.AcceptOnlyFromAmong("1", "3");
            Validation.AcceptOnlyFromAmong("auto", "classes", "images", "none");
            Architecture.AcceptOnlyFromAmong([.. NetworkFactory.Architectures]);
            LrSchedule.AcceptOnlyFromAmong([.. Enum.GetValues<LearningRateSchedule>().Select(Kebab)]);
            Miner.AcceptOnlyFromAmong([.. Enum.GetValues<TripletMiningStrategy>().Select(Kebab)]);
            Distance.AcceptOnlyFromAmong([.. Enum.GetValues<TripletDistance>().Select(Kebab)]);
            Augment.AcceptOnlyFromAmong("auto", "photo", "shift-flip", "none");
            BnMode.AcceptOnlyFromAmong("auto", "train", "eval");
            Option[] all =
            [
                Dataset, Data, TrainDir, TestDir, Size, Channels, Limit, ValidationLimit,
                Architecture, Dimension, Epochs, ClassesPerBatch, SamplesPerClass, LearningRate, LrStep, LrDecay, LrSchedule, WeightDecay,
                Miner, Distance, Margin, SoftMargin, NoFlip, Shift, Seed, Threads, EvalEvery, Checkpoint, CheckpointDir, Resume,
                Batch, TimeBudget, Output, Json, Augment, Pretrained, FreezeBackbone, NoFeatureCache, UnfreezeStages, BnMode, Validation, EarlyStopping, CollapseSpread, InstanceWeight, InstanceTemperature,
                EmbeddingLayers,
            ];
            foreach (Option option in all)
            {
                command.Options.Add(option);
            }
        }

        /// <summary>The recipe the flags describe (a resumed run keeps its architecture, augmentation and fine-tuning: the checkpoint's options win).</summary>
        public TrainingOptions Recipe(ParseResult parse, CheckpointInfo? resumed, int? inferredSide, out int side)
        {
            string dataset = parse.GetValue(Dataset)!;
            string arch = resumed?.Spec.Architecture ?? parse.GetValue(Architecture)!;
            side = resumed?.Spec.Height ?? parse.GetValue(Size) ?? inferredSide ?? (dataset == DatasetSelection.Oxford102Name ? 224 : 64);
            string augmentation = parse.GetValue(Augment) is "auto" ? (dataset == DatasetSelection.Oxford102Name ? "photo" : "shift-flip") : parse.GetValue(Augment)!;
            if (augmentation == "photo" && dataset == DatasetSelection.FashionMnistName && parse.GetValue(TrainDir) is null)
            {
                throw new ArgumentException("--augment photo crops photographs stored larger than --size; use it with --dataset oxford102 or --dataset folder.");
            }
            // A folder from scratch takes the recipe that generalises to unseen classes (docs/training.md) where the flag is not given.
            bool folder = resumed is null && parse.GetValue(TrainDir) is not null && arch != NetworkFactory.ResNet18;
            T Pick<T>(Option<T> option, T folderDefault) =>
                folder && parse.GetResult(option) is not { Implicit: false } ? folderDefault : parse.GetValue(option)!;
            string[]? layers = resumed is not null ? resumed.Spec.EmbeddingLayers : ParseLayers(Pick(EmbeddingLayers, FolderTrainingSetup.FolderEmbeddingLayers(arch)));
            var options = new TrainingOptions
            {
                Architecture = arch,
                EmbeddingDimension = Pick(Dimension, FolderTrainingSetup.FolderRecipe.EmbeddingDimension),
                EmbeddingLayers = layers,
                TimeBudgetSeconds = parse.GetValue(TimeBudget),
                Epochs = parse.GetValue(Epochs),
                ClassesPerBatch = parse.GetValue(ClassesPerBatch),
                SamplesPerClass = parse.GetValue(Batch) is int b ? Math.Max(2, b / parse.GetValue(ClassesPerBatch)) : parse.GetValue(SamplesPerClass),
                LearningRate = Pick(LearningRate, FolderTrainingSetup.FolderLearningRate(layers is not null)),
                LearningRateStepEpochs = parse.GetValue(LrStep),
                LearningRateDecay = parse.GetValue(LrDecay),
                Schedule = Enum.Parse<LearningRateSchedule>(parse.GetValue(LrSchedule)!, ignoreCase: true),
                WeightDecay = parse.GetValue(WeightDecay),
                Miner = Enum.Parse<TripletMiningStrategy>(parse.GetValue(Miner)!.Replace("-", "", StringComparison.Ordinal), ignoreCase: true),
                Distance = Enum.Parse<TripletDistance>(parse.GetValue(Distance)!, ignoreCase: true),
                Margin = parse.GetValue(Margin),
                SoftMargin = parse.GetValue(SoftMargin),
                Augmentation = augmentation == "none" ? AugmentationOptions.None : new AugmentationOptions { HorizontalFlip = !parse.GetValue(NoFlip), MaxShift = parse.GetValue(Shift) },
                PhotoAugmentation = resumed is not null ? resumed.Options?.PhotoAugmentation : augmentation == "photo" ? new PhotoAugmentationOptions { OutputSize = side } : null,
                FineTuning = resumed is not null ? resumed.Options?.FineTuning : FineTuning(parse, arch, dataset),
                Seed = parse.GetValue(Seed),
                Threads = parse.GetValue(Threads),
                EvaluateEvery = parse.GetValue(EvalEvery),
                EarlyStoppingPatience = parse.GetValue(EarlyStopping),
                CollapseSpread = Pick(CollapseSpread, FolderTrainingSetup.FolderRecipe.CollapseSpread),
                InstanceLossWeight = Pick(InstanceWeight, FolderTrainingSetup.FolderRecipe.InstanceLossWeight),
                InstanceTemperature = Pick(InstanceTemperature, FolderTrainingSetup.FolderRecipe.InstanceTemperature),
                CheckpointPath = CheckpointPath(parse, arch, dataset),
                ResumeFrom = parse.GetValue(Resume),
                CacheFrozenFeatures = !parse.GetValue(NoFeatureCache),
            };
            options.Validate();
            return options;
        }

        // "head" (or nothing): the head's output; else comma-separated layer names.
        private static string[]? ParseLayers(string? value) =>
            value is null || value.Trim() is "" or "head" ? null
            : value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

        // --checkpoint; else checkpoint.ckpt in --checkpoint-dir; else beside --out; else a name in the working directory that says what it holds.
        private string CheckpointPath(ParseResult parse, string architecture, string dataset) =>
            parse.GetValue(Checkpoint)
            ?? (parse.GetValue(CheckpointDir) is { } dir ? Path.Combine(dir, "checkpoint.ckpt")
            : parse.GetValue(Output) is { } onnx ? Path.ChangeExtension(onnx, ".ckpt")
            : $"imgret-train-{architecture}-{dataset}.ckpt");

        // Transfer settings from the flags; null when none is used (a plain from-scratch run).
        private FineTuningOptions? FineTuning(ParseResult parse, string architecture, string dataset)
        {
            bool pretrained = parse.GetValue(Pretrained), freeze = parse.GetValue(FreezeBackbone);
            int? unfreezeStages = parse.GetValue(UnfreezeStages);
            string bnMode = parse.GetValue(BnMode)!;
            if (pretrained && architecture != NetworkFactory.ResNet18)
            {
                throw new ArgumentException($"--pretrained loads ImageNet ResNet-18 weights and needs --arch {NetworkFactory.ResNet18}; got --arch {architecture}.");
            }
            if (unfreezeStages is not null && architecture != NetworkFactory.ResNet18)
            {
                throw new ArgumentException($"--unfreeze-stages applies to --arch {NetworkFactory.ResNet18}; got --arch {architecture} (use --freeze-backbone).");
            }
            if (architecture == NetworkFactory.ResNet18 && dataset == DatasetSelection.FashionMnistName && parse.GetValue(TrainDir) is null)
            {
                throw new ArgumentException(
                    "resnet18 takes RGB images of at least 32x32; Fashion-MNIST is grey 28x28. Export it with 'imgret export-images' and train with --dataset folder --train-dir DIR --channels 3 --size 64.");
            }
            if (!pretrained && !freeze && unfreezeStages is null && bnMode == "auto")
            {
                return null;
            }
            bool frozen = freeze || unfreezeStages is not null;
            return new FineTuningOptions
            {
                PretrainedWeights = pretrained ? ResNet18Weights.RequirePackagedModel() : null,
                FreezeBackbone = freeze,
                UnfreezeStages = unfreezeStages,
                BatchNormMode = bnMode switch
                {
                    "train" => BatchNormMode.Train,
                    "eval" => BatchNormMode.Eval,
                    _ => frozen ? BatchNormMode.Eval : BatchNormMode.Train,
                },
            };
        }

        private static string Kebab<T>(T value) where T : struct, Enum =>
            string.Concat(value.ToString().Select((c, i) => i > 0 && char.IsUpper(c) ? "-" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));
    }
}
