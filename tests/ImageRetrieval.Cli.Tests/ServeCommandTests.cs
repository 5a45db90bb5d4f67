using Xunit.Abstractions;

namespace ImageRetrieval.Cli.Tests;

/// <summary>
/// <c>imgret serve</c>'s own arguments (the service itself is tested end to end in tests/ImageRetrieval.AspNetCore.Tests,
/// over the same ImageRetrieval.AspNetCore endpoints): conflicting or bad flags fail with a message before anything listens.
/// </summary>
[Collection(ImgretCollection.Name)]
public class ServeCommandTests(ITestOutputHelper log)
{
    [Fact]
    public void Bad_arguments_fail_with_a_message_before_listening()
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("key.txt"), "0123456789abcdef0123");
        File.WriteAllText(temp.File("short.txt"), "short");

        ImgretRun both = Imgret.Run(log, "serve", "--index", temp.Path, "--read-only", "--api-key-file", temp.File("key.txt"));
        Assert.Equal(1, both.ExitCode);
        Assert.Contains("exclude each other", both.Text, StringComparison.Ordinal);

        ImgretRun shortKey = Imgret.Run(log, "serve", "--index", temp.Path, "--api-key-file", temp.File("short.txt"));
        Assert.Equal(1, shortKey.ExitCode);
        Assert.Contains("at least 16 characters", shortKey.Text, StringComparison.Ordinal);

        ImgretRun noIndex = Imgret.Run(log, "serve", "--index", temp.File("nope"));
        Assert.Equal(1, noIndex.ExitCode);
        Assert.DoesNotContain("   at ", noIndex.Output + noIndex.Error, StringComparison.Ordinal);

        ImgretRun badLimit = Imgret.Run(log, "serve", "--index", temp.Path, "--max-concurrent", "0");
        Assert.Equal(1, badLimit.ExitCode);
        Assert.Contains("MaxConcurrentRequests", badLimit.Text, StringComparison.Ordinal);
    }
}
