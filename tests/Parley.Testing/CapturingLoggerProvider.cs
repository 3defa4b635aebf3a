using Microsoft.Extensions.Logging;

namespace Parley.Testing;

/// <summary>One log record as a provider received it.</summary>
public sealed record CapturedLog(string Category, LogLevel Level, EventId EventId, string Message);

/// <summary>Records every log line at or above <see cref="MinimumLevel"/> (Information: the shipped default).</summary>
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly Lock _gate = new();
    private readonly List<CapturedLog> _logs = [];

    public LogLevel MinimumLevel { get; init; } = LogLevel.Information;

    public IReadOnlyList<CapturedLog> Logs
    {
        get
        {
            lock (_gate)
            {
                return [.. _logs];
            }
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= owner.MinimumLevel && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            var message = formatter(state, exception) + (exception is null ? "" : " " + exception);
            lock (owner._gate)
            {
                owner._logs.Add(new CapturedLog(category, logLevel, eventId, message));
            }
        }
    }
}
