using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;

namespace ImageRetrieval.Cli.Commands;

/// <summary>Shared console conventions: human output through Spectre.Console, machine output as one JSON object on the last line.</summary>
internal static class CliOutput
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Prints one JSON object on one line (the last line of a <c>--json</c> run).</summary>
    public static void WriteJson<T>(T value) => Console.Out.WriteLine(JsonSerializer.Serialize(value, Json));

    /// <summary>Reports files left out because they could not be decoded: the first ten by path and reason, then the count.</summary>
    public static void ReportSkipped(IReadOnlyCollection<string> messages)
    {
        foreach (string message in messages.Take(10))
        {
            AnsiConsole.MarkupLineInterpolated($"[yellow]skipped:[/] {message}");
        }
        if (messages.Count > 0)
        {
            AnsiConsole.MarkupLineInterpolated($"[yellow]{messages.Count} undecodable or missing image file(s) left out.[/]");
        }
    }

    /// <summary>Runs a command body, turning expected failures (bad files, bad arguments) into a red one-line message and exit code 1.</summary>
    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is InvalidDataException or FileNotFoundException or DirectoryNotFoundException
                                      or ArgumentException or InvalidOperationException or NotSupportedException
                                      or UnauthorizedAccessException or IOException)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
            return 1;
        }
    }
}
