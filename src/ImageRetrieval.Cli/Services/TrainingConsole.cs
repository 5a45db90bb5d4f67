using System.Globalization;
using ImageRetrieval.Cli.Output;
using ImageRetrieval.Datasets;
using ImageRetrieval.Training;
using Spectre.Console;

namespace ImageRetrieval.Cli.Services;

/// <summary>
/// Runs <see cref="TripletTrainer.Train"/> for <c>imgret train</c>: silently (<c>--json</c>) or with a progress bar per epoch
/// and a table of the finished epochs.
/// </summary>
internal static class TrainingConsole
{
    public static TrainingResult Train(LabeledImageSet train, LabeledImageSet? validation, TrainingOptions options, bool quiet, CancellationToken cancellationToken)
    {
        if (quiet)
        {
            return TripletTrainer.Train(train, validation, options, null, cancellationToken);
        }
        Describe(train, validation, options);
        var table = new Table().AddColumns("epoch", "loss", "triplets/batch", "active", "lr", "img/s", "P@1", "R@10", "MAP@R");
        TrainingResult? result = null;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                ProgressTask? task = null;
                var progress = new SynchronousProgress<TrainingProgress>(report =>
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
                            s.Epoch.ToString(CultureInfo.InvariantCulture), $"{s.Loss:F4}", $"{s.TripletsPerBatch:F0}", $"{s.ActiveTripletFraction:P0}", $"{s.LearningRate:G3}", $"{s.ImagesPerSecond:F0}",
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

    private static void Describe(LabeledImageSet train, LabeledImageSet? validation, TrainingOptions options)
    {
        AnsiConsole.MarkupLineInterpolated($"Training [bold]{options.Architecture}[/] ({options.EmbeddingDimension}-d) on {train.Name} ({train.Count} images), validating on {validation?.Name ?? "nothing"}; checkpoint {options.CheckpointPath}.");
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
