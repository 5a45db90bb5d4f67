namespace ImageRetrieval.ML.Models;

/// <summary>
/// The embedding models this library offers by name, ready without training. Each is built on first use from files of
/// a NuGet package this package depends on, and cached (<see cref="CacheDirectory"/>).
/// </summary>
/// <example>
/// <code>
/// using var index = ImageSearchIndex.Create(PretrainedModels.ImageNetResNet18, "photos/");
/// string path = PretrainedModels.ResolvePath("imagenet-resnet18");   // or a path to any .onnx file
/// </code>
/// </example>
public static class PretrainedModels
{
    /// <summary>Environment variable that overrides <see cref="CacheDirectory"/>.</summary>
    public const string CacheDirectoryEnvironmentVariable = "IMAGERETRIEVAL_MODEL_CACHE";

    // Part of the cache path: a builder that writes a different model gets a new number, so a stale file is never reused.
    internal const int BuilderVersion = 1;

    /// <summary>
    /// ImageNet ResNet-18 features for colour photographs: <c>[N, 3, 224, 224]</c> R, G, B pixels 0–255 in (images are
    /// scaled so the shorter side is 224 and centre-cropped), 512-d L2-normalised global-average-pooled features out,
    /// cosine metric; the ImageNet mean image is subtracted inside the graph. Built from ML.NET's featurizer
    /// (<see cref="ResNet18FeaturizerPackage"/>, MIT) by editing its ONNX graph; only the batch dimension is dynamic.
    /// </summary>
    public static PretrainedModel ImageNetResNet18 { get; } = new(
        "imagenet-resnet18",
        $"ImageNet ResNet-18 (ML.NET's DnnImageFeaturizer, {ResNet18FeaturizerPackage.PackageId} {ResNet18FeaturizerPackage.PackageVersion}): " +
        "224x224 RGB, 512-d global-average-pooled features, L2-normalised, cosine.",
        "MIT (Microsoft.ML.DnnImageFeaturizer.ResNet18)",
        ImageNetResNet18Builder.Metadata,
        BuildImageNetResNet18);

    /// <summary>Every model offered by name.</summary>
    public static IReadOnlyList<PretrainedModel> All { get; } = [ImageNetResNet18];

    /// <summary>
    /// Where built models are cached: <c>$IMAGERETRIEVAL_MODEL_CACHE</c>, else <c>$XDG_CACHE_HOME/imageretrieval/models</c>,
    /// else <c>~/.cache/imageretrieval/models</c> (on Windows, the local application data folder).
    /// </summary>
    public static string CacheDirectory
    {
        get
        {
            string? configured = Environment.GetEnvironmentVariable(CacheDirectoryEnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(configured))
            {
                return Path.GetFullPath(configured);
            }
            string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            string root = !string.IsNullOrWhiteSpace(xdg) ? xdg
                : OperatingSystem.IsWindows() ? Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData)
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.GetFullPath(Path.Combine(root, "imageretrieval", "models"));
        }
    }

    /// <summary>The model called <paramref name="name"/> (case-insensitive; a trailing <c>.onnx</c> is ignored), or null.</summary>
    public static PretrainedModel? Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string key = name.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) ? name[..^".onnx".Length] : name;
        return All.FirstOrDefault(m => string.Equals(m.Name, key, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>
    /// A model argument as users write it: an existing file is returned as is; otherwise the name of a pretrained model
    /// is built (or taken from the cache) and its file returned.
    /// </summary>
    /// <param name="nameOrPath">A path to an <c>.onnx</c> file, or a name such as <c>imagenet-resnet18</c>.</param>
    /// <param name="cacheDirectory">Where pretrained models are cached; null for <see cref="CacheDirectory"/>.</param>
    /// <exception cref="FileNotFoundException">Neither a file nor a known name; the message lists the names.</exception>
    public static string ResolvePath(string nameOrPath, string? cacheDirectory = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(nameOrPath);
        if (File.Exists(nameOrPath))
        {
            return nameOrPath;
        }
        bool looksLikePath = nameOrPath.Contains(Path.DirectorySeparatorChar) || nameOrPath.Contains(Path.AltDirectorySeparatorChar);
        if (!looksLikePath && Find(nameOrPath) is { } model)
        {
            return model.GetModelPath(cacheDirectory);
        }
        throw new FileNotFoundException(
            $"Model '{nameOrPath}' is neither an existing file nor a pretrained model name (available: {string.Join(", ", All.Select(m => m.Name))}).", nameOrPath);
    }

    private static string BuildImageNetResNet18(string destination)
    {
        string network = ResNet18FeaturizerPackage.Require(ResNet18FeaturizerPackage.ModelPathInPackage);
        string preprocess = ResNet18FeaturizerPackage.Require(ResNet18FeaturizerPackage.PreprocessPathInPackage);
        OnnxSchema.WriteModel(ImageNetResNet18Builder.Build(network, preprocess), destination);
        return destination;
    }
}
