using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using ImageRetrieval.ML.Imaging;
using Spectre.Console;

namespace ImageRetrieval.Cli.Output;

/// <summary>
/// Console conventions of every command: human output through Spectre.Console, machine output as one JSON object on
/// the last line (<c>--json</c>), expected failures as one red line and exit code 1.
/// </summary>
internal static class CliOutput
{
    /// <summary>Where JSON and command-line parser output go (the console unless <see cref="Use"/> redirected them).</summary>
    public static TextWriter Out { get; private set; } = Console.Out;

    /// <summary>Where diagnostics go.</summary>
    public static TextWriter Error { get; private set; } = Console.Error;

    /// <summary>
    /// Sends every kind of output (JSON, Spectre.Console, parser messages) to <paramref name="output"/> and
    /// <paramref name="error"/> until disposed; null keeps the console. Used by tests that run commands in-process.
    /// </summary>
    public static IDisposable Use(TextWriter? output, TextWriter? error)
    {
        TextWriter previousOut = Out, previousError = Error;
        IAnsiConsole previousConsole = AnsiConsole.Console;
        Out = output ?? Console.Out;
        Error = error ?? Console.Error;
        if (output is not null)
        {
            AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings
            {
                Out = new AnsiConsoleOutput(output),
                Ansi = AnsiSupport.No,
                ColorSystem = ColorSystemSupport.NoColors,
                Interactive = InteractionSupport.No,
            });
        }
        return new Restore(() =>
        {
            Out = previousOut;
            Error = previousError;
            AnsiConsole.Console = previousConsole;
        });
    }

    /// <summary>Prints one JSON object on one line (the last line of a <c>--json</c> run), with its source-generated
    /// serializer from <see cref="CliJsonContext"/> (no reflection: trimming-safe).</summary>
    public static void WriteJson<T>(T value, JsonTypeInfo<T> type) => Out.WriteLine(JsonSerializer.Serialize(value, type));

    /// <summary>Reports images left out: the first <paramref name="shown"/> by path and reason, then the count.</summary>
    public static void ReportSkipped(IReadOnlyCollection<SkippedImage> skipped, int shown = 10)
    {
        foreach (SkippedImage image in skipped.Take(shown))
        {
            AnsiConsole.MarkupLineInterpolated($"[yellow]skipped:[/] {image.Path}: {image.Reason}");
        }
        if (skipped.Count > shown)
        {
            AnsiConsole.MarkupLineInterpolated($"[yellow]… and {skipped.Count - shown} more.[/]");
        }
        if (skipped.Count > 0)
        {
            AnsiConsole.MarkupLineInterpolated($"[yellow]{skipped.Count} undecodable or missing image file(s) left out.[/]");
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
                                      or UnauthorizedAccessException or IOException or FormatException)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
            return 1;
        }
    }

    private sealed class Restore(Action restore) : IDisposable
    {
        public void Dispose() => restore();
    }
}
