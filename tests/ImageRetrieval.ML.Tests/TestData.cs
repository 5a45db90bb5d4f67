using ImageRetrieval.ML.Datasets;

namespace ImageRetrieval.ML.Tests;

/// <summary>Locations of real data used by the tests, and scratch folders that clean themselves up.</summary>
internal static class TestData
{
    /// <summary>The installed Fashion-MNIST folder (CI installs Debian's dataset-fashion-mnist).</summary>
    public static string FashionMnistDirectory => FashionMnist.ResolveDirectory();

    public static string FashionMnistFile(FashionMnist.Split split, bool images) =>
        Path.Combine(FashionMnistDirectory, FashionMnist.FileName(split, images));
}

/// <summary>A temporary directory deleted on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "imgret-tests-" + Guid.NewGuid().ToString("N"));
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
