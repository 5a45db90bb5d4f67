using System.CommandLine;
using ImageRetrieval.ML.Datasets;
using ImageRetrieval.ML.Imaging;
using ImageRetrieval.Training.Augmentation;
using ImageRetrieval.Training.Checkpoints;
using ImageRetrieval.Training.Mining;
using ImageRetrieval.Training.Networks;
using ImageRetrieval.Training.Training;
using Spectre.Console;

namespace ImageRetrieval.Cli.Commands;

/// <summary><c>imgret train</c>: triplet-loss training of an embedding network, with a resumable checkpoint per epoch.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var defaults = new TrainingOptions();
        var dataset = new Option<string>("--dataset")
        {
            Description = "fashion-mnist; folder (then --train-dir is required); or oxford102 (Oxford 102 Flowers in --data: trains on the train split trnid, validates with the validation split valid as queries against the train split as gallery).",
            DefaultValueFactory = _ => "fashion-mnist",
        };
        dataset.AcceptOnlyFromAmong("fashion-mnist", "folder", "oxford102");
        var data = new Option<string?>("--data") { Description = $"Fashion-MNIST folder (default: ${FashionMnist.DataEnvironmentVariable}, then {FashionMnist.DebianDirectory}), or with --dataset oxford102 the Oxford 102 Flowers folder (jpg/, imagelabels.mat, setid.mat; default: ${FashionMnist.DataEnvironmentVariable})." };
        var trainDir = new Option<string?>("--train-dir", "--train") { Description = "Training images, one sub-folder per class." };
        var testDir = new Option<string?>("--test-dir", "--test") { Description = "Validation images labelled like --train-dir (optional)." };
        var size = new Option<int?>("--size") { Description = "Network input side in pixels for folder and oxford102 images (default: 64 for folder, 224 for oxford102)." };
        var channels = new Option<int>("--channels") { Description = "1 (grey) or 3 (RGB) for folder images.", DefaultValueFactory = _ => 3 };
        channels.AcceptOnlyFromAmong("1", "3");
        var limit = new Option<int>("--limit") { Description = "Train on the first N images only.", DefaultValueFactory = _ => int.MaxValue };
        var validationLimit = new Option<int>("--validation-limit") { Description = "Validate with the first N test images only.", DefaultValueFactory = _ => int.MaxValue };

        var architecture = new Option<string>("--arch") { Description = "Network architecture.", DefaultValueFactory = _ => defaults.Architecture };
        architecture.AcceptOnlyFromAmong([.. NetworkFactory.Architectures]);
        var dimension = new Option<int>("--embedding-dim", "--dim") { Description = "Embedding dimension.", DefaultValueFactory = _ => defaults.EmbeddingDimension };
        var epochs = new Option<int>("--epochs") { Description = "Epochs (in total, when resuming).", DefaultValueFactory = _ => defaults.Epochs };
        var classesPerBatch = new Option<int>("--classes-per-batch", "--p", "-p") { Description = "P: classes per batch.", DefaultValueFactory = _ => defaults.ClassesPerBatch };
        var samplesPerClass = new Option<int>("--samples-per-class", "--k", "-k") { Description = "K: images per class per batch.", DefaultValueFactory = _ => defaults.SamplesPerClass };
        var learningRate = new Option<double>("--lr") { Description = "Adam learning rate.", DefaultValueFactory = _ => defaults.LearningRate };
        var lrStep = new Option<int>("--lr-step") { Description = "Decay the learning rate every N epochs (0: never).", DefaultValueFactory = _ => defaults.LearningRateStepEpochs };
        var lrDecay = new Option<double>("--lr-decay") { Description = "Learning-rate decay factor.", DefaultValueFactory = _ => defaults.LearningRateDecay };
        var lrSchedule = new Option<string>("--lr-schedule") { Description = "step (--lr-step/--lr-decay) or cosine (per batch, to 1 % of --lr at the last epoch or the end of --time-budget, whichever is sooner).", DefaultValueFactory = _ => Kebab(defaults.Schedule) };
        lrSchedule.AcceptOnlyFromAmong([.. Enum.GetValues<LearningRateSchedule>().Select(Kebab)]);
        var weightDecay = new Option<double>("--weight-decay") { Description = "Adam weight decay.", DefaultValueFactory = _ => defaults.WeightDecay };
        var miner = new Option<string>("--miner") { Description = "Triplet mining.", DefaultValueFactory = _ => Kebab(defaults.Miner) };
        miner.AcceptOnlyFromAmong([.. Enum.GetValues<TripletMiningStrategy>().Select(Kebab)]);
        var distance = new Option<string>("--distance") { Description = "Distance mined and penalised.", DefaultValueFactory = _ => Kebab(defaults.Distance) };
        distance.AcceptOnlyFromAmong([.. Enum.GetValues<TripletDistance>().Select(Kebab)]);
        var margin = new Option<float>("--margin") { Description = "Triplet margin.", DefaultValueFactory = _ => defaults.Margin };
        var softMargin = new Option<bool>("--soft-margin") { Description = "Soft-plus loss instead of the hinge." };
        var noFlip = new Option<bool>("--no-flip") { Description = "No random horizontal flips." };
        var shift = new Option<int>("--shift") { Description = "Random translation of up to N pixels (0: none).", DefaultValueFactory = _ => defaults.Augmentation.MaxShift };
        var seed = new Option<int>("--seed") { Description = "Random seed.", DefaultValueFactory = _ => defaults.Seed };
        var threads = new Option<int>("--threads") { Description = "libtorch threads (0: libtorch's default).", DefaultValueFactory = _ => 0 };
        var evalEvery = new Option<int>("--eval-every") { Description = "Evaluate every N epochs (0: only at the end).", DefaultValueFactory = _ => defaults.EvaluateEvery };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "Checkpoint written after every epoch (default: checkpoint.ckpt in --checkpoint-dir, else models/checkpoint.ckpt)." };
        var checkpointDir = new Option<string?>("--checkpoint-dir") { Description = "Folder for the checkpoint (checkpoint.ckpt)." };
        var batch = new Option<int?>("--batch") { Description = "Images per batch, B = P × K (sets K = B / P)." };
        var timeBudget = new Option<double?>("--time-budget") { Description = "Stop after this many seconds of training, evaluation and checkpoints not counted (the epoch in progress is closed, evaluated and checkpointed)." };
        var output = new Option<string?>("--out") { Description = "Also export the trained network to this ONNX file (verified against ONNX Runtime)." };
        var resume = new Option<string?>("--resume") { Description = "Continue the run stored in this checkpoint." };
        var json = new Option<bool>("--json") { Description = "Print the final summary as one JSON line." };
        var augment = new Option<string>("--augment")
        {
            Description = "photo: random resized crop + flip + colour jitter (training images stored at size x 256/224); shift-flip: --shift and flips; none; auto: photo for oxford102, shift-flip otherwise.",
            DefaultValueFactory = _ => "auto",
        };
        augment.AcceptOnlyFromAmong("auto", "photo", "shift-flip", "none");
        var pretrained = new Option<bool>("--pretrained") { Description = $"Start --arch resnet18 from ImageNet weights ({ResNet18Weights.PackageId} {ResNet18Weights.PackageVersion}, found in the NuGet cache); the input is then normalised with ImageNet's channel means." };
        var freezeBackbone = new Option<bool>("--freeze-backbone") { Description = "Train only the embedding head." };
        var unfreezeStages = new Option<int?>("--unfreeze-stages") { Description = "resnet18: train the head and the last N residual stages (0-4), freeze the rest." };
        var bnMode = new Option<string>("--bn-mode")
        {
            Description = "Batch norm while training: train (batch statistics, running statistics updated) or eval (stored statistics kept); auto: eval when layers are frozen, else train.",
            DefaultValueFactory = _ => "auto",
        };
        bnMode.AcceptOnlyFromAmong("auto", "train", "eval");

        var command = new Command("train", "Train a siamese embedding network with triplet loss (TorchSharp, CPU).")
        {
            dataset, data, trainDir, testDir, size, channels, limit, validationLimit,
            architecture, dimension, epochs, classesPerBatch, samplesPerClass, learningRate, lrStep, lrDecay, lrSchedule, weightDecay,
            miner, distance, margin, softMargin, noFlip, shift, seed, threads, evalEvery, checkpoint, checkpointDir, resume,
            batch, timeBudget, output, json, augment, pretrained, freezeBackbone, unfreezeStages, bnMode,
        };
        command.SetAction((parse, cancellationToken) => Task.FromResult(CliOutput.Run(() =>
        {
            string datasetName = parse.GetValue(dataset)!;
            string arch = parse.GetValue(architecture)!;
            string? resumePath = parse.GetValue(resume);
            var resumed = resumePath is null ? null : CheckpointFile.ReadInfo(resumePath);
            int side = resumed?.Spec.Height ?? parse.GetValue(size) ?? (datasetName == "oxford102" ? 224 : 64);
            string augmentation = parse.GetValue(augment) is "auto" ? (datasetName == "oxford102" ? "photo" : "shift-flip") : parse.GetValue(augment)!;
            if (augmentation == "photo" && datasetName == "fashion-mnist" && parse.GetValue(trainDir) is null)
            {
                throw new ArgumentException("--augment photo crops photographs stored larger than --size; use it with --dataset oxford102 or --dataset folder.");
            }
            // A resumed run keeps its augmentation: the checkpoint's options win (see TripletTrainer).
            PhotoAugmentationOptions? photo = resumed is not null ? resumed.Options?.PhotoAugmentation
                : augmentation == "photo" ? new PhotoAugmentationOptions { OutputSize = side } : null;
            FineTuningOptions? fineTuning = resumed is not null ? resumed.Options?.FineTuning
                : FineTuning(arch, datasetName, parse.GetValue(pretrained), parse.GetValue(freezeBackbone), parse.GetValue(unfreezeStages), parse.GetValue(bnMode)!);
            var options = new TrainingOptions
            {
                Architecture = resumed?.Spec.Architecture ?? arch,
                EmbeddingDimension = parse.GetValue(dimension),
                TimeBudgetSeconds = parse.GetValue(timeBudget),
                Epochs = parse.GetValue(epochs),
                ClassesPerBatch = parse.GetValue(classesPerBatch),
                SamplesPerClass = parse.GetValue(batch) is int b ? Math.Max(2, b / parse.GetValue(classesPerBatch)) : parse.GetValue(samplesPerClass),
                LearningRate = parse.GetValue(learningRate),
                LearningRateStepEpochs = parse.GetValue(lrStep),
                LearningRateDecay = parse.GetValue(lrDecay),
                Schedule = Enum.Parse<LearningRateSchedule>(parse.GetValue(lrSchedule)!, ignoreCase: true),
                WeightDecay = parse.GetValue(weightDecay),
                Miner = Enum.Parse<TripletMiningStrategy>(parse.GetValue(miner)!.Replace("-", "", StringComparison.Ordinal), ignoreCase: true),
                Distance = Enum.Parse<TripletDistance>(parse.GetValue(distance)!, ignoreCase: true),
                Margin = parse.GetValue(margin),
                SoftMargin = parse.GetValue(softMargin),
                Augmentation = augmentation == "none" ? AugmentationOptions.None : new AugmentationOptions { HorizontalFlip = !parse.GetValue(noFlip), MaxShift = parse.GetValue(shift) },
                PhotoAugmentation = photo,
                FineTuning = fineTuning,
                Seed = parse.GetValue(seed),
                Threads = parse.GetValue(threads),
                EvaluateEvery = parse.GetValue(evalEvery),
                CheckpointPath = parse.GetValue(checkpoint)
                    ?? (parse.GetValue(checkpointDir) is { } dir ? Path.Combine(dir, "checkpoint.ckpt") : Path.Combine("models", "checkpoint.ckpt")),
                ResumeFrom = resumePath,
            };
            options.Validate();
            bool quiet = parse.GetValue(json);

            LabeledImageSet train;
            LabeledImageSet? validation;
            int skipped = 0;
            string? trainFolder = parse.GetValue(trainDir);
            // Photo augmentation crops from images stored larger than the network input; validation images are stored at the input size.
            int trainSide = photo?.StorageSize() ?? side;
            if (datasetName == "folder" && trainFolder is null)
            {
                throw new ArgumentException("--dataset folder needs --train-dir DIR (one sub-folder per class) and optionally --test-dir DIR.");
            }
            if (datasetName == "oxford102")
            {
                string directory = Oxford102Flowers.ResolveDirectory(parse.GetValue(data));
                int decodeThreads = Math.Max(0, parse.GetValue(threads));
                var trainResult = Oxford102Flowers.Load(directory, Oxford102Split.Train, trainSide, 3, maxItems: parse.GetValue(limit), maxDegreeOfParallelism: decodeThreads);
                var validationResult = Oxford102Flowers.Load(directory, Oxford102Split.Validation, side, 3, maxItems: parse.GetValue(validationLimit), maxDegreeOfParallelism: decodeThreads);
                var messages = trainResult.Skipped.Concat(validationResult.Skipped).Select(f => $"{f.Path}: {f.Reason}").ToList();
                CliOutput.ReportSkipped(messages);
                skipped = messages.Count;
                train = trainResult.Images;
                validation = validationResult.Images;
            }
            else if (trainFolder is null)
            {
                train = FashionMnist.Load(FashionMnist.Split.Train, parse.GetValue(data), parse.GetValue(limit));
                validation = FashionMnist.Load(FashionMnist.Split.Test, parse.GetValue(data), parse.GetValue(validationLimit));
            }
            else
            {
                int folderChannels = resumed?.Spec.Channels ?? parse.GetValue(channels);
                var decode = new ImageDecodeOptions { Width = side, Height = side, Channels = folderChannels };
                var trainDecode = decode with { Width = trainSide, Height = trainSide };
                var trainResult = ImageFolderDataset.Load(trainFolder, trainDecode, cancellationToken: cancellationToken);
                string? testFolder = parse.GetValue(testDir);
                var testResult = testFolder is null ? null : ImageFolderDataset.Load(testFolder, decode, trainResult.Images.ClassNames, cancellationToken: cancellationToken);
                var messages = trainResult.Skipped.Concat(testResult?.Skipped ?? []).Select(f => f.Message).ToList();
                CliOutput.ReportSkipped(messages);
                skipped = messages.Count;
                train = trainResult.Images.Take(parse.GetValue(limit));
                validation = testResult?.Images.Take(parse.GetValue(validationLimit));
            }

            TrainingResult result;
            try
            {
                result = quiet
                    ? TripletTrainer.Train(train, validation, options, null, cancellationToken)
                    : TrainWithProgress(train, validation, options, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                AnsiConsole.MarkupLineInterpolated($"[yellow]Interrupted.[/] The checkpoint [green]{options.CheckpointPath}[/] holds the last (possibly partial) epoch; continue with --resume {options.CheckpointPath}.");
                return 130;
            }
            using var network = result.Network;
            EpochSummary last = result.Info.History[^1];
            var evaluated = result.Info.History.LastOrDefault(h => h.Validation is not null);
            var history = result.Info.History;
            double trainSeconds = history.Sum(h => h.Seconds);
            // Images per batch: P×K, or 3 per triplet for the classic random triplets.
            int batchSize = options.ClassesPerBatch * options.SamplesPerClass * (options.Miner == TripletMiningStrategy.Random ? 3 : 1);
            // Triplets the loss saw per second of training, over the whole run (all epochs of this process and before).
            double tripletsPerSecond = history.Sum(h => h.TripletsPerBatch * h.ImagesPerSecond * h.Seconds / batchSize) / Math.Max(1e-9, trainSeconds);
            double imagesPerSecond = history.Sum(h => h.ImagesPerSecond * h.Seconds) / Math.Max(1e-9, trainSeconds);

            string? onnxPath = parse.GetValue(output);
            float? parity = null;
            if (onnxPath is not null)
            {
                ExportCommand.Export(network, result.Info, onnxPath);
                parity = ExportCommand.Verify(network, onnxPath);
            }
            if (quiet)
            {
                CliOutput.WriteJson(new
                {
                    checkpoint = options.CheckpointPath,
                    model = onnxPath,
                    onnx_max_abs_diff = parity,
                    dataset = train.Name,
                    skipped_files = skipped,
                    architecture = network.Spec.Architecture,
                    pretrained = options.FineTuning?.PretrainedWeights is not null,
                    augmentation = options.PhotoAugmentation is null ? (options.Augmentation.Enabled ? "shift-flip" : "none") : "photo",
                    input_size = network.Spec.Height,
                    trainable_parameters = network.parameters().Where(p => p.requires_grad).Sum(p => p.numel()),
                    embedding_dimension = network.Spec.EmbeddingDimension,
                    miner = options.Miner.ToString(),
                    epochs = result.Info.Epoch,
                    loss = last.Loss,
                    train_seconds = trainSeconds,
                    images_per_second = imagesPerSecond,
                    triplets_per_second = tripletsPerSecond,
                    batch_assembly_fraction = history.Sum(h => h.BatchAssemblySeconds) / Math.Max(1e-9, trainSeconds),
                    runtime = ImageRetrieval.Training.Runtime.TorchRuntime.Initialize().Description,
                    images_per_cpu_second = history.Select(h => h.ImagesPerSecond * h.Seconds / h.CpuSeconds).Order().ElementAt(history.Count / 2),
                    query_count = evaluated?.Validation?.QueryCount,
                    p_at_1 = evaluated?.Validation?.PrecisionAt1,
                    recall_at_1 = evaluated?.Validation?.RecallAt1,
                    recall_at_5 = evaluated?.Validation?.RecallAt5,
                    recall_at_10 = evaluated?.Validation?.RecallAt10,
                    map_at_r = evaluated?.Validation?.MapAtR,
                });
            }
            else
            {
                AnsiConsole.MarkupLineInterpolated($"Checkpoint: [green]{options.CheckpointPath}[/] (epoch {result.Info.Epoch}); {trainSeconds:F0} s of training, {imagesPerSecond:F0} images/s, {tripletsPerSecond:F0} triplets/s.");
                if (onnxPath is not null)
                {
                    AnsiConsole.MarkupLineInterpolated($"ONNX model: [green]{onnxPath}[/] (max |TorchSharp − ONNX Runtime| = {parity:E2}).");
                }
            }
            return 0;
        })));
        return command;
    }

    private static TrainingResult TrainWithProgress(LabeledImageSet train, LabeledImageSet? validation, TrainingOptions options, CancellationToken cancellationToken)
    {
        AnsiConsole.MarkupLineInterpolated($"Training [bold]{options.Architecture}[/] ({options.EmbeddingDimension}-d) on {train.Name} ({train.Count} images), validating on {validation?.Name ?? "nothing"}.");
        if (options.FineTuning is { } f)
        {
            string layers = f.UnfreezeStages is { } n ? $"head + last {n} stage(s)" : f.FreezeBackbone ? "head only" : "all layers";
            AnsiConsole.MarkupLineInterpolated($"Initial weights: {(f.PretrainedWeights is null ? "random" : "ImageNet (" + f.PretrainedWeights + ")")}; training {layers}; batch norm in {f.BatchNormMode.ToString().ToLowerInvariant()} mode.");
        }
        if (options.PhotoAugmentation is { } p)
        {
            AnsiConsole.MarkupLineInterpolated($"Photo augmentation: random resized crops of {train.Height}x{train.Width} images to {p.OutputSize}x{p.OutputSize}, flips, colour jitter.");
        }
        var table = new Table().AddColumns("epoch", "loss", "triplets/batch", "active", "lr", "img/s", "P@1", "R@10", "MAP@R");
        TrainingResult? result = null;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                ProgressTask? task = null;
                var progress = new InlineProgress(report =>
                {
                    if (task is null || report.Phase == TrainingPhase.Training && report.Batch <= 10 && task.IsFinished)
                    {
                        task = context.AddTask($"epoch {report.Epoch}/{report.Epochs}", maxValue: report.BatchesPerEpoch);
                    }
                    task.Description = report.Phase == TrainingPhase.Evaluating
                        ? $"epoch {report.Epoch}/{report.Epochs} evaluating"
                        : $"epoch {report.Epoch}/{report.Epochs} loss {report.Loss:F4}";
                    task.Value = report.Batch;
                    if (report.Summary is { } s)
                    {
                        task.StopTask();
                        table.AddRow(
                            s.Epoch.ToString(System.Globalization.CultureInfo.InvariantCulture), $"{s.Loss:F4}", $"{s.TripletsPerBatch:F0}", $"{s.ActiveTripletFraction:P0}", $"{s.LearningRate:G3}", $"{s.ImagesPerSecond:F0}",
                            s.Validation is null ? "" : $"{s.Validation.PrecisionAt1:F4}",
                            s.Validation is null ? "" : $"{s.Validation.RecallAt10:F4}",
                            s.Validation is null ? "" : $"{s.Validation.MapAtR:F4}");
                    }
                });
                result = TripletTrainer.Train(train, validation, options, progress, cancellationToken);
            });
        AnsiConsole.Write(table);
        return result!;
    }

    // Transfer settings from the flags; null when none is used (a plain from-scratch run).
    private static FineTuningOptions? FineTuning(string architecture, string dataset, bool pretrained, bool freeze, int? unfreezeStages, string bnMode)
    {
        if (pretrained && architecture != NetworkFactory.ResNet18)
        {
            throw new ArgumentException(
                $"--pretrained loads ImageNet ResNet-18 weights and needs --arch {NetworkFactory.ResNet18}; got --arch {architecture}.");
        }
        if (unfreezeStages is not null && architecture != NetworkFactory.ResNet18)
        {
            throw new ArgumentException($"--unfreeze-stages applies to --arch {NetworkFactory.ResNet18}; got --arch {architecture} (use --freeze-backbone).");
        }
        if (architecture == NetworkFactory.ResNet18 && dataset == "fashion-mnist")
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

    private sealed class InlineProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
