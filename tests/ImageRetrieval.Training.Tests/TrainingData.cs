using ImageRetrieval.Datasets;

namespace ImageRetrieval.Training.Tests;

/// <summary>Small, fixed Fashion-MNIST subsets (read once) for training tests.</summary>
internal static class TrainingData
{
    private static readonly Lazy<LabeledImageSet> TrainSet = new(() => FashionMnist.Load(FashionMnist.Split.Train, maxItems: 2000));
    private static readonly Lazy<LabeledImageSet> TestSet = new(() => FashionMnist.Load(FashionMnist.Split.Test, maxItems: 500));

    public static LabeledImageSet Train => TrainSet.Value;

    public static LabeledImageSet Test => TestSet.Value;
}
