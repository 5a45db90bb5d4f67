using ImageRetrieval.ML.Datasets;

namespace ImageRetrieval.Training.Tests;

/// <summary>Small, fixed Fashion-MNIST subsets (read once) for training tests.</summary>
internal static class TrainingData
{
    private static readonly Lazy<LabeledImageSet> TrainSet = new(() => FashionMnist.Load(FashionMnist.Split.Train, maxItems: 2000));
    private static readonly Lazy<LabeledImageSet> TestSet = new(() => FashionMnist.Load(FashionMnist.Split.Test, maxItems: 500));

    public static LabeledImageSet Train => TrainSet.Value;

    public static LabeledImageSet Test => TestSet.Value;
}

/// <summary>A temporary directory deleted on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "imgret-training-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
