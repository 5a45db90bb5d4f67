using System.Runtime.CompilerServices;
using ImageRetrieval.ML.Models;

namespace ImageRetrieval.Tests;

/// <summary>
/// Pretrained models built by the tests go to a cache beside the test assembly (built once, reused by later runs),
/// not to the user's ~/.cache: set before any test runs, unless the environment already chose a folder.
/// </summary>
internal static class ModelCache
{
    public static string Directory { get; } = Path.Combine(AppContext.BaseDirectory, "model-cache");

#pragma warning disable CA2255 // a test assembly is not a library others load: initialising it is the point
    [ModuleInitializer]
    internal static void UseTestCache()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(PretrainedModels.CacheDirectoryEnvironmentVariable)))
        {
            Environment.SetEnvironmentVariable(PretrainedModels.CacheDirectoryEnvironmentVariable, Directory);
        }
    }
#pragma warning restore CA2255
}
