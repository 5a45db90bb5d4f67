namespace ImageRetrieval.ML.Models;

/// <summary>
/// ML.NET's ImageNet ResNet-18 featurizer, the NuGet package <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c> (MIT): a
/// CNTK-exported <c>ResNet18.onnx</c> and its preprocessing model <c>ResNetPreprocess.onnx</c>. This package depends on it,
/// so restoring an application puts the files in the NuGet cache; <see cref="PretrainedModels.ImageNetResNet18"/> is built
/// from them, and the training package imports their weights.
/// </summary>
public static class ResNet18FeaturizerPackage
{
    /// <summary>NuGet package id.</summary>
    public const string PackageId = "Microsoft.ML.DnnImageFeaturizer.ResNet18";

    /// <summary>The package version pinned in <c>Directory.Packages.props</c>.</summary>
    public const string PackageVersion = "0.23.1";

    /// <summary>Path of the network inside the package folder: input <c>Input247</c> [1, 3, 224, 224] (BGR minus the mean image), output <c>Pooling395_Output_0</c> [1, 512, 1, 1].</summary>
    public const string ModelPathInPackage = "tools/DnnImageModels/ResNet18Onnx/ResNet18.onnx";

    /// <summary>Path of the preprocessing model inside the package folder: R, G, B planes (0–255) → B, G, R minus a 224 × 224 mean image.</summary>
    public const string PreprocessPathInPackage = "tools/DnnImageModels/ResNetPrepOnnx/ResNetPreprocess.onnx";

    /// <summary>
    /// Finds a file of the package: next to the application (where the package's build step copies <c>DnnImageModels/</c>),
    /// under <c>$NUGET_PACKAGES</c>, or under <c>~/.nuget/packages</c>. Null when none exists.
    /// </summary>
    /// <param name="pathInPackage"><see cref="ModelPathInPackage"/>, <see cref="PreprocessPathInPackage"/> or another path below <c>tools/</c>.</param>
    public static string? Find(string pathInPackage) => CandidatePaths(pathInPackage).FirstOrDefault(File.Exists);

    /// <summary>Like <see cref="Find"/>, but a missing file is an error that names the package, its version and every path looked at.</summary>
    /// <exception cref="FileNotFoundException">No candidate path holds the file.</exception>
    public static string Require(string pathInPackage) =>
        Find(pathInPackage) ?? throw new FileNotFoundException(
            $"ML.NET's ImageNet ResNet-18 was not found: the NuGet package {PackageId} {PackageVersion} ships it as '{pathInPackage}'. " +
            $"Looked at: {string.Join(", ", CandidatePaths(pathInPackage))}. Restore the application (dotnet restore) or set NUGET_PACKAGES to the packages folder holding it.",
            Path.GetFileName(pathInPackage));

    private static IEnumerable<string> CandidatePaths(string pathInPackage)
    {
        ArgumentException.ThrowIfNullOrEmpty(pathInPackage);
        const string Tools = "tools/";
        var candidates = new List<string>();
        if (pathInPackage.StartsWith(Tools, StringComparison.Ordinal))
        {
            candidates.Add(Path.Combine(AppContext.BaseDirectory, pathInPackage[Tools.Length..]));
        }
        string? nugetRoot = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (!string.IsNullOrEmpty(nugetRoot))
        {
            candidates.Add(Path.Combine(nugetRoot, PackageId.ToLowerInvariant(), PackageVersion, pathInPackage));
        }
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (!string.IsNullOrEmpty(home))
        {
            candidates.Add(Path.Combine(home, ".nuget", "packages", PackageId.ToLowerInvariant(), PackageVersion, pathInPackage));
        }
        return candidates.Select(Path.GetFullPath);
    }
}
