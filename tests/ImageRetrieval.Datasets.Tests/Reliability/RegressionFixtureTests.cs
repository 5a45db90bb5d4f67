using Xunit.Abstractions;

namespace ImageRetrieval.Datasets.Tests.Reliability;

/// <summary>Replays the regression inputs of the dataset readers (<see cref="RegressionFixtures.DatasetAreas"/>) through those readers.</summary>
public class RegressionFixtureTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Dataset_regression_inputs_fail_cleanly()
    {
        var cases = RegressionFixtures.Cases(RegressionFixtures.DatasetAreas).Select(row => ((string)row[0], (string)row[1])).ToList();
        Assert.NotEmpty(cases);   // mat/ holds at least the zlib preset-dictionary input
        using var temp = new TempDirectory();
        foreach (var (area, name) in cases)
        {
            byte[] input = File.ReadAllBytes(Path.Combine(RegressionFixtures.Root, area, name));
            Exception? error = await FuzzHarness.ReplayAsync(() => FuzzTests.Replay(area, input, temp.File("input")), $"{area}/{name}");
            output.WriteLine($"{area}/{name}: {(error is null ? "accepted" : error.GetType().Name)}");
            Assert.True(error is null or InvalidDataException, $"{area}/{name}: {error}");
        }
    }
}
