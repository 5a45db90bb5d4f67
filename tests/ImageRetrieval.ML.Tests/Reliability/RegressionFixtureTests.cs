using System.Diagnostics;

namespace ImageRetrieval.ML.Tests.Reliability;

/// <summary>
/// Replays every input under tests/fixtures/regressions/&lt;area&gt;/ (inputs that once made a reader throw
/// an undocumented exception, hang or over-allocate) through the reader of that area.
/// </summary>
public class RegressionFixtureTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static string Root => Path.Combine(AppContext.BaseDirectory, "fixtures", "regressions");

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        if (Directory.Exists(Root))
        {
            foreach (string file in Directory.GetFiles(Root, "*", SearchOption.AllDirectories)
                .Where(f => !f.EndsWith(".md", StringComparison.Ordinal) && !Path.GetFileName(Path.GetDirectoryName(f)!)!.StartsWith("known-slow", StringComparison.Ordinal))
                .Order(StringComparer.Ordinal))
            {
                data.Add(Path.GetFileName(Path.GetDirectoryName(file)!)!, Path.GetFileName(file));
            }
        }
        return data;
    }

    [Fact]
    public void There_are_regression_fixtures() => Assert.NotEmpty(Cases());

    [Theory]
    [MemberData(nameof(Cases))]
    public void Regression_inputs_fail_cleanly(string area, string name)
    {
        byte[] input = File.ReadAllBytes(Path.Combine(Root, area, name));
        using var temp = new TempDirectory();
        var watch = Stopwatch.StartNew();
        var error = Record.Exception(() => FuzzTests.Replay(area, input, temp.File("input")));
        output.WriteLine($"{area}/{name}: {(error is null ? "accepted" : error.GetType().Name)} in {watch.Elapsed.TotalMilliseconds:F1} ms");
        Assert.True(error is null || FuzzTests.AllowedFor(area).Any(t => t.IsInstanceOfType(error)), $"{area}/{name}: {error}");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"{area}/{name} took {watch.Elapsed}");
    }

    [Fact] // fixed: ImageDecoder refuses a GIF whose first frame is empty or outside its canvas before Skia decodes it
    public void Known_slow_gif_decodes_within_a_second()
    {
        byte[] input = File.ReadAllBytes(Path.Combine(Root, "known-slow-images", "gif-frame-5120x0-outside-canvas.bin"));
        var watch = Stopwatch.StartNew();
        var error = Record.Exception(() => FuzzTests.Replay("images", input, "unused"));
        Assert.IsType<global::ImageRetrieval.ML.Imaging.ImageDecodeException>(error);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"took {watch.Elapsed}");
    }
}
