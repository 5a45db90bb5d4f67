using System.Text.Json;
using Xunit.Abstractions;

namespace ImageRetrieval.Cli.Tests;

/// <summary>
/// The CLI tests share the console (Spectre.Console's and the parser's writers are redirected per run) and libtorch's
/// global state, so they run one at a time.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ImgretCollection
{
    public const string Name = "imgret";
}

/// <summary>One in-process <c>imgret</c> run: exit code, standard output and standard error.</summary>
internal sealed record ImgretRun(int ExitCode, string Output, string Error)
{
    /// <summary>The JSON object on the last line that starts with '{' (what <c>--json</c> prints last).</summary>
    public JsonElement Json
    {
        get
        {
            string line = Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Last(l => l.StartsWith('{'));
            return JsonDocument.Parse(line).RootElement.Clone();
        }
    }

    /// <summary>Everything printed, with runs of white space folded (Spectre wraps long lines).</summary>
    public string Text => System.Text.RegularExpressions.Regex.Replace(Output + Error, @"\s+", " ");
}

/// <summary>Runs <c>imgret</c> in-process through the same entry point as the tool (<see cref="CliApp.Run"/>).</summary>
internal static class Imgret
{
    public static ImgretRun Run(ITestOutputHelper log, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int code = CliApp.Run(args, output, error);
        var run = new ImgretRun(code, output.ToString(), error.ToString());
        log.WriteLine($"imgret {string.Join(' ', args)} → {code}\n{run.Output}{run.Error}");
        return run;
    }

    /// <summary>Runs and requires exit code 0.</summary>
    public static ImgretRun Succeed(ITestOutputHelper log, params string[] args)
    {
        ImgretRun run = Run(log, args);
        Assert.True(run.ExitCode == 0, $"imgret {string.Join(' ', args)} exited with {run.ExitCode}: {run.Output}{run.Error}");
        return run;
    }

    /// <summary>Every metric key of eval and train, each a fraction in 0–1.</summary>
    public static void AssertMetrics(JsonElement json)
    {
        foreach (string key in new[] { "p_at_1", "recall_at_1", "recall_at_5", "recall_at_10", "map_at_r" })
        {
            Assert.InRange(json.GetProperty(key).GetDouble(), 0, 1);
        }
    }
}
