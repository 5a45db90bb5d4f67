using ImageRetrieval.ML.Imaging;
using Xunit.Abstractions;

namespace ImageRetrieval.ML.Tests.Reliability;

/// <summary>
/// The regression inputs under tests/fixtures/regressions/: every folder is replayed by some test project and documented
/// in the README there, and the runtime package's areas (<see cref="RegressionFixtures.RuntimeAreas"/>) are replayed here.
/// </summary>
public class RegressionFixtureTests(ITestOutputHelper output)
{
    [Fact]
    public void Every_regression_input_is_replayed_and_documented()
    {
        var replayed = RegressionFixtures.RuntimeAreas.Concat(RegressionFixtures.DatasetAreas).Concat(RegressionFixtures.DedicatedFolders).ToHashSet();
        string readme = File.ReadAllText(Path.Combine(RegressionFixtures.Root, "README.md"));
        IReadOnlyList<string> folders = RegressionFixtures.Folders();
        Assert.NotEmpty(folders);
        foreach (string folder in folders)
        {
            Assert.True(replayed.Contains(folder), $"tests/fixtures/regressions/{folder}/ is not an area any test project replays");
            foreach (string file in Directory.GetFiles(Path.Combine(RegressionFixtures.Root, folder)))
            {
                Assert.True(readme.Contains($"{folder}/{Path.GetFileName(file)}", StringComparison.Ordinal), $"{folder}/{Path.GetFileName(file)} is not described in tests/fixtures/regressions/README.md");
            }
        }
    }

    [Fact]
    public async Task Runtime_regression_inputs_fail_cleanly()
    {
        foreach (var row in RegressionFixtures.Cases(RegressionFixtures.RuntimeAreas))
        {
            string area = (string)row[0], name = (string)row[1];
            byte[] input = File.ReadAllBytes(Path.Combine(RegressionFixtures.Root, area, name));
            Exception? error = await FuzzHarness.ReplayAsync(() => FuzzTests.Replay(area, input), $"{area}/{name}");
            output.WriteLine($"{area}/{name}: {(error is null ? "accepted" : error.GetType().Name)}");
            Assert.True(error is null || FuzzTests.AllowedFor(area).Any(t => t.IsInstanceOfType(error)), $"{area}/{name}: {error}");
        }
    }

    [Fact] // fixed: ImageDecoder refuses a GIF whose first frame is empty or outside its canvas before Skia decodes it
    public void Known_slow_gif_is_refused_before_it_is_decoded()
    {
        byte[] input = File.ReadAllBytes(Path.Combine(RegressionFixtures.Root, "known-slow-images", "gif-frame-5120x0-outside-canvas.bin"));
        var error = Assert.IsType<ImageDecodeException>(Record.Exception(() => FuzzTests.Replay("images", input)));
        // The refusal comes from the pre-check of the first image descriptor (no pixel is decoded), not from Skia's slow decode.
        Assert.Contains("first GIF frame", error.Reason, StringComparison.Ordinal);
    }
}
