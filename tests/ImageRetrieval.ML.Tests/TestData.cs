using ImageRetrieval.Datasets;

namespace ImageRetrieval.ML.Tests;

/// <summary>Locations of real data used by the tests, and scratch folders that clean themselves up.</summary>
internal static class TestData
{
    /// <summary>The installed Fashion-MNIST folder (CI installs Debian's dataset-fashion-mnist).</summary>
    public static string FashionMnistDirectory => FashionMnist.ResolveDirectory();

    public static string FashionMnistFile(FashionMnist.Split split, bool images) =>
        Path.Combine(FashionMnistDirectory, FashionMnist.FileName(split, images));
}
