using Microsoft.Extensions.Logging;

namespace Parley.Server.Callbacks;

/// <summary>Callback log messages. Never logs the CallbackSecret, the Signature or event payloads.</summary>
internal static partial class CallbackLog
{
    [LoggerMessage(EventId = 4000, Level = LogLevel.Information, Message = "Callback dispatcher started ({Retries} retries on ZEGO's schedule, then slow retries until {RetryFor} after the event)")]
    public static partial void DispatcherStarted(ILogger logger, int retries, TimeSpan retryFor);

    [LoggerMessage(EventId = 4001, Level = LogLevel.Debug, Message = "Callback {Event} for app {AppId} (sequence {Sequence}) delivered on attempt {Attempt}")]
    public static partial void Delivered(ILogger logger, string @event, uint appId, long sequence, int attempt);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information,
        Message = "Callback {Event} for app {AppId} (sequence {Sequence}) failed on attempt {Attempt} ({Error}); retry in {DelaySeconds} s")]
    public static partial void RetryScheduled(ILogger logger, string @event, uint appId, long sequence, int attempt, string error, double delaySeconds);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning,
        Message = "Callback {Event} for app {AppId} (sequence {Sequence}) is dead after {Attempts} failed attempts; last error: {Error}")]
    public static partial void Dead(ILogger logger, string @event, uint appId, long sequence, int attempts, string error);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Debug, Message = "Callback {Event} for app {AppId} (sequence {Sequence}) skipped: {Reason}")]
    public static partial void Skipped(ILogger logger, string @event, uint appId, long sequence, string reason);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Error, Message = "Callback dispatch loop failed; retrying shortly")]
    public static partial void DispatchLoopFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Error, Message = "Delivering callback for app {AppId} (sequence {Sequence}) failed unexpectedly")]
    public static partial void DeliveryCrashed(ILogger logger, Exception exception, uint appId, long sequence);

    [LoggerMessage(EventId = 4007, Level = LogLevel.Debug, Message = "Removed {Count} completed callback rows past retention")]
    public static partial void Purged(ILogger logger, int count);

    [LoggerMessage(EventId = 4008, Level = LogLevel.Warning,
        Message = "Callback {Event} for app {AppId} (sequence {Sequence}) still fails after attempt {Attempt} ({Error}); retrying every {DelayMinutes} min or more until {Until:u}")]
    public static partial void SlowRetryStarted(ILogger logger, string @event, uint appId, long sequence, int attempt, string error, double delayMinutes, DateTimeOffset until);

    [LoggerMessage(EventId = 4009, Level = LogLevel.Debug,
        Message = "Callback {Event} for app {AppId} (sequence {Sequence}) failed on attempt {Attempt} ({Error}); retry in {DelayMinutes} min")]
    public static partial void SlowRetryScheduled(ILogger logger, string @event, uint appId, long sequence, int attempt, string error, double delayMinutes);

    [LoggerMessage(EventId = 4010, Level = LogLevel.Warning,
        Message = "Callback for app {AppId} (sequence {Sequence}): the claim ended before the attempt's outcome was stored; another dispatcher owns the row now")]
    public static partial void ClaimLost(ILogger logger, uint appId, long sequence);

    [LoggerMessage(EventId = 4011, Level = LogLevel.Information, Message = "{Count} dead callbacks of app {AppId} queued for redelivery")]
    public static partial void Redelivered(ILogger logger, uint appId, int count);
}
