using System.Globalization;
using ImageRetrieval.Cli.Output;
using ImageRetrieval.Datasets;
using ImageRetrieval.Training;
using Spectre.Console;

namespace ImageRetrieval.Cli.Services;

/// <summary>
/// Runs <see cref="TripletTrainer"/> for <c>imgret train</c>: silently (<c>--json</c>) or with a progress bar per epoch
/// and a table of the finished epochs: beside the loss, the signals that tell learning from failure (share of all triplets
/// inside the margin and ranked the wrong way, mean distances within and between classes, the spread that shows a collapse).
/// </summary>
internal static class TrainingConsole
{
    public static TrainingResult Train(TrainingValidation check, TrainingOptions options, FolderInput? input, bool quiet, CancellationToken cancellationToken)
    {
        LabeledImageSet train = check.Train;
        if (quiet)
        {
            return TripletTrainer.Train(train, check.Queries, check.Gallery, options, null, cancellationToken);
        }
        Describe(train, check, options, input);
        var table = new Table().AddColumns("epoch", "loss", "active", "violating", "wrong order", "d+", "d−", "spread", "lr", "img/s", "P@1", "MAP@R");
        TrainingResult? result = null;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                ProgressTask? task = null;
                ProgressTask? caching = null;
                var progress = new SynchronousProgress<TrainingProgress>(report =>
                {
                    if (report.Phase == TrainingPhase.CachingFeatures)
                    {
                        // The frozen backbone's features, once per image, before the first epoch.
                        caching ??= context.AddTask("backbone features (once)", maxValue: report.BatchesPerEpoch);
                        caching.Value = report.Batch;
                        return;
                    }
                    caching?.StopTask();
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
                        TripletStatistics? t = s.Triplets;
                        table.AddRow(
                            s.Epoch.ToString(CultureInfo.InvariantCulture) + (s.StoppedEarly ? " (stop)" : ""), $"{s.Loss:F4}", $"{s.ActiveTripletFraction:P0}",
                            t is null ? "" : $"{t.ViolatingFraction:P1}", t is null ? "" : $"{t.WrongOrderFraction:P1}",
                            t is null ? "" : $"{t.MeanPositiveDistance:F3}", t is null ? "" : $"{t.MeanNegativeDistance:F3}", t is null ? "" : $"{t.Spread:F3}",
                            $"{s.LearningRate:G3}", $"{s.ImagesPerSecond:F0}",
                            s.Validation is null ? "" : $"{s.Validation.PrecisionAt1:F4}",
                            s.Validation is null ? "" : $"{s.Validation.MapAtR:F4}");
                    }
                });
                try
                {
                    result = TripletTrainer.Train(train, check.Queries, check.Gallery, options, progress, cancellationToken);
                }
                finally
                {
                    AnsiConsole.Write(table);
                }
            });
        if (result!.FrozenFeatures is { } frozen)
        {
            AnsiConsole.MarkupLineInterpolated($"Frozen backbone: its features were computed once for {frozen.Images} images ({frozen.Seconds:F1} s); only the head trained on them, un-augmented.");
        }
        if (result.Info.History.LastOrDefault()?.StoppedEarly == true)
        {
            AnsiConsole.MarkupLine("Validation MAP@R stopped improving: stopped early with the best epoch's weights.");
        }
        AnsiConsole.MarkupLine("[grey]violating: share of all triplets in a batch inside the margin; wrong order: negative closer than positive (0.5 = chance); d+ / d−: mean distance within / between classes; spread: 1 = spread over the sphere, 0 = collapsed.[/]");
        return result;
    }

    private static void Describe(LabeledImageSet train, TrainingValidation check, TrainingOptions options, FolderInput? input)
    {
        AnsiConsole.MarkupLineInterpolated($"Training [bold]{options.Architecture}[/] ({options.EmbeddingDimension}-d) on {train.Name} ({train.Count} images); checkpoint {options.CheckpointPath}.");
        if (input is not null)
        {
            AnsiConsole.MarkupLineInterpolated($"Input: {input.Side}x{input.Side}, {(input.Channels == 1 ? "grey" : "RGB")} ({input.Reason}).");
        }
        AnsiConsole.MarkupLineInterpolated($"Validation: {check.Description}.");
        AnsiConsole.MarkupLineInterpolated($"Recipe: {options.EmbeddingDimension}-d, {options.Miner} mining, margin {options.Margin}, lr {options.LearningRate:G3}, instance weight {options.InstanceLossWeight}{(options.InstanceTemperature > 0 ? $" (NT-Xent, temperature {options.InstanceTemperature})" : "")}; embedding: {(options.EmbeddingLayers is { Length: > 0 } embedded ? $"layers {string.Join(", ", embedded)} (the {options.EmbeddingDimension}-d head is trained as a projection head)" : "the head")}.");
        int classes = train.CountPerClass().Count(c => c > 0);
        if (options.Miner != Training.Mining.TripletMiningStrategy.Random && classes < options.ClassesPerBatch)
        {
            AnsiConsole.MarkupLineInterpolated($"{classes} classes to train on, fewer than P = {options.ClassesPerBatch}: every batch takes all {classes} classes x {options.SamplesPerClass} images.");
        }
        if (options.FineTuning is { } f)
        {
            string layers = f.UnfreezeStages is { } n ? $"head + last {n} stage(s)" : f.FreezeBackbone ? "head only" : "all layers";
            AnsiConsole.MarkupLineInterpolated($"Initial weights: {(f.PretrainedWeights is null ? "random" : "ImageNet (" + f.PretrainedWeights + ")")}; training {layers}; batch norm in {f.BatchNormMode.ToString().ToLowerInvariant()} mode.");
        }
        if (options.PhotoAugmentation is { } p)
        {
            AnsiConsole.MarkupLineInterpolated($"Photo augmentation: random resized crops of {train.Height}x{train.Width} images to {p.OutputSize}x{p.OutputSize}, flips, colour jitter.");
        }
    }
}
