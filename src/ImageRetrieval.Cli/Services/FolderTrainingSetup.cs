using System.Globalization;
using ImageRetrieval.Datasets;
using ImageRetrieval.Training;
using ImageRetrieval.Training.Networks;

namespace ImageRetrieval.Cli.Services;

/// <summary>The network input <c>imgret train</c> uses for a folder, and how it was chosen (printed at the start, in <c>--json</c>).</summary>
internal sealed record FolderInput(int Side, int Channels, string Reason);

/// <summary>What <c>imgret train</c> validates with: queries, the gallery they search (null: the training images) and how they were chosen.</summary>
internal sealed record TrainingValidation(LabeledImageSet Train, LabeledImageSet? Queries, LabeledImageSet? Gallery, string Kind, string Description);

/// <summary>
/// Training on a folder of one's own images: input size and channels inferred from the images unless given, and a validation
/// split carved from the training folder (held-out classes when there are enough) when no test folder is given.
/// </summary>
internal static class FolderTrainingSetup
{
    /// <summary>
    /// The folder recipe: what <c>imgret train --dataset folder</c> uses for a network trained from scratch where the flags
    /// are not given. Chosen on the unseen-class protocol (docs/training.md): a lower rate, a wider embedding and an NT-Xent
    /// instance term (temperature 0.1, weight 0.1) keep what classes never seen in training need; the Fashion-MNIST IDX
    /// default stays the 10-minute recipe.
    /// </summary>
    public static TrainingOptions FolderRecipe { get; } = new()
    {
        EmbeddingDimension = 128, LearningRate = 5e-4, InstanceLossWeight = 0.1, InstanceTemperature = 0.1, CollapseSpread = 0.05,
    };

    /// <summary>
    /// The layers a folder run from scratch embeds with unless <c>--embedding-layers</c> is given: for the classic network its
    /// pooled convolutional features (<c>pool2</c>, 64 × 4 × 4 at 28 px), which retrieve classes unseen in training better
    /// than the trained head (docs/training.md); null (the head) for other architectures, where it was not measured.
    /// </summary>
    public static string? FolderEmbeddingLayers(string architecture) => architecture == NetworkFactory.Classic ? "pool2" : null;

    /// <summary>
    /// The folder recipe's learning rate: 2e-3 (the IDX recipe's) when the embedding is taken from inner layers — the conv
    /// features then gain from learning faster (unseen MAP@R 0.434 against 0.409 at 5e-4 after 3 epochs) — else
    /// <see cref="FolderRecipe"/>'s 5e-4, which keeps a head embedding from specialising in the training classes.
    /// </summary>
    public static double FolderLearningRate(bool embedsLayers) => embedsLayers ? LayerEmbeddingLearningRate : FolderRecipe.LearningRate;

    /// <summary>The learning rate of a folder run from scratch that embeds with inner layers (see <see cref="FolderLearningRate"/>).</summary>
    public const double LayerEmbeddingLearningRate = 2e-3;

    /// <summary>Largest inferred side for networks trained from scratch (bigger images are shrunk to it) and for ImageNet ResNet-18.</summary>
    public const int MaxScratchSide = 64, MaxPretrainedSide = 224;

    /// <summary>
    /// The input for <paramref name="trainDir"/>: <paramref name="size"/> / <paramref name="channels"/> when given, else the most
    /// common image size of a sample (at most <see cref="MaxScratchSide"/>, <see cref="MaxPretrainedSide"/> for resnet18; at least
    /// the architecture's minimum) and 1 channel when every sampled image is grey (resnet18 always takes 3).
    /// </summary>
    public static FolderInput InferInput(string trainDir, string architecture, int? size, int? channels)
    {
        bool resnet = architecture == NetworkFactory.ResNet18;
        if (size is { } s && (channels is not null || resnet))
        {
            return new FolderInput(s, channels ?? 3, "as given");
        }
        ImageFolderSummary summary = ImageFolderInspector.Inspect(trainDir);
        int side = size ?? summary.SuggestedSide(resnet ? MaxPretrainedSide : MaxScratchSide, resnet ? 32 : 16);
        int inferredChannels = channels ?? (resnet ? 3 : summary.SuggestedChannels);
        string seen = string.Create(CultureInfo.InvariantCulture,
            $"{summary.CommonSizeCount} of {summary.SampledCount} sampled images are {summary.CommonWidth}x{summary.CommonHeight}, {summary.GreyCount} grey");
        string sizeReason = size is not null ? "size as given" : side == Math.Min(summary.CommonWidth, summary.CommonHeight) ? "size of the images" : $"size capped at {side}";
        string channelReason = channels is not null ? "channels as given" : resnet ? "3 channels for resnet18" : summary.AllGrey ? "grey: every sampled image is grey" : "RGB: some images have colour";
        return new FolderInput(side, inferredChannels, $"{sizeReason}, {channelReason} ({seen}); override with --size / --channels");
    }

    /// <summary>
    /// The validation of a run: the test set when there is one; otherwise, for a folder, a split of the training images
    /// (<paramref name="mode"/> auto: held-out classes with 8 or more classes, else held-out images; none: no validation).
    /// </summary>
    public static TrainingValidation ChooseValidation(LabeledImageSet train, LabeledImageSet? test, bool isFolder, string mode, int seed)
    {
        if (test is not null)
        {
            return new TrainingValidation(train, test, null, "test", $"{test.Name} ({test.Count} images) against the training images");
        }
        if (!isFolder || mode == "none")
        {
            return new TrainingValidation(train, null, null, "none", "nothing");
        }
        var kind = mode switch
        {
            "classes" => ValidationSplitKind.HeldOutClasses,
            "images" => ValidationSplitKind.HeldOutImages,
            _ => ValidationSplitKind.Auto,
        };
        ValidationSplit split = ValidationSplit.Create(train, new ValidationSplitOptions { Kind = kind, Seed = seed });
        string description = split.Kind == ValidationSplitKind.HeldOutClasses
            ? string.Create(CultureInfo.InvariantCulture,
                $"{split.HeldOutClasses.Count} held-out classes never trained on ({string.Join(", ", split.HeldOutClasses)}): {split.Queries.Count} queries against {split.Gallery!.Count} other images of those classes")
            : string.Create(CultureInfo.InvariantCulture,
                $"{split.Queries.Count} held-out images of the training classes against the {split.Train.Count} training images (too few classes to hold some out; pass --test-dir for unseen classes)");
        return new TrainingValidation(split.Train, split.Queries, split.Gallery, split.Kind == ValidationSplitKind.HeldOutClasses ? "held-out-classes" : "held-out-images", description);
    }
}
