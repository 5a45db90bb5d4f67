using Microsoft.Extensions.Logging;

namespace ImageRetrieval.Cli.Output;

/// <summary>The logger imgret hands to the libraries: warnings and errors, one line each, on standard error.</summary>
internal sealed class ConsoleLogger : ILogger
{
    public static ConsoleLogger Instance { get; } = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning && logLevel != LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            CliOutput.Error.WriteLine($"imgret: {logLevel.ToString().ToLowerInvariant()}: {formatter(state, exception)}");
        }
    }
}
