namespace ImageRetrieval.Cli.Services;

/// <summary>The repository's bundled files (model, sample gallery and queries) found from wherever imgret runs.</summary>
internal static class RepositoryPaths
{
    /// <summary>The bundled model.</summary>
    public const string Model = "models/fashion-mnist-embed.onnx";

    /// <summary>The bundled gallery (3,000 Fashion-MNIST images, one folder per class).</summary>
    public const string Gallery = "samples/data/gallery";

    /// <summary>The bundled queries.</summary>
    public const string Queries = "samples/data/queries";

    /// <summary>Finds <paramref name="relative"/> below the current directory or the app folder, or one of their parents: lets `dotnet run` work from any folder of a clone.</summary>
    public static string? FindUpwards(string relative)
    {
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, relative);
                if (File.Exists(candidate) || Directory.Exists(candidate))
                {
                    return candidate;
                }
            }
        }
        return null;
    }

    /// <summary>Like <see cref="FindUpwards"/>, but not finding it is an error that says what to pass instead.</summary>
    /// <exception cref="FileNotFoundException">Nothing of that name above the current directory or the app folder.</exception>
    public static string Require(string relative, string option) =>
        FindUpwards(relative)
        ?? throw new FileNotFoundException($"'{relative}' not found above the current directory; run from a clone of the repository or pass {option}.");
}
