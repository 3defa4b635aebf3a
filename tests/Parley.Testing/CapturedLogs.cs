using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace Parley.Testing;

/// <summary>One log entry as written: category, level, formatted message and the exception (whose stack trace a log would show).</summary>
public sealed record CapturedLog(string Category, LogLevel Level, string Message, Exception? Exception);

/// <summary>
/// A logging provider that keeps every entry at or above the configured level, for tests that assert what a server
/// logs (no stack traces for bad input, no secrets). Add it with <see cref="AddTo"/> in a test server's configure hook.
/// </summary>
public sealed class CapturedLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<CapturedLog> _entries = new();

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

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._entries.Enqueue(new CapturedLog(category, logLevel, formatter(state, exception), exception));
    }
}
