namespace ImageRetrieval.Tests;

/// <summary>Files of the repository the tests read in place (the bundled model and sample images), found above the test's output folder.</summary>
internal static class RepositoryFiles
{
    /// <summary>The shipped model (models/README.md).</summary>
    public static string BundledModel => Find(Path.Combine("models", "fashion-mnist-embed.onnx"));

    /// <summary>The bundled 3,000-image gallery, one folder per class.</summary>
    public static string SampleGallery => Find(Path.Combine("samples", "data", "gallery"));

    /// <summary>The ten bundled queries, one folder per class.</summary>
    public static string SampleQueries => Find(Path.Combine("samples", "data", "queries"));

    /// <summary>The file or folder at <paramref name="relative"/> from the repository root.</summary>
    /// <exception cref="FileNotFoundException">Not found above the test's output folder.</exception>
    public static string Find(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate) || Directory.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new FileNotFoundException($"'{relative}' was not found above the test's directory ({AppContext.BaseDirectory}).");
    }
}
