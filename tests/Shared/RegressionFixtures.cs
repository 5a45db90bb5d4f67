namespace ImageRetrieval.Tests;

/// <summary>
/// The inputs under tests/fixtures/regressions/&lt;area&gt;/ that once made a reader throw an undocumented exception, hang
/// or over-allocate, and which test project replays each area through its reader (tests/fixtures/regressions/README.md).
/// </summary>
internal static class RegressionFixtures
{
    /// <summary>Areas replayed by ImageRetrieval.ML.Tests (the runtime package's readers).</summary>
    public static IReadOnlyList<string> RuntimeAreas { get; } = ["hnsw", "images"];

    /// <summary>Areas replayed by ImageRetrieval.Datasets.Tests.</summary>
    public static IReadOnlyList<string> DatasetAreas { get; } = ["idx-images", "idx-labels", "mat"];

    /// <summary>Folders with a dedicated test each (inputs that were slow, not wrong).</summary>
    public static IReadOnlyList<string> DedicatedFolders { get; } = ["known-slow-images"];

    /// <summary>The fixtures folder beside the test assembly.</summary>
    public static string Root => Path.Combine(AppContext.BaseDirectory, "fixtures", "regressions");

    /// <summary>Every area folder present (with at least one input).</summary>
    public static IReadOnlyList<string> Folders() =>
        Directory.GetDirectories(Root).Where(d => Directory.EnumerateFiles(d).Any()).Select(d => Path.GetFileName(d)!).Order(StringComparer.Ordinal).ToList();

    /// <summary>(area, file name) of every input of <paramref name="areas"/>.</summary>
    public static TheoryData<string, string> Cases(IEnumerable<string> areas)
    {
        var data = new TheoryData<string, string>();
        foreach (string area in areas.Where(a => Directory.Exists(Path.Combine(Root, a))))
        {
            foreach (string file in Directory.GetFiles(Path.Combine(Root, area)).Order(StringComparer.Ordinal))
            {
                data.Add(area, Path.GetFileName(file));
            }
        }
        return data;
    }
}
