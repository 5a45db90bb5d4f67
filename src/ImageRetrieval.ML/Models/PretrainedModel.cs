namespace ImageRetrieval.ML.Models;

/// <summary>
/// A ready-to-use embedding model that this library builds on first use from files restored with its NuGet packages
/// (nothing is downloaded at run time) and caches: see <see cref="PretrainedModels"/>. Pass it where a model is
/// expected (<c>ImageSearchIndex.Create</c>, <c>new ImageEmbedder(...)</c>, <c>mlContext.Transforms.EmbedImages</c>), or
/// ask for its file with <see cref="GetModelPath"/>.
/// </summary>
public sealed class PretrainedModel
{
    private readonly Func<string, string> _build;
    private readonly Lock _gate = new();

    internal PretrainedModel(string name, string description, string licence, EmbeddingModelMetadata metadata, Func<string, string> build)
    {
        Name = name;
        Description = description;
        Licence = licence;
        Metadata = metadata;
        _build = build;
    }

    /// <summary>The name that selects it, e.g. <c>imagenet-resnet18</c> (<c>imgret index --model imagenet-resnet18</c>).</summary>
    public string Name { get; }

    /// <summary>What it is and where its weights come from.</summary>
    public string Description { get; }

    /// <summary>The licence of the weights.</summary>
    public string Licence { get; }

    /// <summary>The <c>imageretrieval.*</c> metadata the built model carries (input geometry, dimension, metric).</summary>
    public EmbeddingModelMetadata Metadata { get; }

    /// <summary>The file name of the built model: <c>{Name}.onnx</c>.</summary>
    public string FileName => Name + ".onnx";

    /// <summary>
    /// The model file, built on first use into <paramref name="cacheDirectory"/> (default <see cref="PretrainedModels.CacheDirectory"/>)
    /// and reused afterwards. The file is written atomically (concurrent first uses, in one process or several, are safe)
    /// and its content is deterministic, so an index built with it reopens after the cache is rebuilt.
    /// </summary>
    /// <param name="cacheDirectory">Where the built model is kept; null for <see cref="PretrainedModels.CacheDirectory"/>.</param>
    /// <returns>The absolute path of the <c>.onnx</c> file.</returns>
    /// <exception cref="FileNotFoundException">The source files (restored NuGet packages) cannot be found.</exception>
    /// <exception cref="InvalidDataException">A source file is not what the builder expects.</exception>
    public string GetModelPath(string? cacheDirectory = null)
    {
        string path = Path.GetFullPath(Path.Combine(cacheDirectory ?? PretrainedModels.CacheDirectory, Name,
            "v" + PretrainedModels.BuilderVersion.ToString(System.Globalization.CultureInfo.InvariantCulture), FileName));
        if (File.Exists(path))
        {
            return path;
        }
        lock (_gate)
        {
            return File.Exists(path) ? path : _build(path);
        }
    }

    /// <inheritdoc />
    public override string ToString() => Name;
}
