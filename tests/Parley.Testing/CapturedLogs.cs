using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace Parley.Testing;

/// <summary>
/// One log entry as written: category, level, event id, the formatted message followed by the exception's text (what a
/// real log line would show), and the exception itself.
/// </summary>
public sealed record CapturedLog(string Category, LogLevel Level, EventId EventId, string Message, Exception? Exception);

/// <summary>
/// A logging provider that keeps every entry at or above <see cref="MinimumLevel"/>, for tests that assert what a server
/// logs (no stack traces for bad input, no secrets, no per-request library lines). Add it with <see cref="AddTo"/> in a
/// test server's configure hook.
/// </summary>
public sealed class CapturedLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<CapturedLog> _entries = new();

    /// <summary>Trace (everything) by default; Information to see what the shipped default level shows.</summary>
    public LogLevel MinimumLevel { get; init; } = LogLevel.Trace;

    public IReadOnlyCollection<CapturedLog> Entries => _entries;

    /// <summary>The entries that carry an exception (a stack trace in a real log).</summary>
    public IReadOnlyList<CapturedLog> WithExceptions => [.. _entries.Where(e => e.Exception is not null)];

    public Action<WebApplicationBuilder> AddTo => builder => builder.Logging.AddProvider(this);

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturedLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= owner.MinimumLevel && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                var message = formatter(state, exception) + (exception is null ? "" : " " + exception);
                owner._entries.Enqueue(new CapturedLog(category, logLevel, eventId, message, exception));
            }
        }
    }
}
