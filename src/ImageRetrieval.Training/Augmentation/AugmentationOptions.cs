namespace ImageRetrieval.Training.Augmentation;

/// <summary>Random, label-preserving changes applied to training images as batches are assembled.</summary>
public sealed record AugmentationOptions
{
    /// <summary>No augmentation.</summary>
    public static AugmentationOptions None { get; } = new() { HorizontalFlip = false, MaxShift = 0 };

    /// <summary>Mirror each image left–right with probability ½.</summary>
    public bool HorizontalFlip { get; init; } = true;

    /// <summary>Translate each image by up to this many pixels in x and y (uncovered pixels are 0).</summary>
    public int MaxShift { get; init; } = 2;

    /// <summary>Whether any augmentation is on.</summary>
    public bool Enabled => HorizontalFlip || MaxShift > 0;
}
